//! `POST /v1/leads`: durable acceptance, idempotent retries (racing too), validation errors by
//! field, consent records, the server's score, and plain HTML form posts.

use futures_util::future::join_all;
use lodestone_tests::{DEMO_ORIGIN, Options, lead_body, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn error_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json::<Value>().await.expect("JSON error body"))
}

#[tokio::test]
async fn a_valid_lead_is_answered_201_and_stored_with_consent_record_attribution_and_score() {
    let app = spawn_app().await;
    let resp = app.post_lead(&lead_body("Ada@Example.com", "sub-first-0001")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["created"], true);

    let leads = app.all_leads("demo").await;
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(lead["id"], id);
    assert_eq!(lead["email"], "Ada@example.com");
    assert_eq!(lead["consent"]["text"], "I agree to receive emails.");
    assert_eq!(lead["consent"]["version"], "3");
    assert_eq!(lead["consent"]["granted"], true);
    assert_eq!(lead["consent"]["page_url"], "http://127.0.0.1:8081/pricing?utm_source=newsletter");
    assert!(lead["consent"]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lead["attribution"]["first"]["utm_source"], "google");
    assert_eq!(lead["attribution"]["last"]["utm_source"], "newsletter");
    // The server recomputed the score with the demo rules: 4 views x2, 2 minutes x3, return 5,
    // scroll 5, /pricing* 15 = 39, and flagged the client's 42 as a mismatch.
    assert_eq!(lead["score"]["total"], 39);
    assert_eq!(lead["client_score"]["total"], 42);
    assert_eq!(lead["score_mismatch"], true);
}

#[tokio::test]
async fn the_server_recomputes_the_score_with_decay_referrer_and_utm_rules_and_agrees_bit_for_bit() {
    let app = spawn_with(Options {
        config_toml: Some(
            r#"
            [[sites]]
            id = "demo"
            allowed_origins = ["http://127.0.0.1:8081"]
            [sites.scoring]
            page_view = 4
            engaged_minute = 2
            scroll = [{ percent = 50, points = 3 }]
            referrers = [{ pattern = "*.google.*", points = 10 }]
            utm_campaigns = [{ pattern = "spring-*", points = 6 }]
            caps = { engaged_minutes = 5 }
            half_life_days = 7
            [[sites.campaigns]]
            id = "welcome"
            headline = "Hi"
            "#
            .into(),
        ),
        ..Options::default()
    })
    .await;
    let mut body = lead_body("decay@example.com", "sub-decay-0001");
    body["signals"] = json!({
        "visits": 1, "page_views": 12, "engaged_seconds": 600, "max_scroll_percent": 55, "paths": ["/"],
        "today": 20_014,
        "days": [
            { "day": 20_000, "page_views": 8, "engaged_seconds": 0 },
            { "day": 20_014, "page_views": 4, "engaged_seconds": 600 }
        ],
        "referrer_hosts": ["www.google.com"], "utm_campaigns": ["spring-sale"]
    });
    // 8 views two half-lives ago (a quarter) + 4 today = 6 weighted views x4 = 24; 10 engaged
    // minutes x2 = 20, capped at 5; scroll 50% 3; referrer 10; campaign 6. Total 48.
    let expected = json!({ "total": 48, "explanation": [
        { "reason": "12 page views", "points": 24 },
        { "reason": "10 engaged minutes", "points": 5 },
        { "reason": "scrolled 50% of a page", "points": 3 },
        { "reason": "referrer *.google.*", "points": 10 },
        { "reason": "utm_campaign spring-*", "points": 6 }
    ]});
    body["score"] = expected.clone();
    assert_eq!(app.post_lead(&body).await.status(), StatusCode::CREATED);
    let lead = &app.all_leads("demo").await[0];
    assert_eq!(lead["score"], expected);
    assert_eq!(lead["score_mismatch"], false);
    // The same signals with one point off in the explanation only: flagged.
    let mut body = body.clone();
    body["submission_id"] = json!("sub-decay-0002");
    body["score"]["explanation"][0]["points"] = json!(23);
    assert_eq!(app.post_lead(&body).await.status(), StatusCode::CREATED);
    let flagged = app.all_leads("demo").await.into_iter().filter(|l| l["score_mismatch"] == true).count();
    assert_eq!(flagged, 1);
}

