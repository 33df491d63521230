//! Helpers shared by the cross-crate test binaries: a real server on port 0 over a real sled
//! store on disk, request helpers, and the path of the `lodestone` binary for process tests.
//! Logs only when `TEST_LOG` is set.

pub mod browser;

use std::path::{Path, PathBuf};
use std::sync::Once;

use ingest::{App, ServeSettings, Sites, Store, serve};
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The origin the built-in demo site allows.
pub const DEMO_ORIGIN: &str = "http://127.0.0.1:8081";

/// How to start a test server.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `lodestone.toml` contents; `None` serves the built-in demo site.
    pub config_toml: Option<String>,
    /// Requests per minute per IP; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// A directory of widget assets to serve.
    pub assets_dir: Option<PathBuf>,
    /// Origins the built-in demo site also allows (with no `config_toml`).
    pub allowed_origins: Vec<String>,
    /// Listen here instead of a random port (to restart a server in place).
    pub listen: Option<std::net::SocketAddr>,
    /// Keep the data here instead of a fresh temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Header the client IP is read from (`--client-ip-header`).
    pub client_ip_header: Option<String>,
    /// Seconds a client may take over its request headers (`--header-timeout-secs`).
    pub header_timeout_secs: Option<u64>,
    /// The token `GET /metrics` requires (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// Connections open at once (`--max-connections`).
    pub max_connections: Option<u32>,
    /// Connections open at once per client IP (`--max-connections-per-ip`; 0 turns it off).
    pub max_connections_per_ip: Option<u32>,
}

/// A running server and a client for it. Stops and removes its data when dropped.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub store: Store,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .try_init();
        }
    });
}

/// Starts the server with the built-in demo site and no rate limit.
pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

/// Starts the server with `options`, on 127.0.0.1 port 0, data in a fresh temporary directory.
pub async fn spawn_with(options: Options) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = options.data_dir.clone().unwrap_or_else(|| dir.path().join("data"));
    let mut settings = ServeSettings::for_data_dir(data_dir);
    if let Some(toml) = &options.config_toml {
        let path = dir.path().join("lodestone.toml");
        std::fs::write(&path, toml).expect("write config");
        settings.config = Some(path);
    }
    settings.admin_token = Some("test-admin-token-0123456789".into());
    settings.rate_limit_per_minute = options.rate_limit_per_minute;
    settings.rate_limit_burst = options.rate_limit_burst;
    settings.assets_dir = options.assets_dir.clone();
    settings.client_ip_header = options.client_ip_header.clone();
    settings.metrics_token = options.metrics_token.clone();
    settings.max_connections = options.max_connections;
    if let Some(n) = options.max_connections_per_ip {
        settings.max_connections_per_ip = n;
    }
    if let Some(secs) = options.header_timeout_secs {
        settings.header_timeout_secs = secs;
    }
    let sites = match settings.config.as_deref() {
        Some(path) => Sites::load(Some(path)).expect("config loads"),
        None => Sites::demo_allowing(&options.allowed_origins),
    };
    let store = open_store(&settings.data_dir).await;
    let app = App::with_store(&settings, sites, store.clone()).expect("app builds");
    let admin_token = app.admin_token().to_owned();
    let listen = options.listen.unwrap_or_else(|| "127.0.0.1:0".parse().expect("address"));
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, async {
        let _ = rx.await;
    }));
    TestApp { base, client: client(), admin_token, store, shutdown: Some(tx), task: Some(task), _dir: dir }
}

