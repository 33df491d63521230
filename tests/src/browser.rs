//! Browser end-to-end helpers: one chromedriver per test binary driving headless Debian
//! Chromium (nothing downloaded), the demo site served on its own port with the ingest URL
//! rewritten to the test server's, and small helpers to reach inside the widget's shadow root.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{Options, TestApp, spawn_with};

/// Where the demo site and the built widget live.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned()
}

struct Driver {
    url: String,
    _child: Child,
}

static DRIVER: OnceLock<Driver> = OnceLock::new();
/// Two browsers at a time on a two-core machine.
static BROWSERS: Semaphore = Semaphore::const_new(2);

fn driver() -> &'static Driver {
    DRIVER.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(
            Command::new("chromedriver").arg("--version").output().is_ok(),
            "chromedriver is not installed: apt-get install chromium chromium-driver (see .ci/run)"
        );
        // A watchdog shell ends chromedriver once this test process is gone (statics are never
        // dropped, so nothing else would).
        let watchdog = "chromedriver --port=\"$1\" >/dev/null 2>&1 & d=$!; \
                        while kill -0 \"$2\" 2>/dev/null; do sleep 0.5; done; kill $d";
        let child = Command::new("sh")
            .args(["-c", watchdog, "watchdog", &port.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { url, _child: child }
    })
}

/// A browser session; closed (and its slot freed) by [`Browser::close`].
pub struct Browser {
    pub client: Client,
    _slot: tokio::sync::SemaphorePermit<'static>,
    _profile: tempfile::TempDir,
}

/// How the browser presents itself.
#[derive(Debug, Clone, Copy, Default)]
pub enum Device {
    #[default]
    Desktop,
    /// 375 px wide, touch, mobile user agent.
    Phone,
    /// 320 x 300 px: a small phone with the on-screen keyboard up.
    SmallPhoneKeyboardUp,
}

/// JavaScript that stores, for the demo site, what a script or an extension might have left:
/// a history of `pages` pages (about 25 bytes each) and `leads` leads waiting in the queue
/// (`q0@example.com` oldest), all far over the tracker's caps. Run it with
/// [`Browser::edit_storage`].
pub fn foreign_state(pages: usize, leads: usize) -> String {
    let queue: Vec<Value> = (0..leads)
        .map(|i| {
            let id = format!("sub-foreign-{i:03}");
            json!({ "id": id, "body": crate::lead_body(&format!("q{i}@example.com"), &id).to_string(), "n": 0, "next": 0 })
        })
        .collect();
    format!(
        "var now = Date.now(), pages = [];\
         for (var i = 0; i < {pages}; i++) pages.push({{ p: '/p' + i, a: now }});\
         localStorage.setItem('lodestone:demo', JSON.stringify({{ visits: 1, views: 1, seen: now, since: now, pages: pages }}));\
         localStorage.setItem('lodestone:demo:queue', JSON.stringify({}));",
        Value::Array(queue)
    )
}

/// The long tasks the probe saw on the page, as `(count, longest ms, the tasks)`.
pub async fn long_tasks(b: &Browser) -> (usize, f64, Value) {
    let tasks = b.js("return window.__probe.longtasks;").await;
    let list = tasks.as_array().expect("an array of long tasks");
    let longest = list.iter().map(|t| t["duration"].as_f64().expect("a duration")).fold(0.0, f64::max);
    (list.len(), longest, tasks)
}

/// Starts headless Chromium with a fresh profile.
pub async fn browser(device: Device) -> Browser {
    start_browser(device, 1).await
}

/// A browser that runs alone (no other browser test at the same time): for measurements.
pub async fn exclusive_browser(device: Device) -> Browser {
    start_browser(device, 2).await
}

