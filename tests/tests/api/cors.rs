//! CORS preflights and simple requests per site, the public widget assets, and the per-IP rate
//! limit (direct and behind a proxy).

use lodestone_tests::{DEMO_ORIGIN, Options, lead_body, spawn_app, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/v1/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight(DEMO_ORIGIN).await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(ok.headers()["access-control-allow-origin"], DEMO_ORIGIN);
    assert!(ok.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn simple_requests_from_an_allowed_origin_carry_the_cors_header() {
    let app = spawn_app().await;
    let resp = app.post_lead(&lead_body("cors@example.com", "sub-cors-0001")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["access-control-allow-origin"], DEMO_ORIGIN);
    let config = app
        .client
        .get(app.url("/v1/sites/demo/config"))
        .header("origin", "http://localhost:8081")
        .send()
        .await
        .unwrap();
    assert_eq!(config.headers()["access-control-allow-origin"], "http://localhost:8081");
}

#[tokio::test]
async fn a_page_refused_the_config_can_read_why_and_nothing_more() {
    let app = spawn_app().await;
    let get = |path: &'static str, origin: &'static str| {
        app.client.get(app.url(path)).header("origin", origin).send()
    };
    // An origin the site does not allow: refused, with a reason the page may read.
    let refused = get("/v1/sites/demo/config", "https://www.shop.example").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers()["access-control-allow-origin"], "https://www.shop.example");
    assert!(
        refused.headers().get_all("vary").iter().any(|v| v
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("origin"))
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    assert_eq!(
        body["error"]["message"],
        "the origin https://www.shop.example is not among the allowed_origins of site demo (lodestone.toml)"
    );
    assert!(!body.to_string().contains("welcome"), "the refusal carries the config: {body}");
    // An unknown site, likewise.
    let unknown = get("/v1/sites/dmeo/config", "https://www.shop.example").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.headers()["access-control-allow-origin"], "https://www.shop.example");
    // The other routes still answer such an origin nothing it may read.
    let lead = app
        .post_text(
            "/v1/leads",
            &lead_body("x@example.com", "sub-cors-0002"),
            Some("https://www.shop.example"),
        )
        .await;
    assert_eq!(lead.status(), StatusCode::FORBIDDEN);
    assert!(lead.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn widget_assets_are_public_to_every_origin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lodestone.js"), "/* widget */").unwrap();
    std::fs::write(dir.path().join("lodestone.js.br"), b"brotli bytes").unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/tracker-0123abcd.wasm"), b"\0asm").unwrap();
    std::fs::create_dir(dir.path().join("assets/sub")).unwrap();
    let app = spawn_with(Options { assets_dir: Some(dir.path().to_owned()), ..Options::default() }).await;
    let js = app
        .client
        .get(app.url("/lodestone.js"))
        .header("origin", "https://any.example")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(js.headers()["access-control-allow-origin"], "*");
    assert!(js.headers()["cache-control"].to_str().unwrap().contains("max-age=300"));
    assert!(js.headers().get("content-encoding").is_none(), "identity when br is not accepted");
    let br = app.client.get(app.url("/lodestone.js")).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    // A shared cache keeps one copy per encoding.
    assert_eq!(br.headers()["vary"], "accept-encoding");
    assert_eq!(br.headers()["content-type"], "text/javascript");
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"brotli bytes");
    let wasm = app.client.get(app.url("/assets/tracker-0123abcd.wasm")).send().await.unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert!(wasm.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(wasm.headers()["access-control-allow-origin"], "*");
    assert_eq!(wasm.headers()["vary"], "accept-encoding");
    // A directory is not a widget file: no listing, no redirect (which would drop `/assets`).
    let sub = app.client.get(app.url("/assets/sub")).send().await.unwrap();
    assert_eq!(sub.status(), StatusCode::NOT_FOUND);
    // A missing file or a wrong method is the API's JSON error, and a 404 is never cached as
    // immutable (the file may be deployed a moment later).
    let gone = app.client.get(app.url("/assets/tracker-ffffffff.wasm")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(gone.headers().get("cache-control").is_none_or(|c| !c.to_str().unwrap().contains("immutable")));
    assert_eq!(gone.json::<Value>().await.unwrap()["error"]["field"], "path");
    let posted = app.client.post(app.url("/lodestone.js")).body("x").send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.headers()["allow"], "GET,HEAD");
    assert_eq!(posted.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    let posted = app.client.post(app.url("/assets/tracker-0123abcd.wasm")).body("x").send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    // A range past the end of a file is the JSON error too, the file's length kept for the client.
    let past = app
        .client
        .get(app.url("/assets/tracker-0123abcd.wasm"))
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["content-range"], "bytes */4");
    assert_eq!(past.json::<Value>().await.unwrap()["error"]["field"], "range");
    let part = app
        .client
        .get(app.url("/assets/tracker-0123abcd.wasm"))
        .header("range", "bytes=1-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"asm");
    // Only what is under `assets/` is served there.
    let outside = app.client.get(app.url("/assets/lodestone.js")).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    // The metrics count the widget's files under their routes, not with unmatched paths.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"lodestone_http_requests_total{route="/assets/{*file}",status="200"} 1"#,
        r#"lodestone_http_requests_total{route="/assets/{*file}",status="206"} 1"#,
        r#"lodestone_http_requests_total{route="/assets/{*file}",status="416"} 1"#,
        r#"lodestone_http_requests_total{route="/assets/{*file}",status="404"} 3"#,
        r#"lodestone_http_requests_total{route="/lodestone.js",status="200"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn a_client_over_its_rate_limit_is_answered_429_with_retry_after() {
    let app =
        spawn_with(Options { rate_limit_per_minute: 2, rate_limit_burst: 3, ..Options::default() }).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(app.post_lead(&lead_body("rl@example.com", &format!("sub-rate-{i:04}"))).await);
    }
    let codes: Vec<_> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, [201, 201, 201, 429, 429]);
    let limited = statuses.pop().unwrap();
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let error = limited.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(error["code"], "rate_limited");
    // Every error has the same shape: `field` is there, null when no input is at fault.
    assert_eq!(error.as_object().unwrap().get("field"), Some(&Value::Null), "{error}");
    // A person's browser posting a plain form is told so on a page, with the same status.
    let fields = [("site", "demo"), ("campaign", "welcome"), ("email", "rl@example.com")];
    let form = app.post_form(&fields, &[("accept", "text/html,*/*;q=0.8")]).await;
    assert_eq!(form.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(form.headers()["retry-after"].to_str().is_ok());
    assert!(form.text().await.unwrap().contains("<h1>Please wait a moment</h1>"));
    // Admin routes are not rate limited.
    assert_eq!(app.admin_get("/v1/sites/demo/leads").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_proxy_the_limit_follows_the_address_the_proxy_added_not_the_one_the_client_wrote() {
    let app = spawn_with(Options {
        rate_limit_per_minute: 1,
        rate_limit_burst: 2,
        client_ip_header: Some("x-forwarded-for".into()),
        ..Options::default()
    })
    .await;
    let post = |i: u32, forwarded: String| {
        let body = lead_body("xff@example.com", &format!("sub-xff-{i:04}"));
        app.client
            .post(app.url("/v1/leads"))
            .header("origin", DEMO_ORIGIN)
            .header("content-type", "text/plain")
            .header("x-forwarded-for", forwarded)
            .body(body.to_string())
            .send()
    };
    // The client forges a new left-most address every time; the proxy appends the real one.
    let mut codes = Vec::new();
    for i in 0..4 {
        codes.push(post(i, format!("10.9.9.{i}, 203.0.113.7")).await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [201, 201, 429, 429]);
    // Another client behind the same proxy has its own quota.
    assert_eq!(post(9, "203.0.113.8".into()).await.unwrap().status(), StatusCode::CREATED);
    // An IPv6 client counts by its /64: a new address inside it for every request gains nothing.
    let mut codes = Vec::new();
    for i in 10..14 {
        codes.push(post(i, format!("2001:db8:7:7::{i:x}")).await.unwrap().status().as_u16());
    }
    assert_eq!(codes, [201, 201, 429, 429]);
    assert_eq!(post(20, "2001:db8:7:8::1".into()).await.unwrap().status(), StatusCode::CREATED);
    // A proxy that adds its own header line after the client's: the client's line counts for
    // nothing, however it changes.
    let mut codes = Vec::new();
    for i in 30..34 {
        let body = lead_body("xff@example.com", &format!("sub-xff-{i:04}"));
        let answer = app
            .client
            .post(app.url("/v1/leads"))
            .header("origin", DEMO_ORIGIN)
            .header("content-type", "text/plain")
            .header("x-forwarded-for", format!("10.8.8.{i}"))
            .header("x-forwarded-for", "198.51.100.9")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        codes.push(answer.status().as_u16());
    }
    assert_eq!(codes, [201, 201, 429, 429]);
}
