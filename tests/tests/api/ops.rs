//! Operations: health, Prometheus metrics, unknown routes and methods, path errors, slow
//! clients, and logs free of personal data.

use std::time::{Duration, Instant};

use lodestone_tests::{
    DEMO_ORIGIN, Options, client, lead_body, lodestone_binary, spawn_app, spawn_with, wait_until_healthy,
};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_leads_batches_and_flushes() {
    let app = spawn_app().await;
    app.post_lead(&lead_body("m@example.com", "sub-metrics-01")).await;
    app.post_lead(&lead_body("bad", "sub-metrics-02")).await;
    app.client.get(app.url("/v1/sites/demo/leads?email=secret@example.com")).send().await.unwrap();
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    // OpenMetrics, labelled as such: Prometheus reads the counter families by that format.
    assert_eq!(resp.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let text = resp.text().await.unwrap();
    assert!(text.contains("# TYPE lodestone_http_requests counter"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains(r#"lodestone_http_requests_total{route="/v1/leads",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"lodestone_http_requests_total{route="/v1/leads",status="422"} 1"#), "{text}");
    assert!(text.contains("lodestone_leads_stored_total 1"), "{text}");
    assert!(text.contains("lodestone_commit_batch_size_count"), "{text}");
    assert!(text.contains("lodestone_flush_seconds_bucket"), "{text}");
    assert!(!text.contains("secret@example.com"), "no personal data in metrics");
}

#[tokio::test]
async fn with_a_metrics_token_the_metrics_need_it_or_the_admin_token() {
    let token = "metrics-token-0123456789";
    let app = spawn_with(Options { metrics_token: Some(token.into()), ..Options::default() }).await;
    let get = |bearer: Option<&str>| {
        let req = app.client.get(app.url("/metrics"));
        let req = match bearer {
            Some(b) => req.bearer_auth(b),
            None => req,
        };
        async move { req.send().await.unwrap() }
    };
    for refused in [None, Some("metrics-token-012345678"), Some("")] {
        let resp = get(refused).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], "authorization");
    }
    for allowed in [token, app.admin_token.as_str()] {
        let resp = get(Some(allowed)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains("lodestone_http_requests_total"));
    }
    // Health stays open: load balancers probe it without a token.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_route_is_answered_404_as_json() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_known_route_asked_with_the_wrong_method_is_answered_405_as_json_with_allow() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/v1/leads")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(allow.contains("POST"), "allow: {allow:?}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (Some("method_not_allowed"), Some("method"))
    );
}

#[tokio::test]
async fn a_site_in_the_path_that_is_not_valid_utf8_is_answered_400_as_json_naming_it() {
    let app = spawn_app().await;
    let public = app.client.get(app.url("/v1/sites/%FF/config")).send().await.unwrap();
    let admin = app.admin_get("/v1/sites/%FF%FE/leads").await;
    for resp in [public, admin] {
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (body["error"]["code"].as_str(), body["error"]["field"].as_str()),
            (Some("malformed"), Some("site")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected_after_the_header_timeout() {
    let app = spawn_with(Options { header_timeout_secs: Some(1), ..Options::default() }).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    // A client that sends its request in time is served as usual.
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A connection from `ip` (any 127.0.0.0/8 address reaches the server on 127.0.0.1).
async fn connect_from(ip: &str, addr: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket.connect(addr.parse().unwrap()).await.unwrap()
}

/// `GET /healthz` on `stream`; what came back before the server closed it (or `None` when
/// nothing came within `wait`).
async fn health_on(mut stream: tokio::net::TcpStream, wait: Duration) -> Option<String> {
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let mut answer = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await {
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_client_holding_its_share_of_connections_gets_no_more_while_others_are_served() {
    let app = spawn_with(Options { max_connections_per_ip: Some(4), ..Options::default() }).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Four idle connections: the share of 127.0.0.2.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", &addr).await);
    }
    // A fifth is closed unanswered, at once rather than after the header timeout.
    let started = Instant::now();
    let fifth = health_on(connect_from("127.0.0.2", &addr).await, Duration::from_secs(10)).await;
    assert_eq!(fifth.as_deref(), Some(""), "the fifth connection was not closed unanswered");
    assert!(started.elapsed() < Duration::from_secs(5), "closed only after {:?}", started.elapsed());
    // Another client is served meanwhile.
    let other = health_on(connect_from("127.0.0.3", &addr).await, Duration::from_secs(10)).await;
    assert!(other.unwrap_or_default().starts_with("HTTP/1.1 200"), "another client was not served");
    // A connection closed gives its place back.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = health_on(connect_from("127.0.0.2", &addr).await, Duration::from_secs(10)).await;
        if answer.unwrap_or_default().starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connection's place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let refused = metrics.lines().find_map(|l| l.strip_prefix("lodestone_connections_refused_total "));
    assert!(refused.is_some_and(|n| n.parse::<u64>().unwrap() >= 1), "{metrics}");
    // The three still held, and the one scraping the metrics.
    let open = metrics.lines().find_map(|l| l.strip_prefix("lodestone_connections_open "));
    assert_eq!(open, Some("4"), "{metrics}");
}

#[tokio::test]
async fn over_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let app = spawn_with(Options {
        max_connections: Some(3),
        max_connections_per_ip: Some(0),
        ..Options::default()
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let waiting = tokio::spawn(health_on(
        tokio::net::TcpStream::connect(&addr).await.unwrap(),
        Duration::from_secs(20),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fourth connection was served over a cap of three");
    drop(held.pop());
    let answer = waiting.await.unwrap();
    assert!(answer.unwrap_or_default().starts_with("HTTP/1.1 200"), "the waiting connection was not served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_at_debug_level_carries_no_personal_data() {
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let token = "log-test-admin-token-0123456789";
    let child = Command::new(lodestone_binary())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--client-ip-header",
            "x-real-ip",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("LODESTONE_ADMIN_TOKEN", token)
        .env("LODESTONE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&base).await;
    let http = client();
    // Personal data in every place a request can carry it: a stored lead, a refused one, a
    // plain form post, the erasure query, the client's address.
    let (email, name, ip) = ("pii.probe.7f3a@example.com", "Zebulon Quixote", "203.0.113.77");
    let mut lead = lead_body(email, "sub-log-000001");
    lead["name"] = name.into();
    let post = |body: String| {
        http.post(format!("{base}/v1/leads"))
            .header("origin", DEMO_ORIGIN)
            .header("x-real-ip", ip)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    assert_eq!(post(lead.to_string()).await.unwrap().status(), StatusCode::CREATED);
    lead["email"] = "pii.probe.7f3a-at-example.com".into();
    lead["submission_id"] = "sub-log-000002".into();
    assert_eq!(post(lead.to_string()).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = [("site", "demo"), ("campaign", "welcome"), ("email", email), ("name", name)];
    let posted =
        http.post(format!("{base}/v1/leads")).header("x-real-ip", ip).form(&form).send().await.unwrap();
    assert!(posted.status().is_client_error() || posted.status().is_redirection());
    let erased = http
        .delete(format!("{base}/v1/sites/demo/leads?email={email}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), StatusCode::OK);
    let kill = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The log was on (it names the routes), and nothing of the visitor is in it.
    assert!(log.contains("/v1/leads") && log.contains("/v1/sites/{site}/leads"), "{log}");
    for secret in ["pii.probe", "7f3a", "Zebulon", "Quixote", ip] {
        assert!(!log.contains(secret), "the log contains {secret:?}:\n{log}");
    }
}
