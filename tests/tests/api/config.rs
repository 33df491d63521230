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

    let again =
        app.client.get(app.url("/v1/sites/demo/config")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = app.client.get(app.url("/v1/sites/ghost/config")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["field"], "site");
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

#[test]
fn the_binary_refuses_a_bad_config_file_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lodestone.toml");
    std::fs::write(&config, "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example/x\"]\n")
        .unwrap();
    let out = Command::new(lodestone_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sites[0].allowed_origins[0]"), "{stderr}");

    std::fs::write(&config, "[[sites]]\nid = \"shop\"\nallowed_origin = []\n").unwrap();
    let out = Command::new(lodestone_binary()).args(["serve", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("allowed_origin"));
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
fn the_binary_refuses_an_empty_or_short_admin_token_from_the_environment_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (env, flag) in [(Some(""), None), (Some("short"), None), (None, Some("fifteen-chars-x"))] {
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
        assert!(stderr.contains("LODESTONE_ADMIN_TOKEN") && stderr.contains("at least 16"), "{stderr}");
    }
}
