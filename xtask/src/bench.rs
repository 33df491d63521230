//! `cargo xtask bench`: the release server and a bare-axum 204 ceiling on 127.0.0.1, loaded
//! side by side in one run by the same client, so the ratios hold on a shared, noisy machine.
//! Prints durable leads/s with p50/p99, events/s (batches of 20), each ratio to the ceiling,
//! and the server's peak RSS, then checks them against the budgets.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cmd::{cargo, exec, root};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Seconds each scenario is measured (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 20)]
    batch: usize,
}

const BUDGET_LEADS_RATIO: f64 = 0.30;
const BUDGET_LEADS_P99_MS: f64 = 25.0;
const BUDGET_EVENTS_RATIO: f64 = 0.30;
const BUDGET_RSS_MB: f64 = 200.0;

#[derive(Clone, Copy)]
enum Scenario {
    Ceiling,
    Leads,
    Events,
}

struct Measured {
    requests: u64,
    errors: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A child process killed when dropped, so a failed run leaves no server behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        // The load generator shares the machine with the servers: run it optimised, or it
        // takes the CPU the servers need and the ratios mean nothing.
        let mut release = cargo();
        release.args(["run", "--quiet", "--release", "-p", "xtask", "--", "bench"]);
        release.args([
            "--seconds",
            &args.seconds.to_string(),
            "--connections",
            &args.connections.to_string(),
        ]);
        release.args(["--batch", &args.batch.to_string()]);
        return exec(release);
    }
    let mut build = cargo();
    build.args(["build", "--release", "-p", "ingest", "--bin", "lodestone", "--example", "ceiling"]);
    exec(build)?;
    let release = root().join("target/release");

    let mut ceiling = Command::new(release.join("examples/ceiling"));
    ceiling.arg("127.0.0.1:0").stdout(Stdio::piped());
    let mut ceiling = Guard(ceiling.spawn().context("start the ceiling server")?);
    let mut line = String::new();
    BufReader::new(ceiling.0.stdout.take().context("ceiling stdout")?).read_line(&mut line)?;
    let ceiling_addr: SocketAddr = line.trim().parse().context("ceiling address")?;

    let data = root().join("target/bench-data");
    let _ = std::fs::remove_dir_all(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let server_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let server = Guard(
        Command::new(release.join("lodestone"))
            .args([
                "serve",
                "--rate-limit-per-minute",
                "0",
                "--listen",
                &server_addr.to_string(),
                "--data-dir",
            ])
            .arg(&data)
            .env("LODESTONE_ADMIN_TOKEN", "bench-admin-token-0123456789")
            .env("LODESTONE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start lodestone")?,
    );

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (ceiling_m, leads_m, events_m) = rt.block_on(async {
        wait_ready(server_addr).await?;
        let ceiling = load(ceiling_addr, Scenario::Ceiling, args).await?;
        let leads = load(server_addr, Scenario::Leads, args).await?;
        let commits = commit_figures(server_addr).await?;
        let events = load(server_addr, Scenario::Events, args).await?;
        println!("{commits}");
        anyhow::Ok((ceiling, leads, events))
    })?;
    let rss_mb = peak_rss_mb(server.0.id())?;
    drop(server);
    drop(ceiling);
    let _ = std::fs::remove_dir_all(&data);

    let leads_ratio = leads_m.per_second / ceiling_m.per_second;
    let events_ratio = events_m.per_second / ceiling_m.per_second;
    let events_per_s = events_m.per_second * args.batch as f64;
    println!(
        "\nLodestone benchmark: {} connections, {} s per scenario, all on 127.0.0.1",
        args.connections, args.seconds
    );
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>8} {:>7}",
        "scenario", "req/s", "p50 ms", "p99 ms", "ratio", "errors"
    );
    let row = |name: &str, m: &Measured, ratio: f64| {
        println!(
            "{name:<34} {:>10.0} {:>9.2} {:>9.2} {:>7.2}x {:>7}",
            m.per_second, m.p50_ms, m.p99_ms, ratio, m.errors
        );
    };
    row("ceiling: bare axum 204", &ceiling_m, 1.0);
    row("durable leads (201 after flush)", &leads_m, leads_ratio);
    row(&format!("event batches of {}", args.batch), &events_m, events_ratio);
    println!("events/s (batch x batches/s): {events_per_s:.0}");
    println!("durable leads stored: {}", leads_m.requests);
    println!("server peak RSS: {rss_mb:.1} MB");

    let checks = [
        (format!("durable leads >= {BUDGET_LEADS_RATIO}x ceiling"), leads_ratio >= BUDGET_LEADS_RATIO),
        (format!("durable leads p99 <= {BUDGET_LEADS_P99_MS} ms"), leads_m.p99_ms <= BUDGET_LEADS_P99_MS),
        (format!("event batches >= {BUDGET_EVENTS_RATIO}x ceiling"), events_ratio >= BUDGET_EVENTS_RATIO),
        (format!("peak RSS <= {BUDGET_RSS_MB} MB"), rss_mb <= BUDGET_RSS_MB),
        ("no failed requests".to_owned(), leads_m.errors + events_m.errors + ceiling_m.errors == 0),
    ];
    let mut failed = 0;
    for (what, ok) in &checks {
        println!("budget {:<34} {}", what, if *ok { "PASS" } else { "FAIL" });
        failed += usize::from(!ok);
    }
    if failed > 0 {
        bail!("{failed} budget(s) missed");
    }
    Ok(())
}

