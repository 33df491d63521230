//! Isolation from the host page: hostile host CSS and scripts, a strict Content-Security-Policy
//! and Trusted Types, the tag included twice, stored state written by others, and the widget
//! leaving the page untouched.

use std::collections::BTreeMap;
use std::time::Duration;

use fantoccini::actions::{WheelAction, WheelActions};

use lodestone_tests::Options;
use lodestone_tests::browser::{
    Browser, Device, ESCAPE, TRACKER_STARTED, browser, foreign_state, long_tasks, stack, stack_with,
    widget_dist,
};
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
    b.wait_for_popup_at_rest(5).await;
    serde_json::from_value(b.in_widget(POPUP_STYLES).await).unwrap()
}

/// Scrolls the mouse wheel by `dy` pixels with the pointer at (`x`, `y`) in the viewport.
async fn wheel(b: &Browser, x: i64, y: i64, dy: i64) {
    let mut wheel = WheelActions::new("wheel".into());
    wheel.push(WheelAction::Scroll { duration: None, x, y, delta_x: 0, delta_y: dy });
    b.client.perform_actions(wheel).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// While the popup is open the page behind it stays still, however the visitor scrolls (the
/// wheel over the backdrop or over the popup, the keys): the popup's scroller does not pass
/// scrolling on to the page (`overscroll-behavior`), and the page's own style is not touched.
/// Once it closes, the page scrolls again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_behind_an_open_popup_does_not_scroll() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.js("document.body.style.minHeight = '5000px'; document.documentElement.style.overflow = 'visible';")
        .await;
    b.wait_for_popup_at_rest(10).await;
    wheel(&b, 20, 20, 600).await;
    wheel(&b, 640, 400, 600).await;
    b.in_widget("root.querySelector('[role=dialog]').focus()").await;
    b.press('\u{E00F}', false).await; // Page Down
    b.press(' ', false).await;
    assert_eq!(b.js("return scrollY;").await, json!(0), "the page scrolled behind the popup");

    b.press(ESCAPE, false).await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    wheel(&b, 20, 20, 600).await;
    assert!(b.js("return scrollY;").await.as_f64().unwrap() > 0.0, "the page no longer scrolls");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_host_css_changes_nothing_in_the_popup_and_the_widget_changes_nothing_on_the_page() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.wait_for_popup(10).await;
    let reference = popup_styles(&b).await;
    assert_eq!(reference["on_top"], json!(true));

    // Left open, the popup would wait out its cooldown on the next page: start afresh.
    b.js("lodestone.reset();").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_scripts_that_break_globals_or_shortcuts_get_no_error_and_do_not_break_the_widget() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;

    // A page that adds to `Object.prototype`: the welcome campaign's rules are read as the
    // server sent them (not as an empty `all`, which would show it at once), so it waits for its
    // 3 s delay.
    b.visit(&s.page("/fixtures/hostile-js.html?case=polluted-prototype")).await;
    b.wait_for_popup(10).await;
    let waited = b
        .js(&format!(
            "return performance.getEntriesByName('lodestone:trigger')[0].startTime - {TRACKER_STARTED};"
        ))
        .await
        .as_f64()
        .unwrap();
    assert!(waited >= 2900.0, "the popup ignored its delay: shown {waited} ms after the tracker started");
    // Nor does the popup read what the page added: the campaign sets no direction and no
    // words of its own.
    assert_eq!(b.in_widget("root.querySelector('[role=dialog]').getAttribute('dir')").await, json!("auto"));
    assert_eq!(b.in_widget("root.querySelector('label[for=ls-email]').textContent").await, json!("Email"));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    // Left open, the popup would wait out its cooldown on the next page: start afresh.
    b.js("lodestone.reset();").await;

    // Keys typed in the popup do not reach the page's shortcuts (which would see the host, not
    // an input, as the target), and the field gets every character.
    b.visit(&s.page("/fixtures/hostile-js.html")).await;
    b.wait_for_popup(10).await;
    b.type_into("email", "kate.k@example.com").await;
    assert_eq!(
        b.in_widget("root.querySelector('input[name=email]').value").await,
        json!("kate.k@example.com")
    );
    assert_eq!(b.js("return window.__shortcuts;").await, json!([]));

    // A page whose fetch throws at once: the lead is queued, the popup settles, and the tracker
    // keeps answering.
    b.visit(&s.page("/fixtures/hostile-js.html?case=throwing-fetch")).await;
    b.js("lodestone.open('welcome');").await;
    b.wait_for_popup(10).await;
    b.submit_lead("queued@example.com").await;
    b.wait_until(
        "window.__probe.events.some(function (e) { return e.type === 'lodestone:lead' && e.detail.queued === true; })",
        10,
    )
    .await;
    assert!(
        b.js("return typeof lodestone.score();").await == json!("number"),
        "the tracker stopped answering"
    );
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));

    // Offline, with storage refused: the lead cannot be kept for later, so the visitor is told
    // (not promised a retry that cannot happen).
    b.visit(&s.page("/fixtures/hostile-js.html?case=offline-no-storage")).await;
    b.js("lodestone.open('welcome');").await;
    b.wait_for_popup(10).await;
    b.submit_lead("lost@example.com").await;
    b.wait_until("document.querySelector('[data-lodestone]').shadowRoot.querySelector('.error[role=alert]').textContent.length > 0", 10)
        .await;
    assert_eq!(b.js("return window.__probe.events.filter(function (e) { return e.type === 'lodestone:lead'; }).length;").await, json!(0));

    // Setup the page broke: no widget, and no error.
    for case in ["no-text-decoder", "read-only-global"] {
        b.goto(&s.page(&format!("/fixtures/hostile-js.html?case={case}"))).await;
        b.wait_until("document.readyState === 'complete'", 10).await;
        b.wait_until(
            "performance.getEntriesByType('resource').some(function (e) { return /lodestone\\.js$/.test(e.name); })",
            10,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(b.js("return window.__probe.errors;").await, json!([]), "{case}");
        assert!(!b.popup_open().await, "{case}");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_enforcing_trusted_types_gets_no_popup_and_nothing_left_over_its_content() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/trusted-types.html")).await;
    // The popup module loads (at idle), the campaign's 3 s delay passes, and the popup fails to
    // render.
    b.wait_until(
        "performance.getEntriesByType('resource').some(function (e) { return /popup-[0-9a-f]+\\.wasm$/.test(e.name); })",
        10,
    )
    .await;
    b.wait_until("performance.now() > 4500", 10).await;
    assert!(!b.popup_open().await, "a popup host was left on the page");
    let covered = "return document.elementFromPoint(innerWidth / 2, innerHeight / 2).closest('[data-lodestone]') !== null;";
    assert_eq!(b.js(covered).await, json!(false));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    // The tracker itself still works.
    assert!(b.js("return typeof lodestone.score();").await == json!("number"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tag_included_twice_runs_once() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/twice.html")).await;
    b.wait_for_popup(10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shows = b.js("return window.__probe.events.filter(function (e) { return e.type === 'lodestone:show'; }).length;").await;
    assert_eq!(shows, json!(1));
    assert_eq!(b.js("return document.querySelectorAll('[data-lodestone]').length;").await, json!(1));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_state_written_by_others_is_trimmed_to_its_caps_without_stalling_the_page() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    // 2,000 pages in the history (about 50 KB, written by a script or an extension) and 50
    // leads waiting in the queue.
    b.edit_storage(&s.page("/playbook.html"), &foreign_state(2000, 50)).await;
    b.visit(&s.page("/fixtures/plain.html")).await;
    b.wait_until("localStorage.getItem('lodestone:demo').length <= 16384", 10).await;
    let pages = b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).pages.length;").await;
    assert!(pages.as_u64().unwrap() <= 30, "{pages}");
    // No stall: the tracker's whole start, trimming included, took 10-31 ms on a shared
    // two-core machine, so a quarter-second task means the work grew with what was stored. (The 50 ms long-task budget is a figure
    // `measure` prints from a browser running alone; here other tests share the machine.)
    let (_, longest, tasks) = long_tasks(&b).await;
    assert!(longest < 250.0, "the page stalled: {tasks}");
    // Only the newest ten leads are kept and sent.
    s.app.wait_for_leads("demo", 10, 10).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut sent: Vec<String> =
        s.app.all_leads("demo").await.iter().map(|l| l["email"].as_str().unwrap().to_owned()).collect();
    sent.sort();
    let newest: Vec<String> = (40..50).map(|i| format!("q{i}@example.com")).collect();
    assert_eq!(sent, newest);
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transformed_body_neither_moves_the_popup_off_screen_nor_scrolls_the_page() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/transformed.html")).await;
    b.js("window.scrollTo(0, 1500);").await;
    b.wait_for_popup_at_rest(10).await;
    let placed = b
        .in_widget(
            "(function(){var r=root.querySelector('[role=dialog]').getBoundingClientRect();\
             return {scroll: scrollY, inside: r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth,\
             on_top: document.elementFromPoint(r.left + r.width / 2, r.top + 20) === host};})()",
        )
        .await;
    assert_eq!(placed, json!({ "scroll": 1500, "inside": true, "on_top": true }));
    assert_eq!(b.js("return window.__probe.errors;").await, json!([]));
    b.close().await;
}