#[tokio::test]
async fn the_same_submission_id_again_answers_200_with_the_same_id_and_stores_nothing() {
    let app = spawn_app().await;
    let body = lead_body("a@example.com", "sub-retry-0001");
    let first: Value = app.post_lead(&body).await.json().await.unwrap();
    let again = app.post_lead(&body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["created"], false);
    // The same id on a different lead is not a retry: refused, naming the field, not answered
    // with the first lead's id while the second is dropped.
    let mut other = body.clone();
    other["email"] = json!("someone-else@example.com");
    let (status, err) = error_of(app.post_lead(&other).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["field"], "submission_id", "{err}");
    assert_eq!(err["error"]["code"], "conflict", "{err}");
    assert_eq!(app.post_lead(&body).await.status(), StatusCode::OK, "the real retry still answers 200");
    assert_eq!(app.all_leads("demo").await.len(), 1);
}

#[tokio::test]
async fn racing_retries_of_one_submission_store_exactly_one_lead() {
    let app = spawn_app().await;
    let body = lead_body("race@example.com", "sub-race-0001");
    let responses = join_all((0..24).map(|_| app.post_lead(&body))).await;
    let mut created = 0;
    let mut ids = Vec::new();
    for r in responses {
        match r.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answered with the same id");
    assert_eq!(app.all_leads("demo").await.len(), 1);
}

#[tokio::test]
async fn each_invalid_field_is_answered_422_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("email", Box::new(|b| b["email"] = json!("not-an-email"))),
        ("email", Box::new(|b| b["email"] = json!(""))),
        ("consent", Box::new(|b| b["consent"]["granted"] = json!(false))),
        ("consent", Box::new(|b| b.as_object_mut().unwrap().remove("consent").map(|_| ()).unwrap())),
        ("website", Box::new(|b| b["website"] = json!("http://spam.example"))),
        ("submission_id", Box::new(|b| b["submission_id"] = json!("x"))),
        ("name", Box::new(|b| b["name"] = json!("n".repeat(101)))),
        ("fields.company", Box::new(|b| b["fields"] = json!({ "company": "c".repeat(501) }))),
        (
            "attribution.last.utm_source",
            Box::new(|b| b["attribution"]["last"]["utm_source"] = json!("u".repeat(201))),
        ),
    ];
    for (field, mutate) in cases {
        let mut body = lead_body("a@example.com", "sub-invalid-01");
        mutate(&mut body);
        let (status, err) = error_of(app.post_lead(&body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(app.all_leads("demo").await.is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_answered_400_and_a_missing_field_is_named() {
    let app = spawn_app().await;
    let (status, err) = error_of(
        app.client
            .post(app.url("/v1/leads"))
            .header("content-type", "text/plain")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "malformed");
    // A lead given as an array, by position, is not a lead.
    let positional = r#"["demo","welcome","arr@example.com",null,{},{"granted":true,"text":"OK","version":"1"},"sub-array-0001"]"#;
    let (status, err) = error_of(app.post_raw("text/plain", positional).await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")), "{err}");

    // A required field left out is named as required, as a form leaving it out is.
    for field in ["site", "campaign", "email", "submission_id"] {
        let mut body = lead_body("a@example.com", "sub-missing-01");
        body.as_object_mut().unwrap().remove(field);
        let (status, err) = error_of(app.post_lead(&body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
        assert_eq!(
            (err["error"]["field"].as_str(), err["error"]["code"].as_str()),
            (Some(field), Some("required"))
        );
    }

    let mut body = lead_body("a@example.com", "sub-missing-01");
    body["consent"]["granted"] = json!("yes");
    let (_, err) = error_of(app.post_lead(&body).await).await;
    assert_eq!(err["error"]["field"], "consent.granted");

    // Anything after the lead (a second lead, junk) is refused, not silently dropped.
    let one = lead_body("first@example.com", "sub-trailing-1").to_string();
    let two = lead_body("second@example.com", "sub-trailing-2").to_string();
    for trailing in [format!("{one}{two}"), format!("{one} garbage")] {
        let (status, err) = error_of(app.post_raw("text/plain", trailing).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("trailing"), "{err}");
    }
    // A custom answer given twice is refused by its name, not overwritten.
    let twice = lead_body("a@example.com", "sub-twice-001").to_string().replacen(
        r#""site""#,
        r#""fields":{"company":"Acme","company":"Evil"},"site""#,
        1,
    );
    let (status, err) = error_of(app.post_raw("text/plain", twice).await).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("fields.company")),
        "{err}"
    );
    // A syntax error inside an object is named at that object.
    let cut = r#"{"site":"demo","campaign":"welcome","email":"a@example.com","consent":{"granted":true,}}"#;
    let (status, err) = error_of(app.post_raw("text/plain", cut).await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("consent")));
    assert!(app.all_leads("demo").await.is_empty());
}

#[tokio::test]
async fn json_labelled_as_a_form_is_json_and_forms_decode_strictly() {
    const FORM: &str = "application/x-www-form-urlencoded";
    let app = spawn_app().await;
    // `curl -d '{...}'` sends JSON as application/x-www-form-urlencoded.
    let json = lead_body("curl@example.com", "sub-curl-0001").to_string();
    assert_eq!(app.post_raw(FORM, json).await.status(), StatusCode::CREATED);
    // So is JSON that is not an object: refused as such, not read as a form without a site.
    let (status, err) = error_of(app.post_raw(FORM, " [1]").await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    // A form's media type in any letter case is a form.
    let form =
        "site=demo&campaign=welcome&email=case%40example.com&consent=on&consent_text=Yes&consent_version=1";
    let resp = app.post_raw("Application/X-WWW-Form-Urlencoded; charset=UTF-8", form).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // Bytes that are not UTF-8 once decoded are refused, naming the field, not stored mangled.
    for (bad, field) in [
        ("site=demo&campaign=welcome&email=%FF%FE%40example.com&consent=on", "email"),
        ("site=demo&campaign=welcome&email=a%40b.co&name=%C3", "name"),
    ] {
        let (status, err) = error_of(app.post_raw(FORM, bad).await).await;
        assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{bad}");
    }
    // A multipart form is refused with a message saying what to send instead.
    let multipart = "--x\r\nContent-Disposition: form-data; name=\"site\"\r\n\r\ndemo\r\n--x--\r\n";
    let (status, err) = error_of(app.post_raw("multipart/form-data; boundary=x", multipart).await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")));
    assert!(err["error"]["message"].as_str().unwrap().contains("multipart"), "{err}");
    let emails: Vec<Value> = app.all_leads("demo").await.iter().map(|l| l["email"].clone()).collect();
    assert_eq!(emails, [json!("case@example.com"), json!("curl@example.com")], "newest first");
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_as_json() {
    let app = spawn_app().await;
    let mut body = lead_body("a@example.com", "sub-big-000001");
    body["fields"] = json!({ "essay": "x".repeat(20_000) });
    let (status, err) = error_of(app.post_lead(&body).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err["error"]["code"], "too_large");
    assert_eq!(err["error"]["field"], "body");
    assert!(err["error"]["message"].as_str().unwrap().contains("(16384 bytes)"), "{err}");

    // A body declared too large is refused at once: no `100 Continue`, nothing read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn =
        tokio::net::TcpStream::connect(app.url("").trim_start_matches("http://").trim_end_matches('/'))
            .await
            .unwrap();
    conn.write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), conn.read_to_end(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn an_unknown_site_or_campaign_is_answered_404_and_a_malformed_one_422_naming_it() {
    let app = spawn_app().await;
    let mut body = lead_body("a@example.com", "sub-unknown-01");
    body["site"] = json!("nope");
    let (status, err) = error_of(app.post_lead(&body).await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::NOT_FOUND, Some("site")));
    body["site"] = json!("demo");
    body["campaign"] = json!("nope");
    let (status, err) = error_of(app.post_lead(&body).await).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::NOT_FOUND, Some("campaign")));
    // Left empty, as the site is, a campaign is a required field, not an unknown one.
    body["campaign"] = json!("");
    let (status, err) = error_of(app.post_lead(&body).await).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("required")));
    assert_eq!(err["error"]["field"], "campaign");
    // An id no site or campaign could have is invalid, as the events route says.
    for (field, bad) in [("campaign", "no such/campaign"), ("site", "Site One")] {
        body[field] = json!(bad);
        let (status, err) = error_of(app.post_lead(&body).await).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
        );
        assert_eq!(err["error"]["field"], field);
    }
}

#[tokio::test]
async fn a_lead_from_an_origin_the_site_does_not_allow_is_answered_403() {
    let app = spawn_app().await;
    let resp = app
        .post_text("/v1/leads", &lead_body("a@example.com", "sub-origin-01"), Some("https://evil.example"))
        .await;
    let (status, err) = error_of(resp).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"]["field"], "origin");
    assert!(app.all_leads("demo").await.is_empty());
}

#[tokio::test]
async fn a_plain_html_form_post_is_stored_and_redirected_to_the_thank_you_page() {
    let app = spawn_app().await;
    let form = [
        ("site", "demo"),
        ("campaign", "welcome"),
        ("email", "form@example.com"),
        ("name", "Form <b>User</b>"),
        ("consent", "on"),
        ("consent_text", "I agree to receive emails."),
        ("consent_version", "3"),
        ("fields[company]", "Acme"),
        // Checkboxes sharing a name: every ticked value is kept.
        ("fields[topics]", "SEO"),
        ("fields[topics]", "Email"),
        ("website", ""),
    ];
    let resp = app
        .post_form(&form, &[("origin", DEMO_ORIGIN), ("referer", "http://127.0.0.1:8081/blog/post.html")])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/v1/thanks?site=demo&campaign=welcome");
    // The lead magnet is a path on the site: the page links it on the site the visitor came from.
    let page = app
        .client
        .get(app.url(&location))
        .header("referer", "http://localhost:8081/blog/post.html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Thanks! Your playbook is ready."));
    assert!(page.contains(r#"href="http://localhost:8081/playbook.html""#), "{page}");

    let leads = app.all_leads("demo").await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["fields"]["company"], "Acme");
    assert_eq!(leads[0]["fields"]["topics"], "SEO, Email");
    assert_eq!(leads[0]["consent"]["granted"], true);
    assert_eq!(leads[0]["page_url"], "http://127.0.0.1:8081/blog/post.html");

    let invalid = [("site", "demo"), ("campaign", "welcome"), ("email", "x")];
    let bad = app.post_form(&invalid, &[]).await;
    let (status, err) = error_of(bad).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")));

    // A browser posting the form shows the answer to a person: the same status, as a page
    // naming the field, with a link back to the form's page (escaped).
    let page_url = "http://127.0.0.1:8081/blog/post.html?a=1&b=\"<x>";
    let accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let bad = app.post_form(&invalid, &[("accept", accept), ("referer", page_url)]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = bad.text().await.unwrap();
    assert!(page.contains("<small>(email)</small>"), "{page}");
    assert!(
        page.contains(
            r#"<a href="http://127.0.0.1:8081/blog/post.html?a=1&amp;b=&quot;&lt;x&gt;">Back to the form</a>"#
        ),
        "{page}"
    );
    assert_eq!(app.all_leads("demo").await.len(), 1, "nothing stored for the bad posts");
}

#[tokio::test]
async fn a_form_as_marketers_write_them_is_taken_as_meant() {
    let app = spawn_app().await;
    let accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let base = [("site", "demo"), ("campaign", "welcome"), ("consent_text", "I agree.")];
    let post = |email: &'static str,
                extra: Vec<(&'static str, &'static str)>,
                headers: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let mut form = base.to_vec();
            form.push(("email", email));
            form.extend(extra);
            app.post_form(&form, &headers).await
        }
    };
    // A ticked box is consent whatever its `value`; a hidden "0" before it is the unticked state.
    for (email, values) in [
        ("yes@example.com", vec![("consent", "Yes")]),
        ("agree@example.com", vec![("consent", "I agree")]),
        ("hidden@example.com", vec![("consent", "0"), ("consent", "1")]),
    ] {
        let resp = post(email, values, vec![("origin", DEMO_ORIGIN)]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{email}");
    }
    for (email, values) in
        [("no@example.com", vec![("consent", "0")]), ("off@example.com", vec![("consent", "OFF")])]
    {
        let (status, err) = error_of(post(email, values, vec![]).await).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("consent"))
        );
    }
    // A ticked box on a form that sends the campaign's configured consent version but not its
    // text is consent to that version's configured text. Without the version, or with another
    // one, the text the visitor saw is unknown: refused.
    let plain =
        [("site", "demo"), ("campaign", "welcome"), ("email", "plain@example.com"), ("consent", "on")];
    for version in [None, Some("0")] {
        let form = [plain.as_slice(), version.map(|v| ("consent_version", v)).as_slice()].concat();
        let (status, err) = error_of(app.post_form(&form, &[]).await).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("consent_text")),
            "{version:?}"
        );
    }
    let form = [plain.as_slice(), &[("consent_version", "1")]].concat();
    assert_eq!(app.post_form(&form, &[]).await.status(), StatusCode::SEE_OTHER);
    let plain = app.all_leads("demo").await.remove(0);
    assert_eq!(plain["email"], "plain@example.com");
    assert_eq!(
        (plain["consent"]["text"].as_str(), plain["consent"]["version"].as_str()),
        (Some("I agree to receive emails from this site. I can unsubscribe at any time."), Some("1"))
    );

    // A refusal names the field as the form does, not by its place in a JSON lead.
    let long_answer = "x".repeat(501);
    let long_tag = "t".repeat(201);
    let named = [
        (("fields[company]", long_answer.as_str()), "fields[company]"),
        (("utm_source", long_tag.as_str()), "utm_source"),
        (("consent_version", long_tag.as_str()), "consent_version"),
    ];
    for ((key, value), field) in named {
        let form =
            [base.as_slice(), &[("email", "named@example.com"), ("consent", "on"), (key, value)]].concat();
        let (status, err) = error_of(app.post_form(&form, &[]).await).await;
        assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)));
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
    }
    // A landing page's long URL (click ids, UTM tags), taken from `Referer`, is shortened to
    // the limit rather than refused: the visitor could not fix it.
    let long = format!("http://127.0.0.1:8081/landing?gclid={}", "x".repeat(3000));
    let form = [base.as_slice(), &[("email", "long@example.com"), ("consent", "on")]].concat();
    let resp = app.post_form(&form, &[("referer", long.as_str())]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let leads = app.all_leads("demo").await;
    let emails: Vec<&str> = leads.iter().map(|l| l["email"].as_str().unwrap()).collect();
    assert_eq!(
        emails,
        [
            "long@example.com",
            "plain@example.com",
            "hidden@example.com",
            "agree@example.com",
            "yes@example.com"
        ]
    );
    assert_eq!(leads[0]["page_url"].as_str().unwrap(), &long[..2048]);
    assert!(leads[1..].iter().all(|l| l["consent"]["granted"] == true));

    // A page served with `Referrer-Policy: no-referrer` posts with `Origin: null`: refused, and
    // the page shown to the person says why and what the site can change.
    let hidden =
        post("null@example.com", vec![("consent", "on")], vec![("origin", "null"), ("accept", accept)]).await;
    assert_eq!(hidden.status(), StatusCode::FORBIDDEN);
    let page = hidden.text().await.unwrap();
    assert!(page.contains("Origin: null") && page.contains("strict-origin-when-cross-origin"), "{page}");
    // A form sent as multipart or text/plain by a browser is refused as a page too, not as JSON.
    for content_type in ["multipart/form-data; boundary=x", "text/plain"] {
        let body = "--x\r\nContent-Disposition: form-data; name=\"site\"\r\n\r\ndemo\r\n--x--\r\n";
        let resp = app
            .client
            .post(app.url("/v1/leads"))
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{content_type}");
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{content_type}");
    }
    assert_eq!(app.all_leads("demo").await.len(), 5, "nothing stored for the refused posts");
}

