//! Project tasks, run as `cargo xtask <task>`: `test` (every check and test), `demo` (ingest
//! plus demo site), `build` (the widget), `bench` (throughput against a bare-axum ceiling).

mod bench;
mod cmd;
mod demo;
mod minify;
mod test;
mod wasm_opt;
mod widget;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Lodestone project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Formatting, clippy, the wasm build check, the widget build, and every test.
    Test,
    /// Build the widget into widget/dist and print its size report.
    Build,
    /// Run the demo: ingest server on 127.0.0.1:8080, demo site on 127.0.0.1:8081.
    Demo,
    /// Release build, then durable leads/s, events/s and a bare-axum ceiling, side by side.
    Bench(bench::BenchArgs),
}

/// A failed task (a budget missed, a test failed) is an answer, not a crash: its causes are
/// printed on one line each, without the backtrace `RUST_BACKTRACE` would add.
fn main() -> std::process::ExitCode {
    let done = match Cli::parse().task {
        Task::Test => test::run(),
        Task::Build => widget::build(),
        Task::Demo => demo::run(),
        Task::Bench(args) => bench::run(&args),
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
