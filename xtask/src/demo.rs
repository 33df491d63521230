//! `cargo xtask demo`: builds the widget and the server, then runs the ingest server on
//! http://127.0.0.1:8080 (built-in demo site, no config file) and serves the demo site on
//! http://127.0.0.1:8081, a second origin as in real life. Ctrl-C stops both.

use std::process::{Child, Command};

use anyhow::Context;
use tower_http::services::ServeDir;

use crate::cmd::{cargo, exec, root};
use crate::widget;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run() -> anyhow::Result<()> {
    widget::build()?;
    let mut build = cargo();
    build.args(["build", "-p", "ingest", "--bin", "lodestone"]);
    exec(build)?;
    let ingest = KillOnDrop(
        Command::new(root().join("target/debug/lodestone"))
            .args(["serve", "--assets-dir"])
            .arg(widget::dist())
            .current_dir(root())
            .spawn()
            .context("start the lodestone server")?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(async {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:8081").await.context("listen on 127.0.0.1:8081")?;
        println!("\nLodestone demo");
        println!("  demo site      http://127.0.0.1:8081/  (the popup appears after 3 seconds)");
        println!(
            "  ingest server  http://127.0.0.1:8080/  (data in ./lodestone-data; admin token printed above)"
        );
        println!("  Ctrl-C stops both.\n");
        let site = axum::Router::new().fallback_service(ServeDir::new(root().join("demo-site")));
        axum::serve(listener, site)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })?;
    drop(ingest);
    Ok(())
}