#[tokio::test]
async fn a_thank_you_path_sends_the_form_poster_back_to_the_site_not_to_the_server() {
    let toml = r#"
        [[sites]]
        id = "shop"
        allowed_origins = ["https://shop.example", "https://www.shop.example"]
        [[sites.campaigns]]
        id = "ebook"
        headline = "Free ebook"
        consent = { required = false }
        success = { thank_you_url = "/thanks?from=ebook" }
    "#;
    let app = spawn_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let post = |email: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let form = [("site", "shop"), ("campaign", "ebook"), ("email", email)];
            let resp = app.post_form(&form, &headers).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            resp.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    let from_www = post("a@example.com", vec![("origin", "https://www.shop.example")]).await;
    assert_eq!(from_www, "https://www.shop.example/thanks?from=ebook");
    let by_referer = post("b@example.com", vec![("referer", "https://www.shop.example/blog?x=1")]).await;
    assert_eq!(by_referer, "https://www.shop.example/thanks?from=ebook");
    // Without a page of the site to go back to, the site's first origin.
    let bare = post("c@example.com", vec![("referer", "https://elsewhere.example/")]).await;
    assert_eq!(bare, "https://shop.example/thanks?from=ebook");
    assert_eq!(app.all_leads("shop").await.len(), 3);
}