async fn start_browser(device: Device, slots: u32) -> Browser {
    let slot = BROWSERS.acquire_many(slots).await.expect("semaphore");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut options = json!({ "binary": "/usr/bin/chromium" });
    match device {
        Device::Desktop => args.push("--window-size=1280,800".into()),
        Device::Phone | Device::SmallPhoneKeyboardUp => {
            let (width, height) = if matches!(device, Device::Phone) { (375, 740) } else { (320, 300) };
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true, "mobile": true },
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
            });
        }
    }
    options["args"] = json!(args);
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver().url)
        .await
        .expect("start a Chromium session");
    Browser { client, _slot: slot, _profile: profile }
}

/// When the tracker started on the page (its config request), in `performance.now()` time: a
/// JavaScript expression, for timing delays on the page's own clock.
pub const TRACKER_STARTED: &str = "performance.getEntriesByType('resource')\
    .filter(function (e) { return /\\/config$/.test(e.name); })[0].startTime";

impl Browser {
    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }

    /// Evaluates `script` (an expression) inside the widget's shadow root, bound to `root`.
    pub async fn in_widget(&self, expr: &str) -> Value {
        let script = format!(
            "var host = document.querySelector('[data-lodestone]'); var root = host && host.shadowRoot; \
             if (!root) return null; return ({expr});"
        );
        self.js(&script).await
    }

    /// Waits until `expr` (JavaScript, returning a boolean) holds, or panics after `seconds`.
    /// A script error counts as "not yet" (the page may be between two states, e.g. focus moving
    /// through `null`); the last one is reported if the wait times out.
    pub async fn wait_until(&self, expr: &str, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let script = format!("return !!({expr});");
        loop {
            let last = match self.client.execute(&script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(value) => format!("last value {value}"),
                Err(error) => format!("last error {error}"),
            };
            assert!(Instant::now() < deadline, "timed out after {seconds} s waiting for: {expr} ({last})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the popup as `wait_for_popup`, then for its entrance animation to end, so its
    /// layout is read at its final size and place.
    pub async fn wait_for_popup_at_rest(&self, seconds: u64) {
        self.wait_for_popup(seconds).await;
        self.wait_until(
            "document.querySelector('[data-lodestone]').shadowRoot.getAnimations().length === 0",
            5,
        )
        .await;
    }

    /// Waits for the popup's dialog to be on screen with focus inside it (focus moves in on the
    /// frame after mounting; keys pressed before then would reach the page).
    pub async fn wait_for_popup(&self, seconds: u64) {
        self.wait_until(
            "(function(){var h=document.querySelector('[data-lodestone]'),r=h&&h.shadowRoot;return r&&r.querySelector('[role=dialog]')&&r.activeElement;})()",
            seconds,
        )
        .await;
    }

    /// Opens `url` and waits until the tracker has applied its site config. Applying it
    /// installs the page's listeners, the history hooks among them, in one task: once
    /// `history.pushState` is the tracker's own, the page view is stored (where storage is
    /// allowed) and every listener is on.
    pub async fn visit(&self, url: &str) {
        self.goto(url).await;
        self.wait_until(
            "window.lodestone && window.lodestone.ready === true && Object.prototype.hasOwnProperty.call(history, 'pushState')",
            10,
        )
        .await;
    }

    /// Runs `script` against the stored history from `page`, a page of the same origin without
    /// the tracker: a page with the tracker would write its own copy over the change on its
    /// next tick.
    pub async fn edit_storage(&self, page: &str, script: &str) {
        self.goto(page).await;
        self.js(script).await;
    }

    pub async fn popup_open(&self) -> bool {
        self.js("return !!document.querySelector('[data-lodestone]');").await == Value::Bool(true)
    }

    /// Types `text` into the widget's input named `name`, as a user would.
    pub async fn type_into(&self, name: &str, text: &str) {
        let host = self.client.find(fantoccini::Locator::Css("[data-lodestone]")).await.expect("widget host");
        let root = host.shadow_root().await.expect("shadow root");
        let input = root.find(fantoccini::Locator::Css(&format!("input[name={name}]"))).await.expect("input");
        input.send_keys(text).await.expect("type");
    }

    pub async fn click_in_widget(&self, selector: &str) {
        let host = self.client.find(fantoccini::Locator::Css("[data-lodestone]")).await.expect("widget host");
        let root = host.shadow_root().await.expect("shadow root");
        root.find(fantoccini::Locator::Css(selector)).await.expect("element").click().await.expect("click");
    }

    /// Fills the popup as a visitor would (email, consent ticked) and submits it.
    pub async fn submit_lead(&self, email: &str) {
        self.type_into("email", email).await;
        self.click_in_widget("input[name=consent]").await;
        self.click_in_widget("button[type=submit]").await;
    }

    /// Presses `key` (a WebDriver key code such as `'\u{E004}'` for Tab) on the focused element,
    /// optionally with Shift held.
    pub async fn press(&self, key: char, shift: bool) {
        let mut keys = KeyActions::new("keyboard".into());
        if shift {
            keys = keys.then(KeyAction::Down { value: '\u{E008}' });
        }
        keys = keys.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
        if shift {
            keys = keys.then(KeyAction::Up { value: '\u{E008}' });
        }
        self.client.perform_actions(keys).await.expect("keys");
    }

    /// A PNG of the viewport, saved under `target/screenshots/NAME.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = workspace().join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

pub const TAB: char = '\u{E004}';
pub const ESCAPE: char = '\u{E00C}';

/// The demo site served on its own origin, its HTML pointing at the ingest server `ingest`.
pub struct DemoSite {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_file(State(ingest): State<String>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let path =
        if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_owned() };
    if path.contains("..") {
        return Response::builder().status(StatusCode::BAD_REQUEST).body(Body::empty()).unwrap();
    }
    let file = workspace().join("demo-site").join(&path);
    let Ok(bytes) = std::fs::read(&file) else {
        return Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap();
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        _ => "application/octet-stream",
    };
    let body = if kind.starts_with("text/html") {
        String::from_utf8_lossy(&bytes).replace("http://127.0.0.1:8080", &ingest).into_bytes()
    } else {
        bytes
    };
    Response::builder().header(header::CONTENT_TYPE, kind).body(Body::from(body)).unwrap()
}

/// Serves `demo-site/` on a fresh port of 127.0.0.1.
pub async fn demo_site(listener: tokio::net::TcpListener, ingest: &str) -> DemoSite {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(serve_file).with_state(ingest.to_owned());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    DemoSite { base, task }
}

/// The built widget (`cargo xtask build`); the README's test command builds it first.
pub fn widget_dist() -> PathBuf {
    let dist = workspace().join("widget/dist");
    assert!(
        dist.join("lodestone.js").exists(),
        "the widget is not built: run `cargo xtask build` (or `cargo xtask test`)"
    );
    dist
}

/// An ingest server serving the widget, plus the demo site on another origin it allows.
pub struct Stack {
    pub app: TestApp,
    pub site: DemoSite,
    pub data_dir: tempfile::TempDir,
    pub ingest_addr: SocketAddr,
}

pub async fn stack_with(mut options: Options) -> Stack {
    let site_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_origin = format!("http://{}", site_listener.local_addr().unwrap());
    let data_dir = tempfile::tempdir().unwrap();
    let ingest_addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    options.assets_dir = options.assets_dir.or_else(|| Some(widget_dist()));
    // A test's own `lodestone.toml` names the demo pages' origin as `{{SITE_ORIGIN}}`.
    options.config_toml = options.config_toml.map(|t| t.replace("{{SITE_ORIGIN}}", &site_origin));
    options.allowed_origins.push(site_origin);
    options.listen = Some(ingest_addr);
    options.data_dir = Some(data_dir.path().to_owned());
    let app = spawn_with(options).await;
    let site = demo_site(site_listener, &app.base).await;
    Stack { app, site, data_dir, ingest_addr }
}

pub async fn stack() -> Stack {
    stack_with(Options::default()).await
}

impl Stack {
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.site.base)
    }
}
