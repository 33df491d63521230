//! The widget config route (ETag, 304, origin), sites from `lodestone.toml`, refused config
//! files, and `--help`.

use std::process::Command;

use lodestone_tests::{DEMO_ORIGIN, Options, lodestone_binary, spawn_app, spawn_with};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_widget_config_is_served_with_an_etag_and_answers_304_when_unchanged() {
    let app = spawn_app().await;
    let resp =
        app.client.get(app.url("/v1/sites/demo/config")).header("origin", DEMO_ORIGIN).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let config: Value = resp.json().await.unwrap();
    assert_eq!(config["site"], "demo");
    assert_eq!(config["campaigns"][0]["id"], "welcome");
    assert!(config["campaigns"][0]["consent"]["text"].as_str().unwrap().len() > 10);

    let get_with = |name: &'static str, value: String| {
        app.client.get(app.url("/v1/sites/demo/config")).header(name, value).send()
    };
    let again = get_with("if-none-match", etag.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // A proxy that compresses weakens the tag; the comparison for If-None-Match is the weak one.
    let weak = get_with("if-none-match", format!("\"stale\", W/{etag}")).await.unwrap();
    assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
    let stale = get_with("if-none-match", "\"stale\"".into()).await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
    let foreign = get_with("origin", "https://evil.example".into()).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(foreign.json::<Value>().await.unwrap()["error"]["field"], "origin");
    let missing = app.client.get(app.url("/v1/sites/ghost/config")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["field"], "site");
    let malformed = app.client.get(app.url("/v1/sites/no%20such/config")).send().await.unwrap();
    assert_eq!(malformed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(malformed.json::<Value>().await.unwrap()["error"]["field"], "site");
}

#[tokio::test]
async fn sites_and_campaigns_come_from_the_config_file() {
    let toml = r#"
        [[sites]]
        id = "shop"
        allowed_origins = ["https://shop.example"]
        [[sites.campaigns]]
        id = "ebook"
        headline = "Free ebook"
        consent = { required = false }
        success = { thank_you_url = "https://shop.example/thanks" }
    "#;
    let app = spawn_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let config: Value =
        app.client.get(app.url("/v1/sites/shop/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["campaigns"][0]["headline"], "Free ebook");
    assert_eq!(
        app.client.get(app.url("/v1/sites/demo/config")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let form = [("site", "shop"), ("campaign", "ebook"), ("email", "b@shop.example")];
    let resp = app.post_form(&form, &[("origin", "https://shop.example")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "https://shop.example/thanks");
}

#[tokio::test]
async fn the_thank_you_page_speaks_the_campaigns_language_in_its_direction() {
    let toml = r#"
        [[sites]]
        id = "souk"
        allowed_origins = ["https://souk.example"]
        [[sites.campaigns]]
        id = "dalil"
        headline = "Lodestone: الدليل المجاني"
        lang = "ar"
        dir = "rtl"
        consent = { required = false }
        success = { message = "شكراً <لك>", lead_magnet_url = "/dalil.pdf" }
        text = { download = "تنزيل الدليل" }
        [[sites.campaigns]]
        id = "plain"
        headline = "Free guide"
        consent = { required = false }
        success = { message = "Thanks!", lead_magnet_url = "/guide.pdf" }
        [[sites.campaigns]]
        id = "guide"
        headline = "Le guide"
        lang = "fr"
        consent = { required = false }
        success = { message = "Merci !", lead_magnet_url = "/guide-fr.pdf" }
    "#;
    let app = spawn_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let page = |campaign: &'static str| {
        let url = app.url(&format!("/v1/thanks?site=souk&campaign={campaign}"));
        async { app.client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let arabic = page("dalil").await;
    assert!(arabic.starts_with(r#"<!doctype html><html lang="ar" dir="rtl">"#), "{arabic}");
    assert!(arabic.contains("<title>شكراً &lt;لك&gt;</title>"), "{arabic}");
    assert!(arabic.contains(r#"<a href="https://souk.example/dalil.pdf">تنزيل الدليل</a>"#), "{arabic}");
    // A way back to the site, named by its host in no language: the site's first origin...
    assert!(arabic.contains(r#"<a href="https://souk.example/" dir="ltr">souk.example</a>"#), "{arabic}");
    // ...or the page the form was on, when it is on the site (never another site's page).
    let app_ref = &app;
    let back = |referer: &'static str| {
        let url = app_ref.url("/v1/thanks?site=souk&campaign=plain");
        async move {
            app_ref.client.get(url).header("referer", referer).send().await.unwrap().text().await.unwrap()
        }
    };
    let from_page = back("https://souk.example/guides?x=1&y=<2>").await;
    assert!(
        from_page.contains(
            r#"<a href="https://souk.example/guides?x=1&amp;y=&lt;2&gt;" dir="ltr">souk.example</a>"#
        ),
        "{from_page}"
    );
    let elsewhere = back("https://evil.example/phish").await;
    assert!(
        !elsewhere.contains("evil.example") && elsewhere.contains(r#"href="https://souk.example/""#),
        "{elsewhere}"
    );
    // No language declared: English, the direction following the text.
    let plain = page("plain").await;
    assert!(plain.starts_with(r#"<!doctype html><html lang="en" dir="auto">"#), "{plain}");
    assert!(plain.contains(r#"/guide.pdf">Download now</a>"#), "{plain}");
    // A campaign in French that left the link's words unset: they are English, and say so.
    let french = page("guide").await;
    assert!(french.starts_with(r#"<!doctype html><html lang="fr" dir="auto">"#), "{french}");
    assert!(french.contains(r#"/guide-fr.pdf" lang="en">Download now</a>"#), "{french}");
    // The widget's config carries both, for the popup.
    let config: Value =
        app.client.get(app.url("/v1/sites/souk/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&config["campaigns"][0]["lang"], &config["campaigns"][0]["dir"]),
        (&Value::from("ar"), &Value::from("rtl"))
    );
    assert!(config["campaigns"][1].get("dir").is_none(), "{config}");
    // A campaign that is not there, or an id no campaign could have.
    for (query, status, field) in [
        ("site=souk&campaign=gone", StatusCode::NOT_FOUND, "campaign"),
        ("site=souk", StatusCode::UNPROCESSABLE_ENTITY, "campaign"),
        ("site=souk%21&campaign=dalil", StatusCode::UNPROCESSABLE_ENTITY, "site"),
    ] {
        let resp = app.client.get(app.url(&format!("/v1/thanks?{query}"))).send().await.unwrap();
        assert_eq!(resp.status(), status, "{query}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], field, "{query}");
    }
}

#[test]
fn the_binary_refuses_a_bad_config_file_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lodestone.toml");
    let cases = [
        (
            "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example/x\"]\n",
            "sites[0].allowed_origins[0]",
        ),
        ("[[sites]]\nid = \"shop\"\nallowed_origin = []\n", "unknown field `allowed_origin`"),
        // A value of the wrong type is named by its path, not only shown at its line.
        (
            "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example\", 42]\n",
            "key `sites[0].allowed_origins[1]`",
        ),
    ];
    for (text, named) in cases {
        std::fs::write(&config, text).unwrap();
        let out = refused(
            Command::new(lodestone_binary())
                .args(["serve", "--listen", "127.0.0.1:0", "--config"])
                .arg(&config)
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .env("RUST_BACKTRACE", "1"),
        );
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("lodestone: cannot start\n") && stderr.contains(named), "{stderr}");
        // The operator's message, not the program's insides.
        assert!(!stderr.contains("backtrace") && !stderr.contains("main.rs"), "{stderr}");
        assert!(!dir.path().join("data").exists(), "a refused start creates no data directory");
    }
}

/// Runs `lodestone` expecting it to refuse to start: its output, or a failure (not a hang)
/// when it starts serving instead.
fn refused(command: &mut Command) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lodestone started instead of refusing: {command:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Every refusal comes before the data directory is created, and a misspelt log level is a
/// refusal, not a silent end of all logging.
#[test]
fn refused_settings_create_no_data_directory_and_a_misspelt_log_level_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases = [
        ("LODESTONE_ADMIN_TOKEN", "short", 1, "--admin-token (LODESTONE_ADMIN_TOKEN) must be at least 16"),
        ("LODESTONE_METRICS_TOKEN", "with spaces in it ok", 1, "--metrics-token (LODESTONE_METRICS_TOKEN)"),
        (
            "LODESTONE_ADMIN_TOKEN",
            "change-me-to-a-long-random-string",
            1,
            "--admin-token (LODESTONE_ADMIN_TOKEN) is the README's example value",
        ),
        ("LODESTONE_CLIENT_IP_HEADER", "bad header", 1, "--client-ip-header"),
        ("LODESTONE_LOG", "warning", 2, "LODESTONE_LOG: `warning` is not a level"),
        ("LODESTONE_LOG", "info,ingest=loud", 2, "LODESTONE_LOG: `info,ingest=loud`"),
    ];
    for (var, value, code, says) in cases {
        let out = refused(
            Command::new(lodestone_binary())
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(&data)
                .env(var, value),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{var}={value}: {stderr}");
        assert!(stderr.contains(says), "{var}={value}: {stderr}");
        assert!(!data.exists(), "{var}={value} created the data directory");
    }
}

/// clap names a refused value by its flag: one set through the environment is named by its
/// variable too (the flag appears nowhere in what the operator wrote).
#[test]
fn a_bad_value_from_the_environment_names_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in
        [("LODESTONE_RATE_LIMIT", "120/min"), ("LODESTONE_CACHE_MB", "0"), ("LODESTONE_LISTEN", "nowhere")]
    {
        let out = Command::new(lodestone_binary())
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("'{value}'")) && stderr.contains(&format!("environment variable {var}")),
            "{stderr}"
        );
    }
    // A value clap takes but the server refuses is named both ways too.
    let out = Command::new(lodestone_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("LODESTONE_CLIENT_IP_HEADER", "bad header")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--client-ip-header (LODESTONE_CLIENT_IP_HEADER)"), "{stderr}");
    // Given on the command line, the flag is what the operator wrote: no variable is blamed.
    let out = Command::new(lodestone_binary())
        .args(["serve", "--rate-limit-per-minute", "fast", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("LODESTONE_RATE_LIMIT", "60")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--rate-limit-per-minute") && !stderr.contains("environment variable"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_stops_the_server_before_it_creates_its_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let out = Command::new(lodestone_binary())
        .args(["serve", "--listen", &address, "--data-dir"])
        .arg(&data)
        .env("LODESTONE_ADMIN_TOKEN", "a-token-long-enough-for-the-check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
    assert!(!data.exists(), "the data directory was created by a server that could not listen");
    drop(taken);
}

#[test]
fn help_documents_every_setting_and_its_environment_variable() {
    let out = Command::new(lodestone_binary()).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "LODESTONE_LISTEN",
        "--data-dir",
        "LODESTONE_DATA_DIR",
        "--config",
        "LODESTONE_CONFIG",
        "LODESTONE_ADMIN_TOKEN",
        "LODESTONE_RATE_LIMIT",
        "LODESTONE_CACHE_MB",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn the_binary_refuses_an_admin_token_that_is_short_or_no_bearer_header_could_carry() {
    let dir = tempfile::tempdir().unwrap();
    for (env, flag, says) in [
        (Some(""), None, "at least 16"),
        (Some("short"), None, "at least 16"),
        (None, Some("fifteen-chars-x"), "at least 16"),
        // A header value is ASCII, and the bearer value is read without surrounding spaces:
        // these could never match, so every admin request would be refused.
        (Some("pässwort-sehr-geheim-123"), None, "visible ASCII"),
        (None, Some("a long token with spaces in it"), "visible ASCII"),
        (Some("trailing-space-token-0123 "), None, "visible ASCII"),
    ] {
        let mut cmd = Command::new(lodestone_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path().join("data"));
        cmd.env_remove("LODESTONE_ADMIN_TOKEN");
        if let Some(value) = env {
            cmd.env("LODESTONE_ADMIN_TOKEN", value);
        }
        if let Some(value) = flag {
            cmd.args(["--admin-token", value]);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "started with token {env:?} {flag:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("LODESTONE_ADMIN_TOKEN") && stderr.contains(says), "{stderr}");
    }
}

#[test]
fn the_binary_refuses_a_short_metrics_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(lodestone_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-token", "fifteen-chars-x", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("LODESTONE_ADMIN_TOKEN", "admin-token-0123456789")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with a short metrics token");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LODESTONE_METRICS_TOKEN") && stderr.contains("at least 16"), "{stderr}");
}
