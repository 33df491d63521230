//! Admin routes: the bearer token, cursor-paged lead lists, the CSV export with formula cells
//! neutralised, and erasure by email.

use std::collections::HashSet;

use lodestone_tests::{Options, lead_body, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn admin_routes_need_the_bearer_token() {
    let app = spawn_app().await;
    for path in ["/v1/sites/demo/leads", "/v1/sites/demo/leads.csv", "/v1/sites/demo/stats"] {
        let none = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(none.json::<Value>().await.unwrap()["error"]["field"], "authorization");
        let wrong =
            app.client.get(app.url(path)).bearer_auth("test-admin-token-0123456788").send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
        let empty = app.client.get(app.url(path)).header("authorization", "Bearer ").send().await.unwrap();
        assert_eq!(empty.status(), StatusCode::UNAUTHORIZED, "{path}");
        let prefix = &app.admin_token[..app.admin_token.len() - 1];
        let short = app.client.get(app.url(path)).bearer_auth(prefix).send().await.unwrap();
        assert_eq!(short.status(), StatusCode::UNAUTHORIZED, "{path}");
        // The scheme is case-insensitive (RFC 9110).
        let lower = app
            .client
            .get(app.url(path))
            .header("authorization", format!("bearer {}", app.admin_token))
            .send()
            .await
            .unwrap();
        assert_eq!(lower.status(), StatusCode::OK, "{path}");
    }
    let erase = app.client.delete(app.url("/v1/sites/demo/leads?email=a@example.com")).send().await.unwrap();
    assert_eq!(erase.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn leads_are_listed_newest_first_in_cursor_pages_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let mut posted = Vec::new();
    for i in 0..7 {
        let r: Value = app
            .post_lead(&lead_body(&format!("p{i}@example.com"), &format!("sub-page-{i:04}")))
            .await
            .json()
            .await
            .unwrap();
        posted.push(r["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page: Value =
            app.admin_get(&format!("/v1/sites/demo/leads?limit=3{cursor}")).await.json().await.unwrap();
        pages += 1;
        seen.extend(page["leads"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    posted.reverse();
    assert_eq!(seen, posted);
    for (query, field) in [("limit=0", "limit"), ("cursor=garbage", "cursor")] {
        let bad = app.admin_get(&format!("/v1/sites/demo/leads?{query}")).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(bad.json::<Value>().await.unwrap()["error"]["field"], field);
    }
    // Parameters left blank (a form, a script building the query) are absent, not invalid.
    let blank: Value = app.admin_get("/v1/sites/demo/leads?limit=&cursor=").await.json().await.unwrap();
    assert_eq!(blank["leads"].as_array().unwrap().len(), posted.len());
    assert_eq!(app.admin_get("/v1/sites/ghost/leads").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_csv_export_streams_every_lead_with_formula_cells_neutralised() {
    let app = spawn_app().await;
    let mut evil = lead_body("=cmd@example.com", "sub-csv-00001");
    evil["name"] = json!("=HYPERLINK(\"http://evil.example\")");
    evil["fields"] = json!({ "phone": "+1 555 0100", "note": "@SUM(A1)", "dash": "-2", "tab": "\tx" });
    assert_eq!(app.post_lead(&evil).await.status(), StatusCode::CREATED);
    // Every prefix a spreadsheet reads as a formula, each at the start of its own cell.
    let mut more = lead_body("prefixes@example.com", "sub-csv-00002");
    more["name"] = json!("+1 555 0100");
    more["attribution"] = json!({
        "first": { "utm_source": "-2+3", "utm_medium": "@SUM(A1)", "utm_campaign": "\tx" },
        "last": { "utm_source": "\rx", "utm_medium": "=1" },
    });
    let answer = app.post_lead(&more).await;
    assert_eq!(answer.status(), StatusCode::CREATED, "{:?}", answer.text().await);
    // A formula behind spaces, a line break or a no-break space is a formula to some spreadsheets.
    let mut hidden = lead_body("hidden@example.com", "sub-csv-00003");
    hidden["referrer"] = json!("\n=1+2");
    hidden["consent"]["text"] = json!(" @SUM(1) I agree.");
    hidden["attribution"] = json!({ "last": { "utm_medium": "\u{a0}=2+3", "utm_source": " -1" } });
    let answer = app.post_lead(&hidden).await;
    assert_eq!(answer.status(), StatusCode::CREATED, "{:?}", answer.text().await);
    for i in 0..149 {
        app.post_lead(&lead_body(&format!("bulk{i}@example.com"), &format!("sub-bulk-{i:05}"))).await;
    }
    let resp = app.admin_get("/v1/sites/demo/leads.csv").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = resp.bytes().await.unwrap();
    // A byte order mark first, so Excel reads the file as UTF-8.
    let text = std::str::from_utf8(&bytes).unwrap().strip_prefix('\u{feff}').expect("byte order mark");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 152);
    // A column for each custom answer's name, alphabetically, then the `fields` cell for any
    // answer without one (none here).
    let named: Vec<&str> = header.iter().skip_while(|h| *h != "last_utm_campaign").skip(1).collect();
    assert_eq!(named, ["fields[dash]", "fields[note]", "fields[phone]", "fields[tab]", "fields"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let evil_row = rows.iter().find(|r| r[col("email")].contains("cmd@")).unwrap();
    assert_eq!(&evil_row[col("email")], "'=cmd@example.com");
    assert_eq!(&evil_row[col("name")], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(&evil_row[col("consent_text")], "I agree to receive emails.");
    for row in &rows {
        for cell in row.iter() {
            let shown = cell.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
            assert!(
                cell.starts_with('\'') || !shown.starts_with(['=', '+', '-', '@']),
                "unneutralised cell {cell:?}"
            );
            assert!(!cell.starts_with(['\t', '\r', '\n']), "unneutralised cell {cell:?}");
        }
    }
    for (email, column, cell) in [
        ("hidden@example.com", "referrer", "'\n=1+2"),
        ("hidden@example.com", "consent_text", "' @SUM(1) I agree."),
        ("hidden@example.com", "last_utm_medium", "'\u{a0}=2+3"),
        ("hidden@example.com", "last_utm_source", "' -1"),
    ] {
        let row = rows.iter().find(|r| &r[col("email")] == email).unwrap();
        assert_eq!(&row[col(column)], cell, "{column}");
    }
    let row = rows.iter().find(|r| r[col("email")] == *"prefixes@example.com").unwrap();
    for (column, cell) in [
        ("name", "'+1 555 0100"),
        ("first_utm_source", "'-2+3"),
        ("first_utm_medium", "'@SUM(A1)"),
        ("first_utm_campaign", "'\tx"),
        ("last_utm_source", "'\rx"),
        ("last_utm_medium", "'=1"),
    ] {
        assert_eq!(&row[col(column)], cell, "{column}");
    }
    for (column, cell) in [
        ("fields[phone]", "'+1 555 0100"),
        ("fields[note]", "'@SUM(A1)"),
        ("fields[dash]", "'-2"),
        ("fields", ""),
    ] {
        assert_eq!(&evil_row[col(column)], cell, "{column}");
    }
    assert_eq!(
        &rows.iter().find(|r| &r[col("email")] == "hidden@example.com").unwrap()[col("fields[phone]")],
        ""
    );
    let ids: HashSet<_> = rows.iter().map(|r| r[col("id")].to_owned()).collect();
    assert_eq!(ids.len(), 152);
}

#[tokio::test]
async fn erasure_removes_every_lead_of_the_address_in_any_case_and_nothing_else() {
    let app = spawn_app().await;
    let erase = |query: &str| {
        let request = app.client.delete(app.url(&format!("/v1/sites/demo/leads?email={query}")));
        let request = request.bearer_auth(&app.admin_token);
        async move { request.send().await.unwrap() }
    };
    app.post_lead(&lead_body("Erase.Me@example.com", "sub-erase-0001")).await;
    app.post_lead(&lead_body("erase.me@EXAMPLE.com", "sub-erase-0002")).await;
    app.post_lead(&lead_body("keep@example.com", "sub-erase-0003")).await;
    let resp = erase("ERASE.ME@example.com").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["erased"], 2);
    let left = app.all_leads("demo").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["email"], "keep@example.com");
    let csv = app.admin_get("/v1/sites/demo/leads.csv").await.text().await.unwrap();
    assert!(!csv.to_lowercase().contains("erase.me"));
    // The erased submission ids are free again: a resubmission is a new lead.
    let again = app.post_lead(&lead_body("erase.me@example.com", "sub-erase-0001")).await;
    assert_eq!(again.status(), StatusCode::CREATED);

    // Letter case and Unicode composition beyond ASCII: "Jürgen" typed with a precomposed ü,
    // a decomposed one (u + U+0308) and in capitals is one address.
    app.post_lead(&lead_body("ju\u{308}rgen@b\u{fc}cher.de", "sub-erase-0004")).await;
    app.post_lead(&lead_body("J\u{dc}RGEN@B\u{dc}CHER.de", "sub-erase-0005")).await;
    // The domain as a browser's email field sends it: Punycode.
    app.post_lead(&lead_body("j\u{fc}rgen@xn--bcher-kva.de", "sub-erase-0007")).await;
    let resp = erase("j%C3%BCrgen%40b%C3%BCcher.de").await;
    assert_eq!(resp.json::<Value>().await.unwrap()["erased"], 3);
    // Full case folding: STRASSE is straße.
    app.post_lead(&lead_body("STRASSE@example.de", "sub-erase-0006")).await;
    let resp = erase("stra%C3%9Fe%40example.de").await;
    assert_eq!(resp.json::<Value>().await.unwrap()["erased"], 1);

    let bad = erase("nope").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"]["field"], "email");
}

/// The address in the body keeps it out of every access log between the caller and the server;
/// the query form still works, and an address given both ways is refused, naming `email`.
#[tokio::test]
async fn erasure_takes_the_address_in_a_json_body() {
    let app = spawn_app().await;
    let erase = |query: &str, body: Option<&str>| {
        let mut request = app.client.delete(app.url(&format!("/v1/sites/demo/leads{query}")));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let request = request.bearer_auth(&app.admin_token);
        async move { request.send().await.unwrap() }
    };
    app.post_lead(&lead_body("body.erase@example.com", "sub-erase-body-1")).await;
    app.post_lead(&lead_body("Body.Erase@example.com", "sub-erase-body-2")).await;
    app.post_lead(&lead_body("stays@example.com", "sub-erase-body-3")).await;

    let both = erase("?email=body.erase%40example.com", Some(r#"{"email":"body.erase@example.com"}"#)).await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    assert_eq!(both.json::<Value>().await.unwrap()["error"]["field"], "email");
    for (body, field) in [
        (r#"{"email":"nope"}"#, "email"),
        (r#"{"email":"a@example.com","extra":1}"#, "extra"),
        (r#"{"mail":"a@example.com"}"#, "mail"),
        (r#"["a@example.com"]"#, "body"),
    ] {
        let refused = erase("", Some(body)).await;
        assert!(refused.status().is_client_error(), "{body}: {}", refused.status());
        assert_eq!(refused.json::<Value>().await.unwrap()["error"]["field"], field, "{body}");
    }
    let missing = erase("", None).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["field"], "email");
    let large = erase("", Some(&format!(r#"{{"email":"{}@example.com"}}"#, "a".repeat(5000)))).await;
    assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.all_leads("demo").await.len(), 3, "a refused erasure erases nothing");

    let resp = erase("", Some(r#"{"email":"BODY.ERASE@example.com"}"#)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["erased"], 2);
    let left = app.all_leads("demo").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["email"], "stays@example.com");
}

#[tokio::test]
async fn stats_ranges_are_validated_and_name_the_field() {
    let app = spawn_app().await;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("to=-9999-01-01", "to"),
        ("from=0001-01-01&to=2026-01-02", "from"),
        ("from=2020-01-01", "from"),
    ] {
        let resp = app.admin_get(&format!("/v1/sites/demo/stats?{query}")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], field);
    }
    let ok: Value =
        app.admin_get("/v1/sites/demo/stats?from=2026-11-01&to=2026-11-22").await.json().await.unwrap();
    assert_eq!(ok["from"], "2026-11-01");
    assert_eq!(ok["totals"]["pageviews"], 0);
    // Every day of the range is listed, a day without counts as zeros: a chart's series.
    let days = ok["days"].as_array().unwrap();
    assert_eq!(days.len(), 22);
    assert_eq!(
        days[0],
        serde_json::json!({ "date": "2026-11-01", "pageviews": 0, "visitors": 0, "sessions": 0 })
    );
    assert_eq!(days[21]["date"], "2026-11-22");
    // The default range (30 days up to `to`) starts no earlier than the first countable day.
    let early: Value = app.admin_get("/v1/sites/demo/stats?to=1970-01-05").await.json().await.unwrap();
    assert_eq!(early["from"], "1970-01-01");
}

/// Reads the leads list newest first down to the first id at or below `known` (the newest the
/// last read saw), as a CRM sync polling the API does; returns the newest id this read saw.
async fn sync_newer_than(
    app: &lodestone_tests::TestApp,
    known: Option<&str>,
    synced: &mut HashSet<String>,
) -> Option<String> {
    let mut newest = None;
    let mut cursor = String::new();
    loop {
        let page: Value =
            app.admin_get(&format!("/v1/sites/demo/leads?limit=100{cursor}")).await.json().await.unwrap();
        for lead in page["leads"].as_array().unwrap() {
            let id = lead["id"].as_str().unwrap();
            if known.is_some_and(|k| id <= k) {
                return newest.or(known.map(str::to_owned));
            }
            newest.get_or_insert_with(|| id.to_owned());
            synced.insert(id.to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return newest.or(known.map(str::to_owned)),
        }
    }
}

/// Lead ids follow the order leads are stored in, and a lead is listed only once it is
/// durable: a sync that polls newest first and stops at the newest lead it saw before misses
/// none, however the requests race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_stopping_at_the_newest_lead_it_saw_misses_none_while_leads_race_in() {
    let app = std::sync::Arc::new(spawn_app().await);
    let posters: Vec<_> = (0..32)
        .map(|p| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..50 {
                    let body =
                        lead_body(&format!("s{p}-{i}@example.com"), &format!("sub-sync-{p:02}-{i:03}"));
                    let r = app.post_lead(&body).await;
                    assert_eq!(r.status(), StatusCode::CREATED);
                    ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
                }
                ids
            })
        })
        .collect();
    let mut synced = HashSet::new();
    let mut known = None;
    while !posters.iter().all(|p| p.is_finished()) {
        known = sync_newer_than(&app, known.as_deref(), &mut synced).await;
    }
    let mut acknowledged = HashSet::new();
    for p in posters {
        acknowledged.extend(p.await.unwrap());
    }
    sync_newer_than(&app, known.as_deref(), &mut synced).await;
    assert_eq!(acknowledged.len(), 1600);
    let missed: Vec<_> = acknowledged.difference(&synced).collect();
    assert!(missed.is_empty(), "the sync missed {} of 1600 leads: {missed:?}", missed.len());
    assert_eq!(synced.len(), 1600);
}

#[tokio::test]
async fn a_site_removed_from_the_config_keeps_its_leads_reachable_to_export_and_erase() {
    let data = tempfile::tempdir().unwrap();
    let first = spawn_with(Options { data_dir: Some(data.path().to_owned()), ..Options::default() }).await;
    first.post_lead(&lead_body("stays@example.com", "sub-retired-01")).await;
    first.post_lead(&lead_body("leaves@example.com", "sub-retired-02")).await;
    let events = json!({ "site": "demo", "events": [{ "type": "pageview", "path": "/", "new_visitor": true, "new_session": true }] });
    assert_eq!(first.post_events(&events).await.status(), StatusCode::ACCEPTED);
    first.stop().await;

    // The operator replaces the built-in demo site with their own.
    let toml = r#"
        [[sites]]
        id = "shop"
        allowed_origins = ["https://shop.example"]
    "#;
    let app = spawn_with(Options {
        config_toml: Some(toml.into()),
        data_dir: Some(data.path().to_owned()),
        ..Options::default()
    })
    .await;
    assert_eq!(app.all_leads("demo").await.len(), 2);
    let csv = app.admin_get("/v1/sites/demo/leads.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.text().await.unwrap().contains("leaves@example.com"));
    let erased = app
        .client
        .delete(app.url("/v1/sites/demo/leads?email=leaves@example.com"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.json::<Value>().await.unwrap()["erased"], 1);
    let left: Vec<_> = app.all_leads("demo").await.into_iter().map(|l| l["email"].clone()).collect();
    assert_eq!(left, [json!("stays@example.com")]);
    // With its last lead erased, its counters still keep its stats reachable.
    let erase_last = app.client.delete(app.url("/v1/sites/demo/leads?email=stays@example.com"));
    erase_last.bearer_auth(&app.admin_token).send().await.unwrap();
    assert!(app.all_leads("demo").await.is_empty());
    let stats: Value = app.admin_get("/v1/sites/demo/stats").await.json().await.unwrap();
    assert_eq!(stats["totals"]["pageviews"], 1);
    // Visitors can no longer reach it, and a site that never stored anything is still unknown.
    assert_eq!(
        app.post_lead(&lead_body("new@example.com", "sub-retired-03")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A malformed id is no site at all: 422, naming the field, as the public routes answer.
    for (path, status) in [
        ("/v1/sites/ghost/leads", StatusCode::NOT_FOUND),
        ("/v1/sites/ghost/stats", StatusCode::NOT_FOUND),
        ("/v1/sites/bad%00id/leads", StatusCode::UNPROCESSABLE_ENTITY),
        ("/v1/sites/Bad.Id/leads.csv", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let resp = app.admin_get(path).await;
        assert_eq!(resp.status(), status, "{path}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "site", "{path}");
    }
}
