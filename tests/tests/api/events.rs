//! `POST /v1/events`: batches counted into the stats, visitor identifiers and bad events refused
//! by name, foreign origins and oversized batches refused.

use std::time::{Duration, Instant};

use lodestone_tests::{lead_body, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn pageview(path: &str, new_visitor: bool) -> Value {
    json!({ "type": "pageview", "path": path, "referrer_host": "news.example", "utm_source": "mail", "new_visitor": new_visitor, "new_session": new_visitor })
}

#[tokio::test]
async fn event_batches_are_accepted_and_add_up_in_the_stats() {
    let app = spawn_app().await;
    let events = json!({ "site": "demo", "events": [
        pageview("/", true), pageview("/pricing", false), pageview("/pricing", false),
        { "type": "campaign", "campaign": "welcome", "action": "shown" },
        { "type": "campaign", "campaign": "welcome", "action": "shown" },
        { "type": "campaign", "campaign": "welcome", "action": "converted" },
    ]});
    let resp = app.post_events(&events).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.json::<Value>().await.unwrap()["accepted"], 6);

    // Counters reach the store within about a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats: Value = app.admin_get("/v1/sites/demo/stats").await.json().await.unwrap();
        if stats["totals"]["pageviews"] == 3 || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats["totals"]["pageviews"], 3, "{stats}");
    assert_eq!(stats["totals"]["visitors"], 1);
    assert_eq!(stats["top_paths"][0], json!({ "key": "/pricing", "count": 2 }));
    assert_eq!(stats["top_referrers"][0]["key"], "news.example");
    assert_eq!(stats["top_utm_sources"][0]["key"], "mail");
    assert_eq!(stats["campaigns"][0]["shown"], 2);
    assert_eq!(stats["campaigns"][0]["converted"], 1);
    assert_eq!(stats["campaigns"][0]["conversion_rate"], 0.5);
}