#[tokio::test]
async fn a_thank_you_url_outside_ascii_goes_out_percent_encoded() {
    let toml = r#"
        [[sites]]
        id = "shop"
        allowed_origins = ["https://shop.example"]
        [[sites.campaigns]]
        id = "livre"
        headline = "Livre gratuit"
        lang = "fr"
        consent = { required = false }
        success = { thank_you_url = "/merci?livre=été" }
        [[sites.campaigns]]
        id = "buch"
        headline = "Gratis-Buch"
        consent = { required = false }
        success = { thank_you_url = "https://bücher.example/danke/für" }
    "#;
    let app = spawn_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let headers = [("origin", "https://shop.example")];
    let mut locations = Vec::new();
    for (campaign, email) in [("livre", "a@example.com"), ("buch", "b@example.com")] {
        let form = [("site", "shop"), ("campaign", campaign), ("email", email)];
        let resp = app.post_form(&form, &headers).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        // A header value outside ASCII is not a `str`: this fails on raw UTF-8 bytes.
        locations.push(resp.headers()["location"].to_str().expect("an ASCII Location").to_owned());
    }
    assert_eq!(locations[0], "https://shop.example/merci?livre=%C3%A9t%C3%A9");
    assert_eq!(locations[1], "https://b%C3%BCcher.example/danke/f%C3%BCr");
}
