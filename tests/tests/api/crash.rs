//! The real `lodestone` binary as a child process: SIGKILL under concurrent load, restart on
//! the same data directory, and every acknowledged lead is there exactly once; SIGTERM drains.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lodestone_tests::{DEMO_ORIGIN, all_leads, client, lead_body, lodestone_binary, wait_until_healthy};
use reqwest::StatusCode;

const TOKEN: &str = "crash-test-admin-token-0123456789";
const WORKERS: usize = 8;
const CYCLES: usize = 10;

struct Server {
    child: Child,
    base: String,
}

/// A test that fails midway leaves no server running behind it.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(data_dir: &Path) -> Server {
    start_with(Command::new(lodestone_binary()), data_dir).await
}

/// Starts lodestone under a limit on the size of the files it writes (`ulimit -f`, in KiB), the
/// way a full disk stops its writes: they fail with an I/O error. (SIGXFSZ is ignored, as a
/// write past the limit would otherwise kill the process rather than fail.)
async fn start_with_file_limit(data_dir: &Path, kib: u32) -> Server {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\"")).arg(lodestone_binary());
    start_with(cmd, data_dir).await
}

async fn start_with(mut cmd: Command, data_dir: &Path) -> Server {
    let port = free_port();
    let child = cmd
        .args([
            "serve",
            "--rate-limit-per-minute",
            "0",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("LODESTONE_ADMIN_TOKEN", TOKEN)
        .env("LODESTONE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lodestone");
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&base).await;
    Server { child, base }
}

type Acked = Arc<Mutex<HashMap<String, String>>>;
/// The submission each worker is sending now, by worker.
type Sending = Arc<Mutex<HashMap<usize, String>>>;

/// Workers posting fresh leads (and first the retries of `pending`) until aborted; each notes
/// in `sending` the submission it has on the wire.
fn load(
    base: &str,
    cycle: usize,
    acked: &Acked,
    sending: &Sending,
    pending: Vec<String>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let pending = Arc::new(Mutex::new(pending));
    (0..WORKERS)
        .map(|w| {
            let (base, acked, pending, sending) =
                (base.to_owned(), acked.clone(), pending.clone(), sending.clone());
            tokio::spawn(async move {
                let http =
                    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
                for n in 0.. {
                    let retry = pending.lock().unwrap().pop();
                    let sub = retry.unwrap_or_else(|| format!("crash-c{cycle}-w{w}-{n:06}"));
                    let body = lead_body(&format!("{sub}@example.com"), &sub);
                    sending.lock().unwrap().insert(w, sub.clone());
                    let sent = http
                        .post(format!("{base}/v1/leads"))
                        .header("content-type", "text/plain")
                        .header("origin", DEMO_ORIGIN)
                        .body(body.to_string())
                        .send()
                        .await;
                    let Ok(resp) = sent else { return };
                    let status = resp.status();
                    if (status == StatusCode::CREATED || status == StatusCode::OK)
                        && let Ok(v) = resp.json::<serde_json::Value>().await
                    {
                        acked.lock().unwrap().insert(sub, v["id"].as_str().unwrap().to_owned());
                    }
                }
            })
        })
        .collect()
}

/// Waits (up to 30 s, for a slow machine) until more than `count` leads are acknowledged.
async fn until_acked(acked: &Acked, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() <= count {
        assert!(Instant::now() < deadline, "no lead acknowledged within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn assert_each_acked_lead_present_once(leads: &[serde_json::Value], acked: &HashMap<String, String>) {
    let mut by_submission: HashMap<&str, Vec<&str>> = HashMap::new();
    for lead in leads {
        by_submission
            .entry(lead["submission_id"].as_str().unwrap())
            .or_default()
            .push(lead["id"].as_str().unwrap());
    }
    for (sub, ids) in &by_submission {
        assert_eq!(ids.len(), 1, "submission {sub} stored {} times", ids.len());
    }
    for (sub, id) in acked {
        let stored =
            by_submission.get(sub.as_str()).unwrap_or_else(|| panic!("acknowledged lead {sub} lost"));
        assert_eq!(stored, &vec![id.as_str()], "acknowledged lead {sub} has another id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_lead_survives_sigkill_under_load_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let acked: Acked = Arc::default();
    let mut sent_not_acked: Vec<String> = Vec::new();
    let mut retried = 0;
    for cycle in 0..CYCLES {
        let mut server = start(dir.path()).await;
        let before: Vec<String> = acked.lock().unwrap().keys().cloned().collect();
        let sending = Sending::default();
        let workers = load(&server.base, cycle, &acked, &sending, std::mem::take(&mut sent_not_acked));
        // Under load (at least one lead acknowledged this cycle), then a kill at a varying moment.
        until_acked(&acked, before.len()).await;
        tokio::time::sleep(Duration::from_millis(50 + (cycle as u64 * 97) % 400)).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        for w in workers {
            w.abort();
            let _ = w.await;
        }
        let acked_now = acked.lock().unwrap();
        assert!(acked_now.len() > before.len(), "cycle {cycle} acknowledged nothing");
        // The lead each worker was sending when killed (maybe stored, never acknowledged) is
        // retried next cycle with the same submission id, as the widget's queue would.
        sent_not_acked =
            sending.lock().unwrap().values().filter(|s| !acked_now.contains_key(*s)).cloned().collect();
        retried += sent_not_acked.len();
    }
    assert!(retried > 0, "no lead was in flight at any kill: the retry path went untested");
    let server = start(dir.path()).await;
    let leads = all_leads(&client(), &server.base, TOKEN, "demo").await;
    let acked = acked.lock().unwrap();
    assert_each_acked_lead_present_once(&leads, &acked);
    println!(
        "crash test: {} cycles, {} leads acknowledged, {} stored, {retried} in flight at a kill and retried, all acknowledged present once",
        CYCLES,
        acked.len(),
        leads.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_requests_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let acked: Acked = Arc::default();
    let mut server = start(dir.path()).await;
    let workers = load(&server.base, 0, &acked, &Sending::default(), Vec::new());
    until_acked(&acked, 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pid = i32::try_from(server.child.id()).unwrap();
    let rc = send_signal(pid, "TERM");
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "lodestone did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    for w in workers {
        w.abort();
        let _ = w.await;
    }
    let server = start(dir.path()).await;
    let leads = all_leads(&client(), &server.base, TOKEN, "demo").await;
    let acked = acked.lock().unwrap();
    assert!(!acked.is_empty());
    assert_each_acked_lead_present_once(&leads, &acked);
}

/// A full disk: leads are refused (never acknowledged unstored), the health check says so for
/// a supervisor to restart the server, and after the restart every acknowledged lead is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_leads_turns_the_health_check_to_503_and_loses_no_acknowledged_lead() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_file_limit(dir.path(), 1024).await;
    let http = client();
    let mut acked = HashMap::new();
    let mut refused = 0;
    for i in 0..5000 {
        let sub = format!("sub-full-{i:06}");
        let mut body = lead_body(&format!("full{i}@example.com"), &sub);
        body["fields"] = serde_json::json!({ "note": "x".repeat(490) });
        let resp = http
            .post(format!("{}/v1/leads", server.base))
            .header("Origin", DEMO_ORIGIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        match resp.status() {
            StatusCode::CREATED => {
                let lead: serde_json::Value = resp.json().await.unwrap();
                acked.insert(sub, lead["id"].as_str().unwrap().to_owned());
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!("lead {i}: {other}"),
        }
    }
    assert_eq!(refused, 3, "the file size limit was never reached");
    assert!(acked.len() > 10, "only {} leads stored before the disk filled", acked.len());
    let health = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "failing");
    assert_eq!(health["error"]["code"], "storage_failing");
    drop(server);

    let server = start(dir.path()).await;
    let health = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let leads = all_leads(&http, &server.base, TOKEN, "demo").await;
    assert_each_acked_lead_present_once(&leads, &acked);
}

/// Sends a signal with the `kill` command (the workspace forbids `unsafe`, so no libc call).
fn send_signal(pid: i32, signal: &str) -> i32 {
    let out = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    if out.success() { 0 } else { -1 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_mid_body_gets_408_and_does_not_hold_up_sigterm() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Headers promise 100 bytes; one arrives, then nothing.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(
            b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    // And one that never finishes its headers.
    let mut headless = tokio::net::TcpStream::connect(&addr).await.unwrap();
    headless.write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Time for the server to accept both and read what they sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    assert_eq!(send_signal(i32::try_from(server.child.id()).unwrap(), "TERM"), 0);
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stalled.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""field":"body""#), "{answer}");
    let limit = ingest::app::DRAIN_LIMIT + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < limit, "lodestone waited on the stalled clients past the drain limit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}