/// An HTTP client that ignores proxy settings (everything here is on 127.0.0.1).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// A valid lead for the demo site's `welcome` campaign.
pub fn lead_body(email: &str, submission_id: &str) -> Value {
    json!({
        "site": "demo",
        "campaign": "welcome",
        "email": email,
        "name": "Ada Lovelace",
        "submission_id": submission_id,
        "consent": { "granted": true, "text": "I agree to receive emails.", "version": "3" },
        "page_url": "http://127.0.0.1:8081/pricing?utm_source=newsletter",
        "referrer": "https://news.example/item",
        "attribution": {
            "first": { "referrer": "https://search.example/", "utm_source": "google", "utm_medium": "cpc" },
            "last": { "referrer": "https://news.example/item", "utm_source": "newsletter" }
        },
        "signals": { "visits": 2, "page_views": 4, "engaged_seconds": 130, "max_scroll_percent": 80, "paths": ["/", "/pricing"] },
        "score": { "total": 42, "explanation": [] }
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` as the widget does: JSON text with `Content-Type: text/plain`, from the demo origin.
    pub async fn post_lead(&self, body: &Value) -> reqwest::Response {
        self.post_text("/v1/leads", body, Some(DEMO_ORIGIN)).await
    }

    pub async fn post_events(&self, body: &Value) -> reqwest::Response {
        self.post_text("/v1/events", body, Some(DEMO_ORIGIN)).await
    }

    /// POSTs `body` as it is, with `content_type`, to `/v1/leads`.
    pub async fn post_raw(&self, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        let req = self.client.post(self.url("/v1/leads")).header(CONTENT_TYPE, content_type);
        req.body(body).send().await.expect("request")
    }

    pub async fn post_text(&self, path: &str, body: &Value, origin: Option<&str>) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).header(CONTENT_TYPE, "text/plain;charset=UTF-8");
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        req.body(body.to_string()).send().await.expect("request")
    }

    /// POSTs `form` to `/v1/leads` as a plain HTML form (`application/x-www-form-urlencoded`),
    /// with `headers` (such as `origin`, `referer`, `accept`).
    pub async fn post_form(&self, form: &[(&str, &str)], headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.post(self.url("/v1/leads")).form(form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request")
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.admin_token).send().await.expect("request")
    }

    /// Every lead of `site`, following the cursor pages.
    pub async fn all_leads(&self, site: &str) -> Vec<Value> {
        all_leads(&self.client, &self.base, &self.admin_token, site).await
    }

    /// Waits up to `seconds` for `site` to hold `n` leads or more (a browser sends them in the
    /// background); returns how many it holds then.
    pub async fn wait_for_leads(&self, site: &str, n: usize, seconds: u64) -> usize {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let held = self.all_leads(site).await.len();
            if held >= n || std::time::Instant::now() >= deadline {
                return held;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Stops the server gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Opens the store in `dir`. A server stopped just before on the same directory releases it
/// once its writer threads have seen the last handle go: until then (a few milliseconds) sled
/// refuses the lock, so this tries again for up to 10 s.
async fn open_store(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir, 16 << 20) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() >= deadline => panic!("store opens: {e:?}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// Waits until the server at `base` answers `/healthz`, or panics after 20 s.
pub async fn wait_until_healthy(base: &str) {
    let http = client();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "lodestone did not start at {base}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every lead of `site` on the server at `base`, following the cursor pages.
pub async fn all_leads(client: &reqwest::Client, base: &str, token: &str, site: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/sites/{site}/leads?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value =
            client.get(url).bearer_auth(token).send().await.expect("list").json().await.expect("json");
        out.extend(page["leads"].as_array().expect("leads").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// The package selection `cargo xtask test` tests with. Building the server in the same
/// selection, with test targets (so dev-dependencies count), gives its dependencies the same
/// features as the tests' and so reuses them instead of compiling a second set.
const TESTED: [&str; 9] = [
    "--workspace",
    "--exclude",
    "lodestone-tracker",
    "--exclude",
    "lodestone-leads",
    "--exclude",
    "lodestone-popup",
    "--exclude",
    "xtask",
];

/// The `lodestone` binary of this build, brought up to date once per test run (a no-op when
/// `cargo xtask test` has just built it), so process tests never run a stale server.
pub fn lodestone_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let target = profile_dir.parent().expect("target");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet"])
            .args(TESTED)
            .args(["--bin", "lodestone", "--tests", "--profile", &profile])
            .arg("--target-dir")
            .arg(target)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the lodestone binary failed");
    });
    profile_dir.join(format!("lodestone{}", std::env::consts::EXE_SUFFIX))
}
