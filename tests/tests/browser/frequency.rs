//! Frequency across reloads: converted campaigns never return, closed ones (or ones left
//! open) wait out their cooldown, hidden tabs show nothing; the scroll trigger.

use std::time::Duration;

use lodestone_tests::browser::{Browser, Device, ESCAPE, browser, stack};
use serde_json::json;

/// Waits past the demo campaign's 3-second delay, then tells whether a popup showed.
async fn shows_within_five_seconds(b: &Browser) -> bool {
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    b.popup_open().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_campaign_never_shows_again_and_a_closed_one_waits_out_its_cooldown() {
    let s = stack().await;

    let converted = browser(Device::Desktop).await;
    converted.goto(&s.page("/index.html")).await;
    converted.wait_for_popup(10).await;
    converted.submit_lead("once@example.com").await;
    converted.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.success').closest('[hidden]')", 10).await;
    converted.goto(&s.page("/pricing.html")).await;
    assert!(!shows_within_five_seconds(&converted).await, "shown again after converting");
    converted.close().await;

    let closed = browser(Device::Desktop).await;
    closed.goto(&s.page("/index.html")).await;
    closed.js("window.__closed = []; addEventListener('lodestone:close', function (e) { __closed.push(e.detail); });").await;
    closed.wait_for_popup(10).await;
    closed.press(ESCAPE, false).await;
    closed.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    closed.wait_until("window.__closed.length === 1", 5).await;
    assert_eq!(
        closed.js("return window.__closed[0];").await,
        json!({ "campaign": "welcome", "reason": "esc" })
    );
    closed.client.refresh().await.unwrap();
    assert!(!shows_within_five_seconds(&closed).await, "shown again within the cooldown");
    // Once the 7-day cooldown has passed (simulated by ageing the stored close), it shows again.
    closed
        .edit_storage(
            &s.page("/playbook.html"),
            "var k='lodestone:demo',h=JSON.parse(localStorage.getItem(k));h.camps[0].closed-=8*86400000;localStorage.setItem(k,JSON.stringify(h));",
        )
        .await;
    closed.goto(&s.page("/index.html")).await;
    closed.wait_for_popup(10).await;
    closed.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_left_open_counts_as_dismissed_and_a_hidden_tab_waits_to_be_seen() {
    let s = stack().await;

    // The visitor moves on without closing the popup: it does not follow them to every page.
    let left = browser(Device::Desktop).await;
    left.goto(&s.page("/index.html")).await;
    left.wait_for_popup(10).await;
    left.goto(&s.page("/fixtures/plain.html")).await;
    assert!(!shows_within_five_seconds(&left).await, "shown again after being left open");
    left.close().await;

    // A tab the visitor is not looking at spends no popup; it shows once they look.
    let hidden = browser(Device::Desktop).await;
    hidden.goto(&s.page("/fixtures/plain.html")).await;
    hidden
        .js("Object.defineProperty(document, 'visibilityState', { configurable: true, get: function () { return 'hidden'; } });")
        .await;
    assert!(!shows_within_five_seconds(&hidden).await, "shown in a hidden tab");
    hidden.js("delete document.visibilityState;").await;
    hidden.wait_for_popup(5).await;
    hidden.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_through_most_of_a_page_shows_the_scroll_triggered_campaign() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    // The scroll listener is installed once the site config has arrived.
    b.visit(&s.page("/fixtures/long.html")).await;
    // Before the welcome campaign's 3-second delay: scrolling past 70% fires the newsletter.
    b.js("window.scrollTo(0, document.documentElement.scrollHeight);").await;
    b.wait_for_popup(5).await;
    assert_eq!(b.in_widget("root.querySelector('h2').textContent").await, json!("Enjoying the read?"));
    b.close().await;
}
