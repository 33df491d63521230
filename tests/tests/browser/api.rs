//! The page-facing JavaScript API (`window.lodestone`): open, close, score, reset, one global.

use lodestone_tests::Options;
use lodestone_tests::browser::{Device, browser, stack, stack_with};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_api_opens_closes_scores_and_resets_and_adds_one_global() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.js("window.__events = [];\
          ['lodestone:show','lodestone:close'].forEach(function (n) { addEventListener(n, function (e) { __events.push([n, e.detail]); }); });")
        .await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    // Compared with the names the probe saw before the widget loaded; the test harness's own
    // names (`__*`, chromedriver's `ret_nodes`) aside.
    let added = b
        .js("return Object.getOwnPropertyNames(window).filter(function (k) {\
             return __probe.globals.indexOf(k) < 0 && k.indexOf('__') !== 0 && k !== 'ret_nodes'; });")
        .await;
    assert_eq!(added, json!(["lodestone"]), "globals the widget added");
    // Not even a global lexical binding: the bindgen glue lives in the script's function scope.
    assert_eq!(b.js("return typeof __lodestone_tracker;").await, json!("undefined"));

    // The score counts once the site's scoring rules (in its config) have arrived.
    b.wait_until("typeof lodestone.score() === 'number' && lodestone.score() > 0", 10).await;
    b.js("lodestone.open('welcome');").await;
    b.wait_for_popup(5).await;
    b.js("lodestone.close();").await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    b.wait_until("window.__events.length === 2", 5).await;
    assert_eq!(
        b.js("return window.__events;").await,
        json!([["lodestone:show", { "campaign": "welcome" }], ["lodestone:close", { "campaign": "welcome", "reason": "api" }]])
    );
    assert!(
        b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).camps[0].closed > 0;")
            .await
            .as_bool()
            .unwrap()
    );
    // Reset: forgotten, and from here a new visitor with this page's view, no campaign seen or
    // closed (this page's close included) and a sampling roll of their own (drawn anew each
    // time: three resets in a row all landing on 0 are not).
    let mut rolls = Vec::new();
    for _ in 0..3 {
        // In one script: the visitor moved within the last seconds, so the next tick stores.
        assert_eq!(
            b.js("lodestone.reset(); return localStorage.getItem('lodestone:demo');").await,
            json!(null)
        );
        b.js("window.dispatchEvent(new MouseEvent('mousemove'));").await;
        b.wait_until("localStorage.getItem('lodestone:demo') !== null", 5).await;
        let h = b.js("return JSON.parse(localStorage.getItem('lodestone:demo'));").await;
        assert_eq!(
            (&h["visits"], &h["views"], &h["camps"], &h["popup"]),
            (&json!(1), &json!(1), &json!([]), &json!(null)),
            "{h}"
        );
        rolls.push(h["roll"].as_u64().unwrap());
    }
    assert!(rolls.iter().any(|r| *r != 0), "the sampling roll was not drawn again: {rolls:?}");
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_through_the_stub_before_the_script_ran_are_replayed_and_later_ones_passed_on() {
    let toml = "[[sites]]\nid = \"demo\"\nallowed_origins = [\"{{SITE_ORIGIN}}\"]\n\
                [sites.privacy]\nconsent_mode = true\n\
                [[sites.campaigns]]\nid = \"arrived\"\nheadline = \"arrived\"\ntrigger = { event = \"arrived\" }\n";
    let s = stack_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let b = browser(Device::Desktop).await;
    // The page's inline script tracked "arrived" through the stub before the async tag had run,
    // and kept a reference to the stub's `consent` for its banner.
    b.goto(&s.page("/fixtures/early.html")).await;
    b.wait_for_popup(10).await;
    assert_eq!(b.in_widget("root.querySelector('h2').textContent").await, json!("arrived"));
    assert_eq!(b.js("return lodestone.ready && typeof lodestone.q;").await, json!("undefined"));
    // Consent mode: nothing stored until the banner calls the function it kept. The visitor has
    // seen all of this short page meanwhile: the history stored on consent says so.
    b.js("window.dispatchEvent(new MouseEvent('mousemove'));").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, json!(null));
    b.js("grant(true);").await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo') || '{}').scroll === 100", 5).await;
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_frozen_prototypes_still_gets_the_widget_its_early_calls_and_its_page_views() {
    let toml = "[[sites]]\nid = \"demo\"\nallowed_origins = [\"{{SITE_ORIGIN}}\"]\n\
                [[sites.campaigns]]\nid = \"arrived\"\nheadline = \"arrived\"\ntrigger = { event = \"arrived\" }\n";
    let s = stack_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.js("sessionStorage.setItem('__probe_freeze', '1');").await;
    // The stub's early call is replayed, and the page's history calls are page views.
    b.goto(&s.page("/fixtures/early.html")).await;
    assert_eq!(
        b.js("return Object.isFrozen(Array.prototype) && Object.isFrozen(History.prototype);").await,
        json!(true)
    );
    b.wait_for_popup(10).await;
    assert_eq!(b.in_widget("root.querySelector('h2').textContent").await, json!("arrived"));
    // (Whether the first page stored its view depends on timing: counted from this one's.)
    let stored = "(JSON.parse(localStorage.getItem('lodestone:demo')) || {})";
    let views = format!("{stored}.views");
    b.js("window.dispatchEvent(new MouseEvent('mousemove'));").await;
    b.wait_until(
        &format!("({stored}.pages || []).some(function (p) {{ return p.p === '/fixtures/early.html'; }})"),
        5,
    )
    .await;
    let before = b.js(&format!("return {views};")).await.as_u64().unwrap();
    b.js("history.pushState({}, '', '/fixtures/elsewhere');").await;
    b.js("window.dispatchEvent(new MouseEvent('mousemove'));").await;
    b.wait_until(&format!("{views} === {}", before + 1), 5).await;
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}