async fn wait_ready(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            bail!("lodestone did not start on {addr}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn request(
    addr: SocketAddr,
    scenario: Scenario,
    conn: usize,
    n: u64,
    events: &Bytes,
) -> Request<Full<Bytes>> {
    let builder = Request::builder()
        .header("host", addr.to_string())
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "http://127.0.0.1:8081");
    let (method, path, body) = match scenario {
        Scenario::Ceiling => (Method::GET, "/", Bytes::new()),
        Scenario::Leads => (
            Method::POST,
            "/v1/leads",
            Bytes::from(format!(
                r#"{{"site":"demo","campaign":"welcome","email":"bench{conn}-{n}@example.com","name":"Bench","submission_id":"bench-{conn}-{n:010}","consent":{{"granted":true,"text":"I agree to receive emails.","version":"1"}},"page_url":"http://127.0.0.1:8081/","signals":{{"visits":2,"page_views":3,"engaged_seconds":90,"max_scroll_percent":60,"paths":["/","/pricing"]}}}}"#
            )),
        ),
        Scenario::Events => (Method::POST, "/v1/events", events.clone()),
    };
    builder.method(method).uri(path).body(Full::new(body)).expect("valid request")
}

fn events_body(batch: usize) -> Bytes {
    let events: Vec<_> = (0..batch)
        .map(|i| {
            serde_json::json!({ "type": "pageview", "path": format!("/page-{}", i % 5), "referrer_host": "news.example", "new_visitor": i == 0, "new_session": i == 0 })
        })
        .collect();
    Bytes::from(serde_json::json!({ "site": "demo", "events": events }).to_string())
}

async fn load(addr: SocketAddr, scenario: Scenario, args: &BenchArgs) -> anyhow::Result<Measured> {
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + Duration::from_secs(args.seconds);
    let expected = match scenario {
        Scenario::Ceiling => StatusCode::NO_CONTENT,
        Scenario::Leads => StatusCode::CREATED,
        Scenario::Events => StatusCode::ACCEPTED,
    };
    let events = Arc::new(events_body(args.batch));
    let mut tasks = Vec::new();
    for conn in 0..args.connections {
        let events = events.clone();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("handshake")?;
            tokio::spawn(connection);
            let (mut latencies, mut errors) = (Vec::with_capacity(20_000), 0u64);
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let req = request(addr, scenario, conn, n, &events);
                n += 1;
                let resp = sender.send_request(req).await.context("request")?;
                let status = resp.status();
                resp.into_body().collect().await.context("body")?;
                if sent >= measure_from {
                    latencies.push(sent.elapsed().as_micros() as u32);
                    errors += u64::from(status != expected);
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0)
            as f64
            / 1000.0
    };
    Ok(Measured {
        requests: all.len() as u64,
        errors,
        per_second: all.len() as f64 / args.seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// Mean group-commit batch size and flush latency, read from the server's `/metrics`.
async fn commit_figures(addr: SocketAddr) -> anyhow::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let req = Request::get("/metrics").header("host", addr.to_string()).body(Full::new(Bytes::new()))?;
    let text = sender.send_request(req).await?.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&text);
    let value = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok()).unwrap_or(f64::NAN)
    };
    let commits = value("lodestone_commit_batch_size_count ");
    Ok(format!(
        "group commits: {commits:.0}, mean batch {:.1} leads, mean flush {:.2} ms",
        value("lodestone_commit_batch_size_sum ") / commits,
        value("lodestone_flush_seconds_sum ") / commits * 1e3
    ))
}

fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmHWM in /proc/PID/status")?;
    Ok(kb / 1024.0)
}
