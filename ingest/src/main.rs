//! The `lodestone` binary: parse settings, start logging, serve until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use ingest::settings::{Cli, Command};
use ingest::{App, logging, serve};

/// mimalloc: the server allocates per request, and glibc's malloc cost about a fifth of its CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let log = std::env::var("LODESTONE_LOG").ok();
    let filter = match logging::filter(log.as_deref()) {
        Ok(filter) => filter,
        Err(message) => {
            eprintln!("lodestone: {message}");
            return ExitCode::from(2);
        }
    };
    // Colours only on a terminal: journald and log files get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour).init();
    let Cli { command: Command::Serve(settings) } = Cli::parse_or_exit();
    // Room for as many connections as the system allows this process (see --max-connections).
    ingest::connection_limits::raise_file_limit();
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        // The causes, one per line: what an operator needs, without a backtrace even when
        // RUST_BACKTRACE is set.
        Err(e) => {
            eprintln!("lodestone: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  {}", cause.to_string().trim_end().replace('\n', "\n  "));
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: ingest::settings::ServeSettings) -> anyhow::Result<()> {
    // The port first: a server that cannot listen leaves no data directory behind.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let app = App::open(&settings).context("cannot start")?;
    if app.token_generated {
        eprintln!(
            "lodestone: no admin token configured; this run's token is {}\n  (set LODESTONE_ADMIN_TOKEN or admin_token in lodestone.toml to keep one)",
            app.admin_token()
        );
    }
    tracing::info!(address = %listener.local_addr()?, data_dir = %settings.data_dir.display(), "lodestone listening");
    serve(listener, app, shutdown_signal()).await?;
    tracing::info!("stopped; every acknowledged write is on disk");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: draining requests");
}
