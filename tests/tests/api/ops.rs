//! Operations: health, Prometheus metrics, unknown routes and methods, path errors, and slow
//! clients.

use std::time::{Duration, Instant};

use lodestone_tests::{Options, lead_body, spawn_app, spawn_with};
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
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"lodestone_http_requests_total{route="/v1/leads",status="201"} 1"#), "{text}");
    assert!(text.contains(r#"lodestone_http_requests_total{route="/v1/leads",status="422"} 1"#), "{text}");
    assert!(text.contains("lodestone_leads_stored_total 1"), "{text}");
    assert!(text.contains("lodestone_commit_batch_size_count"), "{text}");
    assert!(text.contains("lodestone_flush_seconds_bucket"), "{text}");
    assert!(!text.contains("secret@example.com"), "no personal data in metrics");
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
