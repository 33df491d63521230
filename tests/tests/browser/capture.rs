//! Capturing a lead in the browser: conversion with consent, attribution and score; field
//! errors; leads queued while the server is down and delivered exactly once later.

use std::time::{Duration, Instant};

use lodestone_tests::browser::{Browser, Device, Stack, browser, stack, stack_with};
use lodestone_tests::{Options, spawn_with};
use serde_json::{Value, json};

use crate::DEMO_CONSENT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_a_cross_origin_page_converts_and_the_lead_is_stored_with_consent_attribution_and_score()
{
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    // A parameter that is neither a campaign tag nor an ad click id (a token, an address) is
    // neither kept in the visitor's storage nor sent with the lead.
    b.goto(
        &s.page("/blog/lead-magnets.html?utm_source=newsletter&reset=s3cr3t&utm_campaign=launch&gclid=Cj0"),
    )
    .await;
    b.js(
        "window.__leads = []; addEventListener('lodestone:lead', function (e) { __leads.push(e.detail); });",
    )
    .await;
    b.wait_for_popup(10).await;
    let storage: String = serde_json::from_value(b.js("return JSON.stringify(localStorage);").await).unwrap();
    assert!(storage.contains("gclid=Cj0") && !storage.contains("s3cr3t"), "{storage}");
    assert_eq!(
        b.in_widget("root.querySelector('[role=dialog]').getAttribute('aria-modal')").await,
        json!("true")
    );
    b.type_into("name", "Grace Hopper").await;
    b.submit_lead("grace@example.com").await;
    b.wait_until("window.__leads.length === 1", 10).await;
    assert_eq!(b.in_widget("!root.querySelector('.success').closest('[hidden]')").await, json!(true));
    assert_eq!(
        b.in_widget("root.querySelector('.download').getAttribute('href')").await,
        json!("/playbook.html")
    );
    // The success view takes focus at its download link, and the consent box said it was required.
    b.wait_until(
        "(document.querySelector('[data-lodestone]').shadowRoot.activeElement || {}).className === 'download'",
        5,
    )
    .await;
    assert_eq!(
        b.in_widget("root.querySelector('#ls-consent').getAttribute('aria-required')").await,
        json!("true")
    );

    let leads = s.app.all_leads("demo").await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    let lead = &leads[0];
    let event: Value = b.js("return window.__leads[0];").await;
    assert_eq!(event["id"], lead["id"]);
    assert_eq!(event["campaign"], "welcome");
    assert_eq!(lead["email"], "grace@example.com");
    assert_eq!(lead["name"], "Grace Hopper");
    assert_eq!(lead["consent"]["granted"], true);
    assert_eq!(lead["consent"]["text"], DEMO_CONSENT);
    assert_eq!(lead["consent"]["version"], "1");
    assert!(
        lead["page_url"]
            .as_str()
            .unwrap()
            .ends_with("/blog/lead-magnets.html?utm_source=newsletter&utm_campaign=launch&gclid=Cj0"),
        "{lead}"
    );
    let landing = lead["attribution"]["first"]["landing_page"].as_str().unwrap();
    assert!(
        landing.ends_with("/blog/lead-magnets.html?utm_source=newsletter&utm_campaign=launch&gclid=Cj0"),
        "{lead}"
    );
    assert_eq!(lead["attribution"]["first"]["utm_source"], "newsletter");
    assert_eq!(lead["attribution"]["last"]["utm_campaign"], "launch");
    assert_eq!(lead["signals"]["page_views"], 1);
    assert!(lead["score"]["total"].as_i64().unwrap() > 0, "{lead}");
    assert_eq!(lead["client_score"], lead["score"], "browser and server agree, explanation included");
    assert_eq!(lead["score_mismatch"], false);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_email_shows_an_error_tied_to_the_field_and_sends_nothing() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    b.submit_lead("not-an-email").await;
    b.wait_until(
        "document.querySelector('[data-lodestone]').shadowRoot.querySelector('#ls-email-error').textContent.length > 0",
        5,
    )
    .await;
    let field = b
        .in_widget(
            "(function(){var i=root.querySelector('input[name=email]');var e=root.getElementById(i.getAttribute('aria-describedby'));\
             return {invalid:i.getAttribute('aria-invalid'),error:e.textContent,live:e.getAttribute('aria-live'),focused:root.activeElement===i};})()",
        )
        .await;
    assert_eq!(field["invalid"], "true");
    assert_eq!(field["live"], "polite");
    assert_eq!(field["focused"], true);
    assert!(field["error"].as_str().unwrap().contains("valid email"), "{field}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(s.app.all_leads("demo").await.is_empty());
    assert_eq!(
        b.js("return (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length;").await,
        json!(0)
    );
    b.close().await;
}

/// The description of the focused control in the popup, as a screen reader reads it: the
/// texts of the elements its `aria-describedby` names, in order.
const FOCUSED_DESCRIPTION: &str = "(root.activeElement.getAttribute('aria-describedby') || '').split(' ').filter(Boolean).map(function (id) { return root.getElementById(id).textContent.trim(); }).join(' ')";

/// Waits until the control focused in the popup is described as `text`.
async fn focus_described_as(b: &Browser, text: &str) {
    let root = "document.querySelector('[data-lodestone]').shadowRoot";
    b.wait_until(&format!("(function (root) {{ return {FOCUSED_DESCRIPTION}; }})({root}) === {text:?}"), 5)
        .await;
}

/// The queued lead's backoff has run out (by the page's clock): the next page retries it.
const PAST_BACKOFF: &str = "Date.now() > (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || [{ next: Infinity }])[0].next + 250";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_submitted_while_the_server_is_down_arrives_exactly_once_on_a_later_page() {
    let mut s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    // Lead delivery is its own module: not downloaded while no popup is on screen (the
    // campaign waits 3 s) and no lead is queued, downloaded once the popup shows.
    b.wait_until(CONFIG_LOADED, 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.js(LEADS_LOADED).await, json!(false), "lead delivery loaded before it was needed");
    b.wait_for_popup(10).await;
    b.wait_until(&format!("(function () {{ {LEADS_LOADED} }})()"), 10).await;
    let app = std::mem::replace(&mut s.app, spawn_with(Options::default()).await);
    app.stop().await;
    b.submit_lead("offline@example.com").await;
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.note').hidden", 10)
        .await;
    assert_eq!(
        b.js("return (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length;").await,
        json!(1)
    );

    // While the server is still down, the visitor browses on past the first backoff (5 s):
    // the config does not load, the retry fails, and the lead stays queued for later.
    b.wait_until(PAST_BACKOFF, 15).await;
    b.goto(&s.page("/index.html")).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || [{}])[0].n === 2", 10).await;

    // The server comes back on the same address with the same data.
    let back = spawn_with(Options {
        listen: Some(s.ingest_addr),
        data_dir: Some(s.data_dir.path().to_owned()),
        allowed_origins: vec![s.site.base.clone()],
        assets_dir: Some(lodestone_tests::browser::widget_dist()),
        ..Options::default()
    })
    .await;
    assert!(back.all_leads("demo").await.is_empty());
    // The next retry waits out its backoff (10 s after the failed one); the visitor browses on.
    b.wait_until(PAST_BACKOFF, 20).await;
    b.goto(&s.page("/fixtures/long.html")).await;
    assert!(back.wait_for_leads("demo", 1, 10).await > 0, "the queued lead never arrived");
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length === 0", 5).await;
    // The first page already told the visitor (and the host page) the lead was queued: its
    // delivery is not announced again. The server counts the conversion once it has the lead
    // (the first page's counter would have gone to the server that was down).
    assert_eq!(
        b.js("return window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; }).length;")
            .await,
        json!(0)
    );
    assert_eq!(welcome_converted(&back, 1).await["converted"], 1);
    b.goto(&s.page("/index.html")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(welcome_converted(&back, 2).await["converted"], 1);
    // Nothing queued and the campaign converted (no popup): lead delivery is not downloaded.
    assert_eq!(b.js(LEADS_LOADED).await, json!(false), "lead delivery loaded with nothing to deliver");
    let leads = back.all_leads("demo").await;
    assert_eq!(leads.len(), 1, "exactly once: {leads:?}");
    assert_eq!(leads[0]["email"], "offline@example.com");
    b.close().await;
}

/// Whether this page has downloaded the lead delivery module.
const LEADS_LOADED: &str = "return performance.getEntriesByType('resource').some(function (e) { return /leads-[0-9a-f]+\\.wasm$/.test(e.name); });";
/// Whether this page has its site config.
const CONFIG_LOADED: &str = "performance.getEntriesByType('resource').some(function (e) { return /\\/v1\\/sites\\/demo\\/config$/.test(e.name); })";

/// The demo site's stats for today, once its `welcome` campaign counts `converted` conversions.
async fn welcome_converted(app: &lodestone_tests::TestApp, converted: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats: Value = app.admin_get("/v1/sites/demo/stats").await.json().await.unwrap();
        let welcome =
            stats["campaigns"].as_array().unwrap().iter().find(|c| c["campaign"] == "welcome").cloned();
        let welcome = welcome.unwrap_or(Value::Null);
        if welcome["converted"] == converted || Instant::now() > deadline {
            return welcome;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A visitor on a page submits a lead that the server stores, but whose answer the page never
/// hears.
async fn submitted_unanswered(email: &str) -> (Stack, Browser) {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    b.js("var send = window.fetch; window.fetch = function (u, o) { send(u, o); return new Promise(function () {}); };")
        .await;
    b.submit_lead(email).await;
    assert!(s.app.wait_for_leads("demo", 1, 10).await > 0, "the lead never arrived");
    (s, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_whose_answer_the_visitor_left_before_counts_its_conversion_once_on_the_next_page() {
    // The request reaches the server, but this page never hears the answer: the visitor has
    // gone on to the next page first.
    let (s, b) = submitted_unanswered("gone@example.com").await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo').indexOf('converted');").await, json!(-1));

    // The next page (it loads the test probe before the widget) sends the queued lead again:
    // the server answers with the stored lead's id.
    let leads = "window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; })";
    b.goto(&s.page("/fixtures/long.html")).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length === 0", 10).await;
    b.wait_until(&format!("{leads}.length === 1"), 5).await;
    let stored = s.app.all_leads("demo").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let event = b.js(&format!("return {leads}[0].detail;")).await;
    assert_eq!(event, json!({ "campaign": "welcome", "id": stored[0]["id"], "queued": false }));
    assert!(
        b.js("return localStorage.getItem('lodestone:demo');").await.as_str().unwrap().contains("converted"),
        "the campaign is remembered as converted"
    );
    assert_eq!(welcome_converted(&s.app, 1).await["converted"], 1);

    // Counted once: a later page neither sends it again nor counts it again.
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(b.js(&format!("return {leads}.length;")).await, json!(0));
    assert_eq!(welcome_converted(&s.app, 2).await["converted"], 1);
    assert_eq!(s.app.all_leads("demo").await.len(), 1);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tab_leaves_a_lead_to_the_tab_waiting_for_its_answer_until_that_tab_is_closed() {
    // The answer is slow to come back to this tab.
    let (s, b) = submitted_unanswered("tabs@example.com").await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    let leads = "window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; })";
    b.goto(&s.page("/fixtures/long.html")).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The second tab neither sends the lead nor tells of it: the first one will.
    assert_eq!(b.js(&format!("return {leads}.length;")).await, json!(0));
    assert_eq!(
        b.js("return (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length;").await,
        json!(1)
    );
    // The first tab is closed before its answer came: the next page the visitor opens sends
    // the lead at once and tells of it, once.
    b.client.switch_to_window(first).await.unwrap();
    b.client.close_window().await.unwrap();
    b.client.switch_to_window(second).await.unwrap();
    b.client.refresh().await.unwrap();
    b.wait_until(&format!("{leads}.length === 1"), 5).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length === 0", 5).await;
    assert_eq!(welcome_converted(&s.app, 1).await["converted"], 1);
    assert_eq!(s.app.all_leads("demo").await.len(), 1);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_another_tab_delivered_and_told_of_is_not_told_of_again_when_its_own_answer_comes() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    let leads = "window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; })";
    b.goto(&s.page("/fixtures/long.html")).await;
    b.wait_for_popup(10).await;
    // The server stores the lead; its answer is held back from this tab until `__answer()`.
    b.js("var send = window.fetch; window.fetch = function (u, o) { var p = send(u, o);\
          return new Promise(function (done) { window.__answer = function () { p.then(done); }; }); };")
        .await;
    b.submit_lead("slow@example.com").await;
    b.wait_until("typeof window.__answer === 'function'", 10).await;
    let first = b.client.window().await.unwrap();
    // Past the time other tabs leave it to this one (as if the answer took longer than that),
    // another tab sends it again and tells of it.
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second).await.unwrap();
    b.edit_storage(
        &s.page("/playbook.html"),
        "var k='lodestone:demo:queue',q=JSON.parse(localStorage.getItem(k));q[0].next=0;localStorage.setItem(k,JSON.stringify(q));",
    )
    .await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_until(&format!("{leads}.length === 1"), 10).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length === 0", 5).await;
    // Then the first tab hears its own answer: its popup shows the success, and nobody is
    // told a second time.
    b.client.switch_to_window(first).await.unwrap();
    b.js("window.__answer();").await;
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.success').closest('[hidden]')", 10).await;
    assert_eq!(b.js(&format!("return {leads}.length;")).await, json!(0), "told of twice");
    assert_eq!(welcome_converted(&s.app, 2).await["converted"], 1, "counted twice");
    assert_eq!(s.app.all_leads("demo").await.len(), 1);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_from_a_page_with_a_very_long_address_is_stored_with_the_address_cut_to_the_limit() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    // Ad and tracking parameters can take an address past the 2,048 characters a lead keeps.
    let long = "x".repeat(3000);
    b.goto(&s.page(&format!("/blog/lead-magnets.html?gclid={long}"))).await;
    b.js(
        "window.__leads = []; addEventListener('lodestone:lead', function (e) { __leads.push(e.detail); });",
    )
    .await;
    b.wait_for_popup(10).await;
    b.submit_lead("long@example.com").await;
    b.wait_until("window.__leads.length === 1", 10).await;
    let leads = s.app.all_leads("demo").await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    let page_url = leads[0]["page_url"].as_str().unwrap();
    assert_eq!(page_url.chars().count(), 2048);
    assert!(page_url.contains("/blog/lead-magnets.html?gclid=xxx"), "{page_url}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_in_another_language_speaks_it_throughout_the_popup() {
    let toml = r#"[[sites]]
id = "demo"
allowed_origins = ["{{SITE_ORIGIN}}"]
[[sites.campaigns]]
id = "livre"
headline = "Le guide des prix"
lang = "fr"
button_label = "Recevoir le guide"
ask_name = true
consent = { text = "J'accepte de recevoir des e-mails.", version = "1" }
success = { message = "Merci !", lead_magnet_url = "/guide.pdf" }
[sites.campaigns.text]
email = "Adresse e-mail"
name = "Nom"
optional = "(facultatif)"
email_required = "Veuillez saisir votre adresse e-mail."
email_invalid = "Adresse invalide, par exemple nom@exemple.fr."
consent_required = "Veuillez cocher la case pour accepter."
error = "Une erreur est survenue. Veuillez réessayer."
unsent = "Serveur injoignable : vos coordonnées sont gardées et partiront d'elles-mêmes."
download = "Télécharger"
close = "Fermer"
"#;
    let mut s = stack_with(Options { config_toml: Some(toml.to_owned()), ..Options::default() }).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    let labels = b
        .in_widget(
            "[root.querySelector('label[for=ls-email]').textContent, root.querySelector('label[for=ls-name]').textContent, \
             root.querySelector('.close').getAttribute('aria-label')]",
        )
        .await;
    assert_eq!(labels, json!(["Adresse e-mail", "Nom (facultatif)", "Fermer"]));
    // Its own words inherit its language: none is marked as English.
    let english = "root.querySelectorAll('[lang=en]').length";
    assert_eq!(b.in_widget(english).await, json!(0));
    assert_eq!(b.in_widget("root.querySelector('[role=dialog]').lang").await, json!("fr"));

    let error = |id: &str| format!("root.querySelector('#{id}').textContent");
    let shows = |id: &str, text: &str| {
        format!(
            "document.querySelector('[data-lodestone]').shadowRoot.querySelector('#{id}').textContent === {text:?}"
        )
    };
    b.click_in_widget("button[type=submit]").await;
    b.wait_until(&shows("ls-email-error", "Veuillez saisir votre adresse e-mail."), 5).await;
    b.type_into("email", "pas-une-adresse").await;
    b.click_in_widget("button[type=submit]").await;
    b.wait_until(&shows("ls-email-error", "Adresse invalide, par exemple nom@exemple.fr."), 5).await;
    b.in_widget("(function(){var i=root.querySelector('input[name=email]');i.value='';i.dispatchEvent(new Event('input'));})()")
        .await;
    b.type_into("email", "marie@example.com").await;
    b.click_in_widget("button[type=submit]").await;
    b.wait_until(&shows("ls-consent-error", "Veuillez cocher la case pour accepter."), 5).await;
    assert_eq!(b.in_widget(&error("ls-email-error")).await, json!(""));
    assert_eq!(b.in_widget(english).await, json!(0));

    // A refusal of the whole lead (here the anti-spam field, filled) is worded by the campaign.
    let fill = |name: &str, value: &str| {
        format!(
            "(function(){{var i=root.querySelector('input[name={name}]');i.value={value:?};i.dispatchEvent(new Event('input'));}})()"
        )
    };
    b.click_in_widget("input[name=consent]").await;
    b.in_widget(&fill("ls-trap", "http://spam.example")).await;
    b.click_in_widget("button[type=submit]").await;
    b.wait_until(
        "document.querySelector('[data-lodestone]').shadowRoot.querySelector('[role=alert]').textContent === 'Une erreur est survenue. Veuillez réessayer.'",
        5,
    )
    .await;
    assert!(s.app.all_leads("demo").await.is_empty());

    // Sent: a tab or line separator pasted into the name arrives as a space, and a
    // text-direction control goes, rather than the whole lead being refused.
    b.in_widget(&fill("ls-trap", "")).await;
    b.in_widget(&fill("name", "\u{202e}Marie\tCurie\u{2028}")).await;
    b.click_in_widget("button[type=submit]").await;
    // The success view (always in the popup, hidden until then) shows, without the note that
    // the lead is kept for later.
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.success').closest('[hidden]')", 5)
        .await;
    assert_eq!(b.in_widget("root.querySelector('.note').hidden").await, json!(true));
    assert_eq!(b.in_widget("root.querySelector('.download').textContent").await, json!("Télécharger"));
    // The control that takes focus is described by the success message, so a screen reader
    // reads it out.
    focus_described_as(&b, "Merci !").await;
    let leads = s.app.all_leads("demo").await;
    assert_eq!((leads.len(), &leads[0]["name"]), (1, &json!("Marie Curie")), "{leads:?}");

    // The server out of reach: the lead is kept, and the success view says so in French.
    // A reset forgets the conversion made on this page too, also once the new visitor's
    // history is stored (at their next engaged second): the next page shows the popup again.
    b.js("lodestone.reset();").await;
    b.js("window.dispatchEvent(new MouseEvent('mousemove'));").await;
    b.wait_until("localStorage.getItem('lodestone:demo') !== null", 5).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    let app = std::mem::replace(&mut s.app, spawn_with(Options::default()).await);
    app.stop().await;
    b.submit_lead("pierre@example.com").await;
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.note').hidden", 10)
        .await;
    assert_eq!(
        b.in_widget("root.querySelector('.note').textContent").await,
        json!("Serveur injoignable : vos coordonnées sont gardées et partiront d'elles-mêmes.")
    );
    focus_described_as(
        &b,
        "Merci ! Serveur injoignable : vos coordonnées sont gardées et partiront d'elles-mêmes.",
    )
    .await;
    println!("French campaign, sent later: {}", b.screenshot("campaign-in-french").await.display());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_the_server_refuses_shows_its_message_at_the_field_and_is_not_kept() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    // The server refuses the lead for good, naming the field (a rule the browser does not know).
    b.js("var send = window.fetch;\
          window.fetch = function (u, o) {\
            if (String(u).indexOf('/v1/leads') < 0) return send(u, o);\
            var body = JSON.stringify({ error: { field: 'email', code: 'not_allowed', message: 'Use your work address, please.', extra: 1 } });\
            return Promise.resolve(new Response(body, { status: 422, headers: { 'content-type': 'application/json' } }));\
          };")
        .await;
    b.submit_lead("refused@example.com").await;
    b.wait_until(
        "document.querySelector('[data-lodestone]').shadowRoot.querySelector('#ls-email-error').textContent === 'Use your work address, please.'",
        10,
    )
    .await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo:queue');").await, json!(null));
    assert_eq!(
        b.js("return window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; }).length;")
            .await,
        json!(0)
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_answered_by_something_other_than_the_server_stays_queued_until_the_server_has_it() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    // A proxy, firewall or CDN in front of the server answers the lead with its own page.
    b.js("var send = window.fetch; window.__answer = { status: 404, body: '<html><h1>Not Found</h1></html>' };\
          window.fetch = function (u, o) {\
            if (String(u).indexOf('/v1/leads') < 0 || !window.__answer) return send(u, o);\
            return Promise.resolve(new Response(__answer.body, { status: __answer.status, headers: { 'content-type': 'text/html' } }));\
          };")
        .await;
    b.submit_lead("proxied@example.com").await;
    // The visitor is told it will be sent, as when the server cannot be reached.
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.note').hidden", 10)
        .await;
    let queued = "(JSON.parse(localStorage.getItem('lodestone:demo:queue')) || [])";
    assert_eq!(b.js(&format!("return {queued}.length;")).await, json!(1));
    // A 200 that is not the server's answer (a captive portal, a login page) does not count.
    b.js("window.__answer = { status: 200, body: '<html>Sign in</html>' };").await;
    b.wait_until(PAST_BACKOFF, 15).await;
    b.js("history.pushState({}, '', '/fixtures/next-1');").await;
    b.wait_until(&format!("({queued}[0] || {{}}).n === 2"), 10).await;
    assert!(s.app.all_leads("demo").await.is_empty());
    // Once the server itself answers, the lead arrives, once.
    b.js("window.__answer = null;").await;
    b.wait_until(PAST_BACKOFF, 20).await;
    b.js("history.pushState({}, '', '/fixtures/next-2');").await;
    b.wait_until(&format!("{queued}.length === 0"), 10).await;
    let leads = s.app.all_leads("demo").await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(leads[0]["email"], "proxied@example.com");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_whose_request_stalls_is_queued_after_ten_seconds_and_the_visitor_told_so() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    // The network swallows the request: no answer, no error, until the request is aborted.
    b.js("var send = window.fetch; window.fetch = function (u, o) {\
            if (String(u).indexOf('/v1/leads') < 0) return send(u, o);\
            return new Promise(function (_, fail) { if (o && o.signal) o.signal.addEventListener('abort', function () { fail(o.signal.reason); }); });\
          };")
        .await;
    b.submit_lead("stalled@example.com").await;
    let started = Instant::now();
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.note').hidden", 20)
        .await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(8), "told after {waited:?}");
    assert_eq!(
        b.js("return (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).length;").await,
        json!(1)
    );
    b.close().await;
}
