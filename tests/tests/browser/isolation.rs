//! Isolation from the host page: hostile host CSS, a strict Content-Security-Policy, and the
//! widget leaving the page untouched.

use std::collections::BTreeMap;
use std::time::Duration;

use lodestone_tests::Options;
use lodestone_tests::browser::{Browser, Device, browser, stack, stack_with, widget_dist};
use serde_json::{Value, json};

/// Computed styles of the popup's parts.
const POPUP_STYLES: &str = "(function(){var out={};\
  var props=['font-family','font-size','font-weight','color','background-color','padding-top','padding-left','margin-top',\
  'width','height','border-top-width','border-top-color','line-height','text-transform','letter-spacing','display','box-sizing','opacity'];\
  ['[role=dialog]','h2','input[name=email]','input[name=consent]','button[type=submit]','.close','.consent','.body'].forEach(function(sel){\
    var el=root.querySelector(sel),cs=getComputedStyle(el),o={};props.forEach(function(p){o[p]=cs.getPropertyValue(p);});out[sel]=o;});\
  var r=root.querySelector('[role=dialog]').getBoundingClientRect();\
  var top=document.elementFromPoint(r.left+r.width/2,r.top+20);out.on_top=top===host;return out;})()";

/// Computed styles and structure of the host page's own elements.
const HOST_PAGE: &str = "return (function(){var out={};\
  ['body','html','header','h1','#text','#host-button'].forEach(function(sel){var el=document.querySelector(sel);if(!el)return;\
    var cs=getComputedStyle(el);out[sel]=[cs.overflow,cs.fontFamily,cs.color,cs.backgroundColor,cs.padding,cs.margin,cs.position,\
    el.getAttribute('style'),el.getAttribute('class'),el.getBoundingClientRect().width].join('|');});\
  out.children=Array.prototype.filter.call(document.body.children,function(e){return !e.hasAttribute('data-lodestone');}).length;\
  out.sheets=document.styleSheets.length;out.scroll=[scrollX,scrollY].join(',');return out;})();";

async fn popup_styles(b: &Browser) -> BTreeMap<String, Value> {
    // Read once the entrance animation (0.2 s) has finished.
    b.wait_until("document.querySelector('[data-lodestone]').shadowRoot.getAnimations().length === 0", 5)
        .await;
    serde_json::from_value(b.in_widget(POPUP_STYLES).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_host_css_changes_nothing_in_the_popup_and_the_widget_changes_nothing_on_the_page() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    let reference = popup_styles(&b).await;
    assert_eq!(reference["on_top"], json!(true));

    b.goto(&s.page("/fixtures/hostile.html")).await;
    let before = b.js(HOST_PAGE).await;
    b.wait_for_popup(10).await;
    let hostile = popup_styles(&b).await;
    for (part, styles) in &reference {
        assert_eq!(&hostile[part], styles, "hostile CSS changed {part}");
    }
    let after = b.js(HOST_PAGE).await;
    assert_eq!(before, after, "the widget changed the host page");
    assert_eq!(b.js("return document.querySelectorAll('[data-lodestone]').length;").await, json!(1));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_content_security_policy_raises_no_violation_and_the_lead_still_lands() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/strict-csp.html")).await;
    b.wait_for_popup(10).await;
    b.submit_lead("csp@example.com").await;
    b.wait_until("window.__probe.events.some(function (e) { return e.type === 'lodestone:lead'; })", 10)
        .await;
    assert_eq!(s.app.all_leads("demo").await.len(), 1);
    assert_eq!(b.js("return window.__probe.violations;").await, json!([]));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_site_or_a_broken_asset_throws_nothing_and_leaves_the_page_untouched() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/broken-config.html")).await;
    let before = b.js(HOST_PAGE).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!b.popup_open().await);
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    assert_eq!(b.js(HOST_PAGE).await, before);
    b.close().await;

    // The same page with a corrupted tracker module.
    let broken = tempfile::tempdir().unwrap();
    copy_dir(&widget_dist(), broken.path());
    for entry in std::fs::read_dir(broken.path().join("assets")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("tracker-") {
            std::fs::write(&path, b"not wasm at all").unwrap();
        }
    }
    let s = stack_with(Options { assets_dir: Some(broken.path().to_owned()), ..Options::default() }).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    let before = b.js(HOST_PAGE).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!b.popup_open().await);
    // The API stands (calls queue, nothing throws), but the tracker never became ready.
    assert_eq!(
        b.js("lodestone.consent(true); lodestone.open('welcome'); return lodestone.ready;").await,
        json!(false)
    );
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    assert_eq!(b.js(HOST_PAGE).await, before);
    b.close().await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
