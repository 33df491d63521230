//! The benchmark's ceiling: a bare axum handler answering 204 on the same runtime as the
//! server. `cargo xtask bench` measures it beside `lodestone` in one run.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{}", listener.local_addr()?);
    let app = Router::new().route("/", get(|| async { StatusCode::NO_CONTENT }));
    axum::serve(listener, app).await
}