/// Every lead the store takes counts in its campaign's `leads`, whoever posted it (the widget,
/// a plain HTML form, another program) and whatever the widget's events said; a retry of a
/// stored submission and a refused lead do not count.
#[tokio::test]
async fn stored_leads_count_per_campaign_and_variant_in_the_stats() {
    let app = spawn_app().await;
    let mut with_variant = lead_body("b@example.com", "sub-count-2");
    with_variant["variant"] = json!("short");
    for body in
        [lead_body("a@example.com", "sub-count-1"), lead_body("a@example.com", "sub-count-1"), with_variant]
    {
        assert!(app.post_lead(&body).await.status().is_success());
    }
    assert_eq!(
        app.post_lead(&lead_body("nope", "sub-count-3")).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // `-` stands for "no variant" in the stats: no variant may be named that.
    let mut dash = lead_body("c@example.com", "sub-count-4");
    dash["variant"] = json!("-");
    let refused = app.post_lead(&dash).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["field"], "variant", "{error}");
    let form = [
        ("site", "demo"),
        ("campaign", "welcome"),
        ("email", "form@example.com"),
        ("consent", "on"),
        ("consent_text", "I agree."),
        ("consent_version", "1"),
    ];
    assert_eq!(app.post_form(&form, &[]).await.status(), StatusCode::SEE_OTHER);

    let deadline = Instant::now() + Duration::from_secs(5);
    let campaigns = loop {
        let stats: Value = app.admin_get("/v1/sites/demo/stats").await.json().await.unwrap();
        let leads: u64 =
            stats["campaigns"].as_array().unwrap().iter().map(|c| c["leads"].as_u64().unwrap()).sum();
        if leads >= 3 || Instant::now() > deadline {
            break stats["campaigns"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let counted: Vec<(Value, Value, Value)> = campaigns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["variant"].clone(), c["leads"].clone(), c["converted"].clone()))
        .collect();
    assert_eq!(
        counted,
        [(Value::Null, json!(2), json!(0)), (json!("short"), json!(1), json!(0))],
        "{campaigns}"
    );
}

#[tokio::test]
async fn a_visitor_identifier_is_refused_and_bad_events_are_named() {
    let app = spawn_app().await;
    let cases = [
        // A missing id is refused as an empty one is: `422`, naming it.
        (json!({ "events": [pageview("/", true)] }), StatusCode::UNPROCESSABLE_ENTITY, "site"),
        (
            json!({ "site": "demo", "events": [{ "type": "campaign", "action": "shown" }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "events[0].campaign",
        ),
        (
            json!({ "site": "demo", "visitor_id": "v-1", "events": [pageview("/", true)] }),
            StatusCode::BAD_REQUEST,
            "visitor_id",
        ),
        (
            json!({ "site": "demo", "events": [{ "type": "pageview", "path": "/", "visitor_id": "v-1" }] }),
            StatusCode::BAD_REQUEST,
            "events[0].visitor_id",
        ),
        (
            json!({ "site": "demo", "events": [pageview("/", true), pageview("no-slash", false)] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "events[1].path",
        ),
        (
            json!({ "site": "demo", "events": [pageview("/", true), { "type": "campaign", "campaign": "ghost", "action": "shown" }] }),
            StatusCode::NOT_FOUND,
            "events[1].campaign",
        ),
        // Counters stay anonymous: no query string (a search, an address) rides in a path, and
        // a referrer is a host, not free text.
        (
            json!({ "site": "demo", "events": [pageview("/x?email=ada@example.com", true)] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "events[0].path",
        ),
        (
            json!({ "site": "demo", "events": [pageview("/", true), pageview("/a#ada@example.com", false)] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "events[1].path",
        ),
        (
            json!({ "site": "demo", "events": [{ "type": "pageview", "path": "/", "referrer_host": "Ada Lovelace <ada@example.com>" }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "events[0].referrer_host",
        ),
        (json!({ "site": "demo", "events": [] }), StatusCode::UNPROCESSABLE_ENTITY, "events"),
        (json!({ "site": "ghost", "events": [pageview("/", true)] }), StatusCode::NOT_FOUND, "site"),
    ];
    for (body, status, field) in cases {
        let resp = app.post_events(&body).await;
        assert_eq!(resp.status(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        if status == StatusCode::BAD_REQUEST {
            assert!(err["error"]["message"].as_str().unwrap().contains("visitor_id"), "{err}");
        }
    }
    // A batch given as an array, by position, is not a batch.
    let resp = app.post_events(&json!(["demo", [pageview("/", true)]])).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "body");
    // Malformed events are refused with the field or value at fault named.
    let malformed = [
        (
            json!({ "type": "pageview", "path": "/", "campaign": "welcome" }),
            "`campaign`",
            "events[0].campaign",
        ),
        (json!({ "type": "campaign", "campaign": "welcome", "path": "/" }), "`path`", "events[0].path"),
        (json!({ "type": "campaign", "campaign": "welcome" }), "`action`", "events[0].action"),
        (json!({ "type": "pageview" }), "`path`", "events[0].path"),
        (json!({ "type": "click", "path": "/" }), "`click`", "events[0].type"),
        (json!({ "path": "/" }), "`type`", "events[0].type"),
    ];
    for (event, named, field) in malformed {
        let resp = app.post_events(&json!({ "site": "demo", "events": [event] })).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{event}");
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains(named), "{event}: {err}");
        assert_eq!(err["error"]["field"], field, "{event}: {err}");
    }
}

#[tokio::test]
async fn events_from_a_foreign_origin_or_over_the_limit_are_refused() {
    let app = spawn_app().await;
    let batch = json!({ "site": "demo", "events": [pageview("/", true)] });
    let foreign = app.post_text("/v1/events", &batch, Some("https://evil.example")).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(foreign.json::<Value>().await.unwrap()["error"]["field"], "origin");
    let many: Vec<Value> = (0..400).map(|i| pageview(&format!("/{}/{i}", "p".repeat(80)), false)).collect();
    let big = app.post_events(&json!({ "site": "demo", "events": many })).await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: Value = big.json().await.unwrap();
    assert_eq!(err["error"]["code"], "too_large");
    assert_eq!(err["error"]["field"], "body");
    // Neither was counted: once a valid batch sent after them is counted, the total is its one.
    assert_eq!(app.post_events(&batch).await.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats: Value = app.admin_get("/v1/sites/demo/stats").await.json().await.unwrap();
        if stats["totals"]["pageviews"] != 0 || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats["totals"]["pageviews"], 1, "{stats}");
}
