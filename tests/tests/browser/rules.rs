//! The rule engine in the browser: triggers (scroll, exit intent on desktop and mobile,
//! clicks, SPA navigation, score), targeting, frequency across reloads, priority, privacy
//! (GPC, consent mode) and the debug overlay. Each test serves its own `lodestone.toml`;
//! every campaign's headline is its id, so the popup's `h2` says which one showed.

use std::time::{Duration, Instant};

use lodestone_tests::Options;
use lodestone_tests::browser::{Browser, Device, ESCAPE, Stack, TRACKER_STARTED, browser, stack_with};
use serde_json::{Value, json};

/// A config for site `demo` (the fixture pages' site) on the test's page origin.
fn config(site_extra: &str, campaigns: &[(&str, &str)]) -> String {
    let mut toml =
        format!("[[sites]]\nid = \"demo\"\nallowed_origins = [\"{{{{SITE_ORIGIN}}}}\"]\n{site_extra}\n");
    for (id, rules) in campaigns {
        toml.push_str(&format!("[[sites.campaigns]]\nid = \"{id}\"\nheadline = \"{id}\"\n{rules}\n"));
    }
    toml
}

async fn stack_for(toml: String) -> Stack {
    stack_with(Options { config_toml: Some(toml), ..Options::default() }).await
}

/// Opens the rules fixture with its config request held (until `releaseConfig()`) and waits
/// until the tracker has started without it.
async fn visit_holding_config(b: &Browser, s: &Stack) {
    b.goto(&s.page("/fixtures/rules.html?hold_config=1")).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true && window.heldConfig === true", 10)
        .await;
}

/// A stack serving `campaigns` (no other site settings) and a browser on the rules fixture.
async fn on_rules_page(device: Device, campaigns: &[(&str, &str)]) -> (Stack, Browser) {
    let s = stack_for(config("", campaigns)).await;
    let b = browser(device).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    (s, b)
}

/// A campaign shown on phones on exit intent.
const MOBILE_EXIT: &[(&str, &str)] =
    &[("mobile-exit", "targeting = { devices = [\"mobile\"] }\ntrigger = { exit_intent = true }")];

async fn shown(b: &Browser) -> Value {
    b.in_widget("root.querySelector('h2') && root.querySelector('h2').textContent").await
}

/// Waits up to `seconds` for a popup and checks it is campaign `id`'s.
async fn shows(b: &Browser, id: &str, seconds: u64) {
    b.wait_for_popup(seconds).await;
    assert_eq!(shown(b).await, json!(id));
}

/// Whether a popup appears within `seconds` (of wall-clock time, however slow each look is).
async fn appears_within(b: &Browser, seconds: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if b.popup_open().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A real click (WebDriver) on the element with id `id`.
async fn click(b: &Browser, id: &str) {
    b.client.find(fantoccini::Locator::Id(id)).await.unwrap().click().await.unwrap();
}

/// Closes the popup with ESC, as a visitor would, and waits until it is gone.
async fn close_with_escape(b: &Browser) {
    b.press(ESCAPE, false).await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
}

fn stored(key: &str) -> String {
    format!("return (JSON.parse(localStorage.getItem('lodestone:demo')) || {{}}).{key};")
}

/// (new visitor, new session) of each page-view counter the page has sent.
async fn page_view_counters(b: &Browser) -> Vec<(bool, bool)> {
    b.wait_until("__probe.beacons.some(function (b) { return b.indexOf('pageview') >= 0; })", 5).await;
    // Sent without the site's cookies: nothing about the visitor rides along.
    assert_eq!(
        b.js("return __probe.beaconCredentials.every(function (c) { return c === 'omit'; });").await,
        json!(true)
    );
    let sent = b
        .js("return __probe.beacons.map(function (b) { return JSON.parse(b).events; })\
             .flat().filter(function (e) { return e.type === 'pageview'; })\
             .map(function (e) { return [e.new_visitor, e.new_session]; });")
        .await;
    serde_json::from_value(sent).unwrap()
}

/// The visitor moved the mouse: someone is at the page.
const MOUSE_MOVED: &str = "window.dispatchEvent(new MouseEvent('mousemove'));";

const TOP_EXIT: &str = "document.documentElement.dispatchEvent(new MouseEvent('mouseout', { clientX: 400, clientY: -4, relatedTarget: null, bubbles: true }));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_higher_priority_wins_between_two_eligible_campaigns() {
    let s = stack_for(config(
        "",
        &[
            ("low", "priority = 1\ntrigger = { delay_seconds = 1 }"),
            ("high", "priority = 9\ntrigger = { delay_seconds = 1 }"),
            ("elsewhere", "priority = 50\ntargeting = { include = [\"/pricing*\"] }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    shows(&b, "high", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_page_navigation_counts_views_and_a_delayed_popup_never_fires_on_the_wrong_page() {
    let s = stack_for(config(
        "",
        &[
            (
                "first-page",
                "targeting = { include = [\"/fixtures/rules.html\"] }\ntrigger = { delay_seconds = 3 }",
            ),
            (
                "app-pricing",
                "targeting = { include = [\"/fixtures/app/pricing\"] }\ntrigger = { delay_seconds = 2 }",
            ),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("document.getElementById('spa-blog').click();").await;
    // The first page's 3-second delay would have run out here; it belongs to that page only.
    assert!(!appears_within(&b, 4).await, "a delayed popup fired after navigating away");
    assert_eq!(b.js(&stored("views")).await, json!(2));
    // Its 2-second delay counts from this navigation, not from the document's load 4 s ago.
    b.js("document.getElementById('spa-pricing').click();").await;
    assert!(!appears_within(&b, 1).await, "a delay counted from before the navigation");
    shows(&b, "app-pricing", 5).await;
    let pages = b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).pages.map(function (p) { return p.p; });").await;
    assert_eq!(pages, json!(["/fixtures/rules.html", "/fixtures/app/blog", "/fixtures/app/pricing"]));
    b.close().await;
}

/// Waits until the page holds the popup module's download (`?hold_popup=1`), then lets it go,
/// counting every popup put on the page from then on in `window.mounts`.
async fn release_popup(b: &Browser) {
    b.wait_until("window.heldPopup === true", 10).await;
    b.js("window.mounts = 0;\
          new MutationObserver(function (records) { records.forEach(function (r) { r.addedNodes.forEach(function (n) {\
            if (n.nodeType === 1 && n.hasAttribute('data-lodestone')) window.mounts++; }); }); })\
            .observe(document.documentElement, { childList: true });\
          releasePopup();")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_tracked_right_after_the_app_moves_counts_on_the_new_route() {
    let s = stack_for(config(
        "",
        &[
            ("product", "priority = 9\ntargeting = { include = [\"/fixtures/rules.html\"] }\ntrigger = { event = \"added\" }"),
            ("cart", "targeting = { include = [\"/fixtures/app/cart\"] }\ntrigger = { event = \"added\" }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("history.pushState({}, '', '/fixtures/app/cart'); lodestone.track('added');").await;
    shows(&b, "cart", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_still_loading_when_the_app_navigates_or_closes_it_shows_only_if_asked_for() {
    let s = stack_for(config(
        "",
        &[
            ("landing", "targeting = { include = [\"/fixtures/rules.html\"] }\ntrigger = { event = \"go\" }"),
            ("guide", "trigger = { any = [] }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    let slow = s.page("/fixtures/rules.html?hold_popup=1");
    // Chosen by the rules for this page, still downloading when the app moves to a page
    // the campaign does not target: it must not appear there.
    b.visit(&slow).await;
    b.js("lodestone.track('go'); go('/fixtures/app/blog');").await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 2", 5).await;
    release_popup(&b).await;
    assert!(!appears_within(&b, 2).await, "a popup chosen for the page left appeared on the next");
    assert_eq!(b.js("return window.mounts;").await, json!(0), "not even for a moment");
    // The module has loaded by now: a popup asked for afterwards mounts, and only it.
    b.js("lodestone.open('guide');").await;
    shows(&b, "guide", 10).await;
    assert_eq!(b.js("return window.mounts;").await, json!(1));
    // Asked for by the visitor (a click on a `data-lodestone-open` link of the app): it follows.
    b.visit(&slow).await;
    b.js("document.getElementById('open-guide').click(); go('/fixtures/app/pricing');").await;
    release_popup(&b).await;
    shows(&b, "guide", 10).await;
    // Closed by the page before it could mount: it never appears, and as the visitor never
    // saw it, nothing says it was closed.
    b.visit(&slow).await;
    b.js("window.__closes = 0; addEventListener('lodestone:close', function () { __closes++; });\
          lodestone.open('guide'); lodestone.close();")
        .await;
    release_popup(&b).await;
    assert!(!appears_within(&b, 2).await, "a popup closed while loading appeared");
    assert_eq!(b.js("return window.mounts;").await, json!(0), "not even for a moment");
    assert_eq!(b.js("return window.__closes;").await, json!(0), "a popup never seen counted as closed");
    b.js("lodestone.open('guide');").await;
    shows(&b, "guide", 10).await;
    assert_eq!(b.js("return window.mounts;").await, json!(1));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_back_in_an_app_shows_the_exit_popup_even_while_it_is_still_loading() {
    let s = stack_for(config("", MOBILE_EXIT)).await;
    let b = browser(Device::Phone).await;
    b.visit(&s.page("/fixtures/rules.html?hold_popup=1")).await;
    b.js("go('/fixtures/app/blog');").await;
    // Past the minimum dwell on the app's page, the visitor goes Back: an exit, judged on the
    // page being left, which the navigation that follows must not withdraw.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    b.js("history.back();").await;
    release_popup(&b).await;
    shows(&b, "mobile-exit", 10).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_waits_while_the_page_shows_a_modal_dialog_a_consent_wall_or_an_element_full_screen() {
    let campaigns = [("guide", "trigger = { event = \"go\" }"), ("other", "trigger = { event = \"never\" }")];
    let (_s, b) = on_rules_page(Device::Desktop, &campaigns).await;
    // The site's own modal dialog is open when the rules choose the popup: beneath it, the
    // popup could not be reached. It waits, and shows once the dialog is closed.
    click(&b, "site-dialog-open").await;
    b.js("lodestone.track('go');").await;
    assert!(!appears_within(&b, 2).await, "a popup under the page's modal dialog");
    b.js("document.getElementById('site-dialog').close();").await;
    shows(&b, "guide", 5).await;
    close_with_escape(&b).await;
    // An element full screen (a video, say): the popup waits until it leaves full screen.
    click(&b, "full-screen").await;
    b.wait_until("document.fullscreenElement !== null", 5).await;
    b.js("lodestone.open('guide');").await;
    assert!(!appears_within(&b, 2).await, "a popup behind an element full screen");
    b.js("document.exitFullscreen();").await;
    shows(&b, "guide", 5).await;
    close_with_escape(&b).await;
    // A consent wall built as an ARIA modal: the popup waits until the visitor has answered
    // it. (The page also holds an off-screen menu drawer and a faded-out modal, which do not
    // hold it back.)
    b.js("document.getElementById('cookie-wall').hidden = false;").await;
    b.js("lodestone.open('guide');").await;
    assert!(!appears_within(&b, 2).await, "a popup over the page's consent wall");
    click(&b, "cookie-accept").await;
    shows(&b, "guide", 5).await;
    close_with_escape(&b).await;
    // One waits beneath the page's dialog when the visitor asks for another: the one asked
    // for shows, once the dialog is closed.
    click(&b, "site-dialog-open").await;
    b.js("lodestone.open('guide'); lodestone.open('other');").await;
    assert!(!appears_within(&b, 1).await, "a popup under the page's modal dialog");
    b.js("document.getElementById('site-dialog').close();").await;
    shows(&b, "other", 5).await;
    assert!(!appears_within_after_close(&b).await, "the withdrawn popup showed after all");
    b.close().await;
}

/// Closes the popup with Escape, then whether another appears within two seconds.
async fn appears_within_after_close(b: &Browser) -> bool {
    close_with_escape(b).await;
    appears_within(b, 2).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_asked_for_and_closed_before_the_config_arrived_never_shows() {
    let s = stack_for(config("", &[("guide", "trigger = { event = \"go\" }")])).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.js("sessionStorage.setItem('__probe_hold_config', '1');").await;
    for (calls, appears) in
        [("lodestone.open('guide'); lodestone.close();", false), ("lodestone.open('guide');", true)]
    {
        b.goto(&s.page("/fixtures/rules.html")).await;
        b.wait_until(
            "window.lodestone && window.lodestone.ready === true && !!window.__probe.releaseConfig",
            10,
        )
        .await;
        b.js(calls).await;
        b.js("window.__probe.releaseConfig();").await;
        assert_eq!(appears_within(&b, 3).await, appears, "{calls}");
    }
    b.close().await;
}

/// The page views stored for the visitor.
const VIEWS: &str = "(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_forward_in_an_app_is_a_page_view_and_no_exit() {
    let s = stack_for(config("", MOBILE_EXIT)).await;
    let b = browser(Device::Phone).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("go('/fixtures/app/blog');").await;
    b.wait_until(&format!("{VIEWS} === 2"), 10).await;
    // Back within the minimum dwell: too early for an exit.
    b.js("history.back();").await;
    b.wait_until(&format!("{VIEWS} === 3"), 5).await;
    // Past the dwell the visitor goes Forward: a page view, and not a visitor leaving.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    b.js("history.forward();").await;
    b.wait_until(&format!("{VIEWS} === 4 && location.pathname === '/fixtures/app/blog'"), 5).await;
    assert!(!appears_within(&b, 3).await, "going Forward showed the exit popup");
    // Back again, past the dwell: that is an exit.
    b.js("history.back();").await;
    shows(&b, "mobile-exit", 10).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_left_open_across_an_app_navigation_is_that_page_views_one_interruption() {
    let s = stack_for(config(
        "",
        &[
            ("first", "priority = 9\ntrigger = { event = \"a\" }"),
            ("second", "trigger = { min_page_views = 2 }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.track('a');").await;
    shows(&b, "first", 10).await;
    // The visitor goes on in the app with the popup still open, then closes it.
    b.js("go('/fixtures/app/blog');").await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 2", 5).await;
    close_with_escape(&b).await;
    assert!(!appears_within(&b, 3).await, "a second popup on the page view the first interrupted");
    b.js("go('/fixtures/app/pricing');").await;
    shows(&b, "second", 5).await;
    b.close().await;
}

/// The engaged seconds stored for the visitor.
const ENGAGED: &str = "return (JSON.parse(localStorage.getItem('lodestone:demo')) || {}).engaged || 0;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engaged_time_counts_the_visitors_own_input_typing_in_the_popup_too_not_a_scripts_scrolling() {
    let s = stack_for(config("", &[("guide", "trigger = { any = [] }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    // The page scrolls itself (a restored position, an anchor, a script): nobody is there yet.
    b.js("window.scrollTo(0, 1500);").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(b.js(ENGAGED).await, json!(0), "a script's scrolling counted as the visitor");
    // The visitor types into the popup only (its keys stop at the popup's host).
    b.js("lodestone.open('guide');").await;
    b.wait_for_popup(10).await;
    b.type_into("email", "ada@example.com").await;
    b.wait_until(&format!("(function () {{ {ENGAGED} }})() > 0"), 5).await;
    b.close().await;
    // A mouse wheel alone is the visitor too.
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/plain.html")).await;
    b.js("window.dispatchEvent(new WheelEvent('wheel', { deltaY: 40 }));").await;
    b.wait_until(&format!("(function () {{ {ENGAGED} }})() > 0"), 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_to_the_landing_path_after_an_early_spa_navigation_is_a_page_view() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 60 }")])).await;
    let b = browser(Device::Desktop).await;
    visit_holding_config(&b, &s).await;
    // The app moves before the tracker has its config (its history hooks are not on yet).
    b.js("document.getElementById('spa-blog').click();").await;
    b.js("releaseConfig();").await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 2", 10).await;
    b.js("history.back();").await;
    b.wait_until("location.pathname === '/fixtures/rules.html'", 5).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 3", 5).await;
    let pages = b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).pages.map(function (p) { return [p.p, p.v]; });").await;
    assert_eq!(pages, json!([["/fixtures/app/blog", 1], ["/fixtures/rules.html", 2]]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_intent_holds_at_the_moment_of_the_signal_not_for_the_rest_of_the_page() {
    let (_s, b) = on_rules_page(
        Device::Desktop,
        &[("exit-late", "trigger = { all = [{ exit_intent = true }, { delay_seconds = 6 }] }")],
    )
    .await;
    // The pointer leaves after the minimum dwell, before the rule's 6 seconds; the visitor
    // stays. Past 6 seconds nothing shows: that exit was not this moment's.
    b.wait_until(&format!("performance.now() - {TRACKER_STARTED} > 3300"), 10).await;
    let at =
        b.js(&format!("{TOP_EXIT}; return performance.now() - {TRACKER_STARTED};")).await.as_f64().unwrap();
    assert!(at < 6000.0, "the signal came {at} ms into the page, after the rule's 6 s");
    assert!(!appears_within(&b, 5).await, "an exit signal from seconds ago fired the popup");
    // A new exit signal now that both hold.
    b.js(TOP_EXIT).await;
    shows(&b, "exit-late", 10).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visits_source_is_its_own_and_a_page_left_open_past_the_gap_starts_a_new_session() {
    let s = stack_for(config(
        "",
        &[(
            "newsletter",
            "targeting = { utm_source = \"newsletter\" }\ntrigger = { delay_seconds = 1 }\nfrequency = { after_close_days = 0 }",
        )],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    // Arriving from the newsletter, and a second page of the same visit: both this visit's.
    b.visit(&s.page("/fixtures/rules.html?utm_source=newsletter")).await;
    b.visit(&s.page("/fixtures/plain.html")).await;
    shows(&b, "newsletter", 10).await;
    close_with_escape(&b).await;
    // Two hours later (the stored clock moved back), a direct visit: a new session, which did
    // not come from the newsletter.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var h = JSON.parse(localStorage.getItem('lodestone:demo')), ago = 2 * 3600 * 1000;\
         h.seen -= ago; h.since -= ago; h.popup -= ago; h.camps.forEach(function (c) { if (c.closed) c.closed -= ago; });\
         localStorage.setItem('lodestone:demo', JSON.stringify(h));",
    )
    .await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    assert_eq!(b.js(&stored("visits")).await, json!(2));
    assert!(!appears_within(&b, 3).await, "targeted by the source of an earlier visit");

    // The visitor interacts, leaves the page open past the 30-minute gap, and comes back.
    b.js("window.dispatchEvent(new KeyboardEvent('keydown'));").await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).engaged > 0", 5).await;
    b.js("var real = Date.now; Date.now = function () { return real.call(Date) + 31 * 60 * 1000; };\
          window.dispatchEvent(new KeyboardEvent('keydown'));")
        .await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).visits === 3", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_exit_intent_fires_through_the_top_edge_but_not_on_a_link_click() {
    let s = stack_for(config("", &[("exit", "trigger = { exit_intent = true }")])).await;
    let b = browser(Device::Desktop).await;
    // A narrow desktop window (700 px, as beside another window) is still a desktop: it has a
    // mouse to leave with.
    b.client.set_window_size(700, 800).await.unwrap();
    b.visit(&s.page("/fixtures/rules.html")).await;
    assert!(b.js("return innerWidth;").await.as_f64().unwrap() < 768.0);
    // Within the minimum dwell (3 s on the page) the pointer leaving does nothing.
    b.js(TOP_EXIT).await;
    assert!(!appears_within(&b, 1).await, "exit intent before the minimum dwell");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A click on an in-site link, then the pointer leaving (as the page goes): no popup.
    click(&b, "inlink").await;
    b.js(TOP_EXIT).await;
    assert!(!appears_within(&b, 1).await, "exit popup on a link click");
    b.js(TOP_EXIT).await;
    shows(&b, "exit", 10).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobile_exit_intent_fires_on_a_fast_scroll_up() {
    let (_s, b) = on_rules_page(Device::Phone, MOBILE_EXIT).await;
    // The pointer leaving through the top means nothing on a phone.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    b.js(TOP_EXIT).await;
    assert!(!appears_within(&b, 1).await, "desktop exit signal on a phone");
    // A tap on a "back to top" button scrolls up fast too, but the visitor is staying.
    b.js("window.scrollTo(0, document.documentElement.scrollHeight);").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    click(&b, "to-top").await;
    b.wait_until("window.scrollY === 0", 5).await;
    assert!(!appears_within(&b, 1).await, "exit intent on a tap that scrolls the page up");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Down, then back up within a frame or two: one fast scroll up, however slow the driver is.
    b.js("window.scrollTo(0, 1500); requestAnimationFrame(function () { requestAnimationFrame(function () { window.scrollTo(0, 0); }); });")
        .await;
    shows(&b, "mobile-exit", 10).await;
    b.close().await;
}

/// Makes the page report itself hidden, as switching tabs or apps does.
const HIDE_TAB: &str = "Object.defineProperty(document, 'visibilityState', { configurable: true, get: function () { return 'hidden'; } });\
    Object.defineProperty(document, 'hidden', { configurable: true, get: function () { return true; } });\
    document.dispatchEvent(new Event('visibilitychange'));";

/// The popup's module has been fetched (a popup chosen now waits only for its moment).
const POPUP_MODULE_LOADED: &str =
    "performance.getEntriesByType('resource').some(function (e) { return /popup-.*\\.wasm/.test(e.name); })";

/// Makes the page visible again, as the visitor coming back to the tab does.
const SHOW_TAB: &str = "delete document.visibilityState; delete document.hidden; document.dispatchEvent(new Event('visibilitychange'));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_tab_hidden_is_an_exit_but_navigating_away_is_not() {
    let (s, b) = on_rules_page(Device::Phone, MOBILE_EXIT).await;
    // Past the dwell, with the popup module fetched: the page navigates away (by script, not
    // a link). The unloading page is hidden too, but that is no popup, none is recorded shown.
    b.wait_until("performance.getEntriesByType('resource').some(function (e) { return e.name.indexOf('/assets/popup') > 0 && e.name.indexOf('.wasm') > 0; })", 10).await;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    b.js(&format!("location.assign({:?});", s.page("/fixtures/plain.html"))).await;
    b.wait_until("location.pathname === '/fixtures/plain.html'", 10).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 2", 10).await;
    assert_eq!(b.js(&stored("popup")).await, Value::Null, "a popup recorded while navigating away");
    assert_eq!(b.js(&stored("camps.length")).await, json!(0));
    // Switching away from the tab after the dwell is an exit: the popup waits for the visitor.
    b.visit(&s.page("/fixtures/rules.html")).await;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    b.js(HIDE_TAB).await;
    assert!(!appears_within(&b, 1).await, "mounted in the hidden tab");
    b.js(SHOW_TAB).await;
    shows(&b, "mobile-exit", 10).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_chosen_while_the_tab_is_hidden_shows_and_counts_once_the_visitor_looks() {
    let (_s, b) = on_rules_page(Device::Desktop, &[("guide", "trigger = { event = \"go\" }")]).await;
    // The page's own script fires the event while the visitor is in another tab.
    b.js(HIDE_TAB).await;
    b.js("lodestone.track('go');").await;
    assert!(!appears_within(&b, 2).await, "mounted in the hidden tab");
    assert_eq!(b.js(&stored("popup")).await, Value::Null, "its cooldown started unseen");
    b.js(SHOW_TAB).await;
    shows(&b, "guide", 5).await;
    b.wait_until(&format!("(function () {{ {} }})() > 0", stored("popup")), 5).await;
    b.close().await;
}

/// The same visitor meanwhile saw that campaign in another tab and closed it: when they come
/// back to the first tab, its waiting popup does not show the campaign a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_waiting_in_a_hidden_tab_is_dropped_once_another_tab_has_shown_and_closed_it() {
    let (s, b) = on_rules_page(
        Device::Desktop,
        &[("guide", "trigger = { event = \"go\" }"), ("other", "trigger = { event = \"other\" }")],
    )
    .await;
    // The other tab's writes, as this tab learns of them (after the tracker has).
    b.js("window.__writes = []; addEventListener('storage', function (e) { if (e.key === 'lodestone:demo') __writes.push(e.newValue); });")
        .await;
    b.js(HIDE_TAB).await;
    b.js("lodestone.track('go');").await;
    // The popup's module has loaded: only the hidden tab holds it back.
    b.wait_until(POPUP_MODULE_LOADED, 5).await;
    assert!(!appears_within(&b, 1).await, "mounted in the hidden tab");
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second).await.unwrap();
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.track('go');").await;
    shows(&b, "guide", 10).await;
    close_with_escape(&b).await;

    b.client.switch_to_window(first).await.unwrap();
    b.wait_until("__writes.some(function (v) { return v && JSON.parse(v).popup > 0; })", 5).await;
    b.js(SHOW_TAB).await;
    assert!(!appears_within(&b, 3).await, "shown again after the visitor closed it in another tab");
    // It never showed: this page view may still show another campaign.
    b.js("lodestone.track('other');").await;
    shows(&b, "other", 10).await;
    b.close().await;
}

/// In consent mode the rules first see only this page: a popup they chose waits for the tab,
/// then consent brings in the stored history, where the visitor closed that campaign earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_waiting_when_consent_brings_in_a_close_from_an_earlier_page_does_not_show() {
    let s = stack_for(config(
        "[sites.privacy]\nconsent_mode = true\n",
        &[("guide", "trigger = { event = \"go\" }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.consent(true); lodestone.track('go');").await;
    shows(&b, "guide", 10).await;
    close_with_escape(&b).await;
    b.wait_until(&format!("(function () {{ {} }})() > 0", stored("camps[0].closed")), 5).await;

    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js(HIDE_TAB).await;
    b.js("lodestone.track('go');").await;
    b.wait_until(POPUP_MODULE_LOADED, 5).await;
    b.js("lodestone.consent(true);").await;
    b.js(SHOW_TAB).await;
    assert!(!appears_within(&b, 3).await, "shown again although consent brought in its close");
    b.close().await;
}

/// The visitor leaves a page whose popup waits for the tab, sees and closes that campaign on
/// the next page, then comes back by Back: the restored page does not show it a second time.
/// (Chromium delivers the `storage` event queued while the page was cached as it returns, and
/// the return itself re-reads the history: either one withdraws the popup.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_popup_waiting_on_a_page_restored_by_back_is_dropped_once_the_next_page_has_shown_it() {
    let (s, b) = on_rules_page(Device::Desktop, &[("guide", "trigger = { event = \"go\" }")]).await;
    b.js(HIDE_TAB).await;
    b.js("lodestone.track('go'); window.__same_document = true;").await;
    b.wait_until(POPUP_MODULE_LOADED, 5).await;
    assert!(!appears_within(&b, 1).await, "mounted in the hidden tab");

    // (Another address: the same one would replace this page's history entry.)
    b.visit(&s.page("/fixtures/rules.html?next")).await;
    b.js("lodestone.track('go');").await;
    shows(&b, "guide", 10).await;
    close_with_escape(&b).await;
    b.wait_until(&format!("(function () {{ {} }})() > 0", stored("camps[0].closed")), 5).await;

    b.client.back().await.unwrap();
    b.wait_until("window.__same_document === true", 5).await;
    b.js(SHOW_TAB).await;
    assert!(!appears_within(&b, 3).await, "shown again after the visitor closed it on the next page");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_on_configured_ctas_trigger_and_data_lodestone_open_opens() {
    let s = stack_for(config(
        "[[sites.cta]]\nname = \"book-demo\"\nselector = \".cta-demo\"\n",
        &[("guide", "trigger = { any = [] }"), ("demo-cta", "trigger = { click = \"book-demo\" }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    assert!(!appears_within(&b, 1).await);
    click(&b, "cta").await;
    shows(&b, "demo-cta", 10).await;
    assert_eq!(b.js(&stored("cta")).await, json!(1));
    close_with_escape(&b).await;
    click(&b, "open-guide").await;
    shows(&b, "guide", 10).await;
    b.close().await;
}

/// The server checks `[[sites.cta]]` selectors at start; the tracker matches clicks with
/// `closest(selector)`. The two agree: what the check refuses, Chromium throws on, and what it
/// lets through, Chromium takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_selector_check_agrees_with_chromiums_closest() {
    let examples = ingest::css_selector::EXAMPLES;
    let selectors: Vec<&str> = examples.iter().map(|(s, _)| *s).collect();
    let b = browser(Device::Desktop).await;
    b.goto("about:blank").await;
    let script = format!(
        "return {}.map(function (s) {{ try {{ document.documentElement.closest(s); return true; }} catch (e) {{ return false; }} }});",
        serde_json::to_string(&selectors).unwrap()
    );
    let chromium: Vec<bool> = serde_json::from_value(b.js(&script).await).unwrap();
    b.close().await;
    let disagree: Vec<String> = examples
        .iter()
        .zip(&chromium)
        .filter_map(|((s, expected), &takes)| {
            let problem = ingest::css_selector::selector_problem(s);
            (problem.is_none() != takes || expected.is_none() != takes)
                .then(|| format!("{s}: Chromium takes it: {takes}, the server: {problem:?}"))
        })
        .collect();
    assert!(disagree.is_empty(), "{disagree:#?}");
    assert!(chromium.iter().filter(|t| !**t).count() >= 15, "refused cases among the examples");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fits_the_screen_counts_as_read_to_its_end_once_the_visitor_is_there() {
    let s = stack_for(config("", &[("read", "trigger = { scroll_percent = 90 }")])).await;
    let b = browser(Device::Desktop).await;
    // A long page shows only its top: the campaign waits for the visitor to scroll.
    b.visit(&s.page("/fixtures/long.html")).await;
    b.js(MOUSE_MOVED).await;
    assert!(!appears_within(&b, 3).await, "shown on a long page nobody scrolled");
    // A page that fits the screen is seen to its end, once someone is there to see it.
    b.visit(&s.page("/fixtures/plain.html")).await;
    assert!(!appears_within(&b, 3).await, "shown before the visitor did anything");
    b.js(MOUSE_MOVED).await;
    shows(&b, "read", 5).await;
    let plain = "return JSON.parse(localStorage.getItem('lodestone:demo')).pages.find(function (p) { return p.p === '/fixtures/plain.html'; }).s;";
    assert_eq!(b.js(plain).await, json!(100));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_depth_scrolled_in_the_moment_before_leaving_is_kept() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 600 }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/long.html")).await;
    b.wait_until("localStorage.getItem('lodestone:demo') !== null", 5).await;
    // The visitor scrolls to the end and follows a link in the same moment: no tick between.
    b.js("window.__left = 0; addEventListener('scroll', function () { if (!__left) { __left = 1; location.href = '/fixtures/plain.html'; } });\
          window.dispatchEvent(new MouseEvent('mousemove')); window.scrollTo(0, document.documentElement.scrollHeight);")
        .await;
    b.wait_until(
        "location.pathname === '/fixtures/plain.html' && window.lodestone && window.lodestone.ready === true",
        10,
    )
    .await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 2", 5).await;
    let long = "return JSON.parse(localStorage.getItem('lodestone:demo')).pages.find(function (p) { return p.p === '/fixtures/long.html'; }).s;";
    assert_eq!(b.js(long).await, json!(100));
    assert_eq!(b.js(&stored("scroll")).await, json!(100));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_shell_that_scrolls_inside_and_a_new_route_nobody_has_touched_count_no_depth() {
    let s = stack_for(config(
        "",
        &[("app-read", "targeting = { include = [\"/fixtures/app/*\"] }\ntrigger = { scroll_percent = 90 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    // The layout is replaced, the route changes and the visitor moves the mouse there: the
    // window's depth (100%: it never scrolls) must not count.
    for (layout, route, what) in [
        // An app shell: the window never scrolls, an element in it does.
        (
            "document.documentElement.style.height = '100%';\
             document.body.style.cssText = 'margin:0;height:100%;overflow:hidden';\
             document.body.innerHTML = '<main style=\"height:100%;overflow:auto\"><div style=\"height:5000px\">tall</div></main>';",
            "shell",
            "an app shell",
        ),
        // The same shell with something fixed over the middle of the screen (a banner, a
        // modal): the scroller beneath it still counts.
        (
            "var o = document.createElement('div');\
             o.style.cssText = 'position:fixed;inset:30% 20%;background:#fff';\
             document.body.appendChild(o);",
            "overlaid",
            "an overlaid app shell",
        ),
        // A shell whose body is the scroller (the root element never scrolls).
        (
            "document.documentElement.style.cssText = 'height:100%;overflow:hidden';\
             document.body.style.cssText = 'margin:0;height:100%;overflow:auto';\
             document.body.innerHTML = '<div style=\"height:5000px\">tall</div>';",
            "body",
            "a body scroller",
        ),
    ] {
        b.js(&format!("{layout} history.pushState({{}}, '', '/fixtures/app/{route}');")).await;
        b.js(MOUSE_MOVED).await;
        assert!(!appears_within(&b, 3).await, "{what}'s window depth counted");
    }
    // A route that fits the screen counts once the visitor does something on it, not before.
    b.js("document.documentElement.style.cssText = ''; document.body.style.cssText = '';\
          document.body.innerHTML = '<p>short</p>';\
          history.pushState({}, '', '/fixtures/app/short');")
        .await;
    assert!(!appears_within(&b, 3).await, "counted on a route before the visitor did anything there");
    b.js(MOUSE_MOVED).await;
    shows(&b, "app-read", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_restored_by_back_or_forward_is_a_page_view() {
    let s = stack_for(config("", &[("third-view", "trigger = { min_page_views = 3 }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("window.__same_document = true;").await;
    b.visit(&s.page("/fixtures/plain.html")).await;
    assert!(!appears_within(&b, 1).await, "shown on the second view");
    // Back: the browser restores the first page from its back-forward cache (the same document,
    // its scripts not run again), and the visitor sees it a second time.
    b.client.back().await.unwrap();
    b.wait_until("window.__same_document === true", 5).await;
    shows(&b, "third-view", 5).await;
    assert_eq!(b.js(&stored("views")).await, json!(3));
    let pages = b.js(&stored("pages.map(function (p) { return [p.p, p.v]; })")).await;
    assert_eq!(pages, json!([["/fixtures/plain.html", 1], ["/fixtures/rules.html", 2]]));
    assert_eq!(page_view_counters(&b).await.len(), 2, "the restored view's counter is sent too");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_score_threshold_is_reached_across_pages() {
    let s = stack_for(config(
        "[sites.scoring]\npage_view = 10\nscroll = []\n",
        &[("engaged", "trigger = { min_score = 30 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    for page in ["/index.html", "/blog/lead-magnets.html"] {
        b.visit(&s.page(page)).await;
        assert!(!appears_within(&b, 1).await, "shown on {page}");
    }
    b.visit(&s.page("/pricing.html")).await;
    shows(&b, "engaged", 10).await;
    assert_eq!(b.js("return lodestone.score();").await, json!(30));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_per_session_holds_across_reloads_until_a_new_session() {
    let s = stack_for(config(
        "",
        &[(
            "once",
            "trigger = { delay_seconds = 1 }\nfrequency = { max_per_session = 1, after_close_days = 0 }",
        )],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup(10).await;
    close_with_escape(&b).await;
    b.client.refresh().await.unwrap();
    assert!(!appears_within(&b, 3).await, "shown twice in one session");
    // 31 minutes of inactivity later, a new session: it may show again.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var k='lodestone:demo',h=JSON.parse(localStorage.getItem(k));h.seen-=31*60000;localStorage.setItem(k,JSON.stringify(h));",
    )
    .await;
    b.goto(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup(5).await;
    assert_eq!(b.js(&stored("visits")).await, json!(2));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cooldown_runs_from_the_end_of_the_last_popup() {
    let s = stack_for(config(
        "frequency = { global_cooldown_seconds = 4 }",
        &[
            ("first", "priority = 9\ntrigger = { delay_seconds = 1 }"),
            ("second", "priority = 5\ntrigger = { delay_seconds = 1 }"),
            ("third", "priority = 1\ntrigger = { delay_seconds = 1 }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    shows(&b, "first", 5).await;
    // Read for longer than the cooldown, then closed: the next page must still wait it out.
    tokio::time::sleep(Duration::from_secs(5)).await;
    close_with_escape(&b).await;
    let closed_at = b.js(&stored("popup")).await.as_f64().unwrap();
    b.visit(&s.page("/fixtures/rules.html")).await;
    shows(&b, "second", 10).await;
    // Timed on the browser's clock, however long the page took to load.
    let shown_at = b
        .js("return performance.timeOrigin + performance.getEntriesByName('lodestone:trigger')[0].startTime;")
        .await
        .as_f64()
        .unwrap();
    assert!(shown_at >= closed_at + 3900.0, "shown {} ms after the close", shown_at - closed_at);
    // Read for longer than the cooldown and left open as the visitor moves on: the cooldown
    // runs from the moment they left, not from when it appeared.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let left_at = b.js("return Date.now();").await.as_f64().unwrap();
    b.visit(&s.page("/fixtures/rules.html")).await;
    shows(&b, "third", 10).await;
    let shown_at = b
        .js("return performance.timeOrigin + performance.getEntriesByName('lodestone:trigger')[0].startTime;")
        .await
        .as_f64()
        .unwrap();
    assert!(shown_at >= left_at + 3900.0, "shown {} ms after leaving the last popup", shown_at - left_at);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gpc_nothing_is_stored_what_was_is_erased_and_rules_see_only_the_current_page() {
    let s = stack_for(config("", &[("second-view", "trigger = { min_page_views = 2 }")])).await;
    let b = browser(Device::Desktop).await;
    // The second page broke `matchMedia`: the privacy signals are read all the same.
    for query in ["?gpc=1", "?gpc=1&no_media=1"] {
        b.visit(&s.page(&format!("/fixtures/rules.html{query}"))).await;
        assert!(!appears_within(&b, 2).await, "history used under GPC ({query})");
        assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null, "{query}");
        // Its counter says nothing about the visitor being new: that would come from storage.
        assert_eq!(page_view_counters(&b).await, [(false, false)], "{query}");
    }
    // Without GPC the same two views are remembered and the campaign shows on the second.
    b.visit(&s.page("/fixtures/rules.html")).await;
    assert!(!appears_within(&b, 1).await);
    assert_eq!(page_view_counters(&b).await, [(true, true)], "a first visit is a new visitor");
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup(10).await;
    assert_eq!(b.js(&stored("views")).await, json!(2));
    // Turned on later, the signal also removes the history stored before it.
    b.visit(&s.page("/fixtures/rules.html?gpc=1")).await;
    b.wait_until("localStorage.getItem('lodestone:demo') === null", 5).await;
    assert!(!appears_within(&b, 2).await, "history used under GPC after it was stored");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_mode_stores_nothing_until_the_page_grants_consent() {
    let s = stack_for(config(
        "[sites.privacy]\nconsent_mode = true\n",
        &[("soon", "trigger = { delay_seconds = 1 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup(10).await;
    close_with_escape(&b).await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    // Before consent, the page-view counter says nothing derived from the visitor's history.
    assert_eq!(page_view_counters(&b).await, [(false, false)]);
    // Consent from the page's banner: storage starts with this page, and the close made
    // before it still counts (no second popup on this page, the cooldown is stored).
    b.js("lodestone.consent(true);").await;
    assert_eq!(b.js(&stored("views")).await, json!(1));
    assert_eq!(
        b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).camps[0].closed > 0;").await,
        json!(true)
    );
    assert!(!appears_within(&b, 2).await, "shown again on the same page after consent");
    // Only `false` withdraws: other values (a banner passing 1, a bare call) change nothing.
    b.js("lodestone.consent(1); lodestone.consent(); lodestone.consent('no');").await;
    assert_eq!(b.js(&stored("views")).await, json!(1));
    b.js("lodestone.consent(false);").await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_granted_after_a_close_keeps_the_conversion_stored_before() {
    let s = stack_for(config(
        "[sites.privacy]\nconsent_mode = true\n",
        &[("soon", "trigger = { delay_seconds = 1 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.consent(true);").await;
    b.wait_for_popup(10).await;
    close_with_escape(&b).await;
    // A conversion stored on an earlier visit (the campaign's history of this visitor).
    let converted_at = b.js("return Date.now() - 60000;").await;
    b.edit_storage(
        &s.page("/playbook.html"),
        &format!(
            "var k='lodestone:demo',h=JSON.parse(localStorage.getItem(k));h.camps[0].converted={converted_at};localStorage.setItem(k,JSON.stringify(h));"
        ),
    )
    .await;
    // The next page, before its consent banner answers, sees this page only: the popup shows
    // and is closed. Consent then adds this page's close to what is stored, keeping the
    // conversion (so "never after conversion" still holds).
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup(10).await;
    close_with_escape(&b).await;
    b.js("lodestone.consent(true);").await;
    assert_eq!(b.js(&stored("camps[0].converted")).await, converted_at);
    assert_eq!(
        b.js("return JSON.parse(localStorage.getItem('lodestone:demo')).camps[0].closed > 0;").await,
        json!(true)
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_withdrawn_on_another_page_holds_on_a_page_restored_by_back() {
    let s = stack_for(config(
        "[sites.privacy]\nconsent_mode = true\n",
        &[("later", "trigger = { delay_seconds = 600 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.consent(true); window.__same_document = true;").await;
    assert_eq!(b.js(&stored("views")).await, json!(1));
    // On the next page the visitor withdraws consent: what was stored is erased.
    b.visit(&s.page("/fixtures/plain.html")).await;
    b.js("lodestone.consent(false);").await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    // Back to the first page, restored from the back-forward cache with its consent of before:
    // it must not store again, its page view nor the time the visitor now spends on it.
    b.client.back().await.unwrap();
    b.wait_until("window.__same_document === true", 5).await;
    b.js("window.dispatchEvent(new WheelEvent('wheel', { deltaY: 40 }));").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_on_a_page_restored_by_back_counts_from_its_return() {
    let s = stack_for(config(
        "",
        &[(
            "idle",
            "targeting = { include = [\"/fixtures/rules.html\"] }\ntrigger = { inactive_seconds = 6 }",
        )],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("window.__same_document = true;").await;
    // Longer on the next page than the inactivity the campaign waits for.
    b.visit(&s.page("/fixtures/plain.html")).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    b.client.back().await.unwrap();
    b.wait_until("window.__same_document === true", 5).await;
    assert!(!appears_within(&b, 2).await, "shown at once for the time spent on another page");
    shows(&b, "idle", 8).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_restored_by_back_counts_engaged_time_only_after_an_interaction_with_it() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 600 }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("window.__same_document = true; window.dispatchEvent(new WheelEvent('wheel', { deltaY: 40 }));")
        .await;
    b.wait_until(&format!("(function () {{ {ENGAGED} }})() > 0"), 5).await;
    // Away and straight back: the restored page is a new page view nobody has touched yet.
    b.visit(&s.page("/fixtures/plain.html")).await;
    b.client.back().await.unwrap();
    b.wait_until("window.__same_document === true", 5).await;
    b.wait_until(&format!("{VIEWS} === 3"), 5).await;
    let before = b.js(ENGAGED).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(b.js(ENGAGED).await, before, "engaged time counted without an interaction");
    // Once the visitor interacts with it, it counts.
    b.js("window.dispatchEvent(new WheelEvent('wheel', { deltaY: 40 }));").await;
    b.wait_until(&format!("(function () {{ {ENGAGED} }})() > {before}"), 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debug_overlay_says_why_each_campaign_did_or_did_not_show() {
    let s = stack_for(config(
        "frequency = { global_cooldown_seconds = 600 }\n[sites.scoring]\npages = [{ path = \"/fixtures/*\", points = 15 }]\n",
        &[
            (
                "deep-reader",
                "priority = 5\ntargeting = { include = [\"/fixtures/*\"], exclude = [\"/fixtures/app/*\"] }\ntrigger = { all = [{ scroll_percent = 60 }, { min_score = 10 }] }",
            ),
            ("pricing-only", "targeting = { include = [\"/pricing*\"] }\ntrigger = { delay_seconds = 5 }"),
            ("closed-before", "trigger = { exit_intent = true }\nfrequency = { after_close_days = 7 }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    // Visitors' pages load the tracker without the debug report; `lodestone.debug()` reloads
    // the page into the debug build (as `?lodestone_debug=1` does).
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("lodestone.debug();").await;
    b.wait_until("location.search.indexOf('lodestone_debug=1') >= 0 && document.querySelector('[data-lodestone-debug]')", 10)
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = b.js("return document.querySelector('[data-lodestone-debug]').shadowRoot.textContent;").await;
    let text = text.as_str().unwrap_or_default().to_owned();
    for expected in [
        "Score 19",
        "+4  2 page views",
        "+15  viewed /fixtures/*",
        "\u{2717} deep-reader (priority 5)",
        "\u{2713} include",
        "\u{2713} exclude",
        "\u{2717} scroll_percent wants 60, saw",
        "\u{2713} min_score wants 10, saw 19",
        "\u{2717} pricing-only",
        "\u{2717} include wants /pricing*, saw /fixtures/rules.html",
        "\u{2713} exclude wants none of /fixtures/app/*, saw /fixtures/rules.html",
        "\u{2713} one_per_page_view wants no popup yet on this page view, saw none",
    ] {
        assert!(text.contains(expected), "overlay lacks {expected:?}: {text}");
    }
    let shot = b.screenshot("debug-overlay").await;
    println!("debug overlay screenshot: {}", shot.display());

    // The campaign on screen is marked as showing, not as failing its own one-per-page rule.
    // The page's `visibilityState` now says hidden (`document.hidden` does not), so the
    // one-second tick no longer refreshes the overlay while a popup can still show: the show
    // and the close must.
    b.js("Object.defineProperty(document, 'visibilityState', { get: function () { return 'hidden'; }, configurable: true });")
        .await;
    b.js("lodestone.open('pricing-only');").await;
    b.wait_for_popup(5).await;
    b.wait_until(
        "document.querySelector('[data-lodestone-debug]').shadowRoot.textContent.indexOf('\\u25b6 pricing-only (priority 0) showing now') >= 0",
        3,
    )
    .await;
    // Its frequency rules count this showing: what it fails because it shows is not marked
    // against it (its targeting, which `lodestone.open` passed over, still is).
    let text = b.js("return document.querySelector('[data-lodestone-debug]').shadowRoot.textContent;").await;
    let text = text.as_str().unwrap_or_default();
    let showing =
        text.split("showing now").nth(1).and_then(|t| t.split("closed-before").next()).unwrap_or_default();
    for expected in [
        "\u{2717} include wants /pricing*",
        "frequency (counting this showing)",
        "\u{b7} one_per_page_view wants no popup yet on this page view, saw a popup showed",
        "\u{b7} global_cooldown wants 600 s between popups",
    ] {
        assert!(showing.contains(expected), "the showing campaign's section lacks {expected:?}: {showing}");
    }
    b.js("document.querySelector('[data-lodestone-debug]').shadowRoot.firstElementChild.scrollTop = 1e6;")
        .await;
    println!("with the popup showing: {}", b.screenshot("debug-overlay-showing").await.display());
    // Above the popup and its backdrop: the overlay can be read, scrolled and clicked.
    let top = b
        .js("var r = document.querySelector('[data-lodestone-debug]').shadowRoot.firstElementChild.getBoundingClientRect();\
             var e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);\
             return e && e.hasAttribute('data-lodestone-debug');")
        .await;
    assert_eq!(top, json!(true), "the popup covers the debug overlay");

    // Closed: the campaign's own cooldown and the site's, with the values they compared.
    close_with_escape(&b).await;
    let overlay = "document.querySelector('[data-lodestone-debug]').shadowRoot.textContent";
    b.wait_until(&format!("{overlay}.indexOf('showing now') < 0"), 5).await;
    let text = b.js(&format!("return {overlay};")).await.as_str().unwrap_or_default().to_owned();
    for expected in [
        "\u{2717} pricing-only (priority 0)",
        "\u{2717} after_close wants 7 days after closing, saw closed 0.0 days ago",
        "\u{2717} global_cooldown wants 600 s between popups, saw last popup ",
    ] {
        assert!(text.contains(expected), "overlay lacks {expected:?}: {text}");
    }
    let left = text.split("s ago, ").nth(1).and_then(|t| t.split(" s left").next());
    let left = left.and_then(|n| n.parse::<u32>().ok());
    assert!(left.is_some_and(|n| (590..=600).contains(&n)), "cooldown left: {left:?} in {text}");
    let cooldown = text.split("cooldown: closed ").nth(1).and_then(|t| t.split(" s ago").next());
    assert!(cooldown.and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n < 10), "close time: {text}");
    println!("after a close: {}", b.screenshot("debug-overlay-closed").await.display());

    // Folded to its title line, it stays folded as the report is rendered again.
    let panel = "document.querySelector('[data-lodestone-debug]').shadowRoot.firstElementChild";
    let toggle = format!("{panel}.querySelector('button.t')");
    b.js(&format!("{toggle}.click();")).await;
    let folded = format!("[{panel}.offsetHeight < 60, {toggle}.getAttribute('aria-expanded')]");
    assert_eq!(b.js(&format!("return {folded};")).await, json!([true, "false"]));
    b.js("lodestone.open('closed-before');").await;
    b.wait_until(&format!("{overlay}.indexOf('showing now') >= 0"), 5).await;
    assert_eq!(b.js(&format!("return {folded};")).await, json!([true, "false"]), "unfolded by a render");
    println!("folded: {}", b.screenshot("debug-overlay-folded").await.display());
    b.js(&format!("{toggle}.click();")).await;
    assert_eq!(b.js(&format!("return {folded};")).await, json!([false, "true"]));
    b.close().await;
}

/// The debug overlay's text, once it shows.
async fn overlay_text(b: &Browser) -> String {
    b.wait_until("document.querySelector('[data-lodestone-debug]')", 10).await;
    let text = b.js("return document.querySelector('[data-lodestone-debug]').shadowRoot.textContent;").await;
    text.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_debug_overlay_says_why_the_config_did_not_load() {
    // A site that does not list the demo pages' origin: the commonest reason nothing shows.
    let toml = "[[sites]]\nid = \"demo\"\nallowed_origins = [\"https://www.shop.example\"]\n[[sites.campaigns]]\nid = \"welcome\"\nheadline = \"Hi\"\n";
    let s = stack_for(toml.to_owned()).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/rules.html?lodestone_debug=1")).await;
    let text = overlay_text(&b).await;
    for expected in [
        "\u{2717} the site config did not load, so no campaign can show",
        &format!("GET {}/v1/sites/demo/config \u{2192} 403 origin_not_allowed", s.app.base),
        &format!("the origin {} is not among the allowed_origins of site demo (lodestone.toml)", s.site.base),
    ] {
        assert!(text.contains(expected), "overlay lacks {expected:?}: {text}");
    }
    println!("config refused: {}", b.screenshot("debug-overlay-config-refused").await.display());
    b.close().await;
}

#[tokio::test]
async fn a_config_without_rules_this_tracker_reads_fails_closed_and_the_overlay_says_so() {
    // The config as a server without packed rules answers it (another version, or a cached
    // answer from before an upgrade), with a campaign that would show at once.
    let s = lodestone_tests::browser::stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/older-server.html")).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    b.wait_until("performance.getEntriesByType('resource').some(function (e) { return /older-server\\/v1\\/sites\\/demo\\/config$/.test(e.name); })", 10).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(b.js("return !!document.querySelector('[data-lodestone]');").await, json!(false));
    // Nothing stored: the rules say nothing of consent, so it is needed.
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    b.js("lodestone.consent(true);").await;
    b.wait_until("localStorage.getItem('lodestone:demo') !== null", 5).await;
    b.goto(&s.page("/fixtures/older-server.html?lodestone_debug=1")).await;
    let text = overlay_text(&b).await;
    for expected in [
        "\u{2717} the site config could not be read, so no campaign can show",
        "GET /fixtures/older-server/v1/sites/demo/config \u{2192} 200",
        "the config has no rules this tracker reads",
    ] {
        assert!(text.contains(expected), "overlay lacks {expected:?}: {text}");
    }
    println!("config without rules: {}", b.screenshot("debug-overlay-config-without-rules").await.display());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_event_and_inactivity_trigger_their_campaigns() {
    let s = stack_for(config(
        "",
        &[
            ("after-video", "priority = 5\ntrigger = { event = \"video_finished\" }"),
            ("idle", "trigger = { all = [{ inactive_seconds = 5 }, { delay_seconds = 1 }] }"),
        ],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    // Repeats of one event do not crowd out the next (the page keeps each name once).
    b.js("for (var i = 0; i < 25; i++) { lodestone.track('video_started'); lodestone.track('progress_' + (i % 3)); }").await;
    assert!(!appears_within(&b, 1).await, "another event triggered it");
    b.js("lodestone.track('video_finished');").await;
    shows(&b, "after-video", 10).await;
    b.close().await;

    // A visitor who stops interacting: the inactivity campaign, once 5 s have passed idle.
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.js("window.dispatchEvent(new KeyboardEvent('keydown'));").await;
    assert!(!appears_within(&b, 3).await, "shown before 5 s of inactivity");
    shows(&b, "idle", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_history_is_capped_in_size_and_age_oldest_first() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 600 }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    // Seed a history over every cap: 30 pages with 600-character titles (about 18 KB), and
    // activity on days up to 200 days ago.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var now = Date.now(), today = Math.floor(now / 86400000), pages = [], days = [];\
         for (var i = 0; i < 30; i++) pages.push({ p: '/old-' + i, t: 'x'.repeat(600), v: 1, e: 0, s: 0 });\
         for (var d = 200; d > 0; d -= 10) days.push({ d: today - d, v: 1, e: 0, c: 0 });\
         localStorage.setItem('lodestone:demo', JSON.stringify({ visits: 3, views: 30, seen: now, since: now, roll: 5, pages: pages, days: days, camps: [], queue: [] }));",
    )
    .await;
    b.goto(&s.page("/fixtures/rules.html")).await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 31", 10).await;
    let h = b.js("var t = localStorage.getItem('lodestone:demo'); return { len: t.length, h: JSON.parse(t), today: Math.floor(Date.now() / 86400000) };").await;
    assert!(h["len"].as_u64().unwrap() <= 16 * 1024, "stored {} bytes", h["len"]);
    let pages: Vec<&str> =
        h["h"]["pages"].as_array().unwrap().iter().map(|p| p["p"].as_str().unwrap()).collect();
    assert_eq!(pages.last(), Some(&"/fixtures/rules.html"), "the current page is kept");
    assert!(
        !pages.contains(&"/old-0") && pages.contains(&"/old-29"),
        "oldest pages dropped first: {pages:?}"
    );
    let today = h["today"].as_u64().unwrap();
    let oldest_day =
        h["h"]["days"].as_array().unwrap().iter().map(|d| d["d"].as_u64().unwrap()).min().unwrap();
    assert!(today - oldest_day < 90, "activity older than 90 days kept: {} days", today - oldest_day);

    // Even with one page left, the cap holds: long first and last touches (about 10 KB) and
    // full referrer and UTM lists (about 6 KB) lose their oldest list entries first.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var k = 'lodestone:demo', h = JSON.parse(localStorage.getItem(k)), now = Date.now(), long = function (c) { return c.repeat(200); };\
         var touch = function (at) { return { referrer: 'https://r.example/' + 'r'.repeat(1980), landing_page: 'https://site.example/' + 'l'.repeat(1970), utm_source: long('s'), utm_medium: long('m'), utm_campaign: long('c'), utm_term: long('t'), utm_content: long('o'), at: at }; };\
         h.first = touch(now - 86400000); h.last = touch(now - 3600000);\
         var list = function (p) { var l = []; for (var i = 0; i < 10; i++) l.push(p + i + '-' + 'v'.repeat(195)); return l; };\
         h.refs = list('ref'); h.sources = list('src'); h.utms = list('utm');\
         localStorage.setItem(k, JSON.stringify(h));",
    )
    .await;
    b.goto(&s.page("/fixtures/rules.html")).await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 32", 10).await;
    let h = b
        .js("var t = localStorage.getItem('lodestone:demo'); return { len: t.length, h: JSON.parse(t) };")
        .await;
    assert!(h["len"].as_u64().unwrap() <= 16 * 1024, "stored {} bytes with one page", h["len"]);
    let h = &h["h"];
    assert_eq!(h["pages"].as_array().unwrap().len(), 1, "{}", h["pages"]);
    assert!(
        h["first"]["at"].is_number() && h["last"]["at"].is_number(),
        "touches dropped before list entries"
    );
    let mut kept = 0;
    for (key, prefix) in [("refs", "ref"), ("sources", "src"), ("utms", "utm")] {
        let list: Vec<String> = h[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap()[..prefix.len() + 1].to_owned())
            .collect();
        let newest: Vec<String> = (10 - list.len()..10).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(list, newest, "{key}: the oldest entries go first");
        kept += list.len();
    }
    assert!(kept < 30, "some list entries were dropped");

    // Pages and touches older than 90 days are forgotten, even in a history still in use.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var k = 'lodestone:demo', h = JSON.parse(localStorage.getItem(k)), old = Date.now() - 100 * 86400000;\
         h.pages.push({ p: '/ancient', t: 'old', v: 1, e: 0, s: 0, a: old }); h.first.at = old;\
         localStorage.setItem(k, JSON.stringify(h));",
    )
    .await;
    b.goto(&s.page("/fixtures/rules.html")).await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 33", 10).await;
    let h = b.js("return JSON.parse(localStorage.getItem('lodestone:demo'));").await;
    let pages: Vec<&str> = h["pages"].as_array().unwrap().iter().map(|p| p["p"].as_str().unwrap()).collect();
    assert_eq!(pages, ["/fixtures/rules.html"], "a page last viewed 100 days ago is forgotten");
    assert!(h["first"].is_null(), "a first touch from 100 days ago is forgotten: {}", h["first"]);
    assert!(h["last"]["at"].is_number(), "the recent last touch is kept");

    // A history last seen 91 days ago is forgotten as a whole.
    b.edit_storage(
        &s.page("/playbook.html"),
        "var k='lodestone:demo',h=JSON.parse(localStorage.getItem(k));h.seen-=91*86400000;localStorage.setItem(k,JSON.stringify(h));",
    )
    .await;
    b.goto(&s.page("/fixtures/rules.html")).await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 1", 10).await;
    assert_eq!(b.js(&stored("visits")).await, json!(1));
    b.close().await;
}

/// One visitor, two tabs: each records its page view, and whichever tab writes last keeps the
/// other's (a visitor who opens articles in new tabs is counted in full).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_of_one_visitor_keep_each_others_page_views() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 600 }")])).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/index.html")).await;
    // Counts the other tab's writes as this tab learns of them (after the tracker has: its
    // listener was added first).
    b.js("window.__writes = []; addEventListener('storage', function (e) { if (e.key === 'lodestone:demo') __writes.push(e.newValue === null ? 'erased' : 'stored'); });")
        .await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.visit(&s.page("/blog/lead-magnets.html")).await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).views === 2", 5).await;

    // Back in the first tab, which loaded before the second one's view: an outbound click
    // makes it store its history again.
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.wait_until("window.__writes.indexOf('stored') >= 0", 5).await;
    b.js("var a = document.createElement('a'); a.href = 'https://elsewhere.example/';\
          a.addEventListener('click', function (e) { e.preventDefault(); });\
          document.body.appendChild(a); a.click();")
        .await;
    b.wait_until("JSON.parse(localStorage.getItem('lodestone:demo')).out === 1", 5).await;
    assert_eq!(b.js(&stored("views")).await, json!(2), "the second tab's view is kept");
    let pages = b.js(&stored("pages.map(function (p) { return p.p; })")).await;
    assert_eq!(pages, json!(["/index.html", "/blog/lead-magnets.html"]));

    // The second tab erases the history (`lodestone.reset()`): the first one stops storing
    // rather than writing it back.
    b.client.switch_to_window(second).await.unwrap();
    b.js("lodestone.reset();").await;
    b.client.switch_to_window(first).await.unwrap();
    b.wait_until("window.__writes[window.__writes.length - 1] === 'erased'", 5).await;
    b.js("document.querySelector('a[href^=\"https://elsewhere\"]').click();").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tabs_history_stored_while_a_page_waits_for_its_config_is_kept() {
    let s = stack_for(config("", &[("later", "trigger = { delay_seconds = 600 }")])).await;
    let b = browser(Device::Desktop).await;
    // The first tab has read the (empty) history but, without its config, stores nothing yet.
    visit_holding_config(&b, &s).await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second).await.unwrap();
    b.visit(&s.page("/index.html")).await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 1", 5).await;

    // Its config arrives: it stores the history as the second tab left it, plus its own view.
    b.client.switch_to_window(first).await.unwrap();
    b.js("releaseConfig();").await;
    b.wait_until("(JSON.parse(localStorage.getItem('lodestone:demo')) || {}).views === 2", 5).await;
    let pages = b.js(&stored("pages.map(function (p) { return p.p; })")).await;
    assert_eq!(pages, json!(["/index.html", "/fixtures/rules.html"]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_answered_with_a_web_page_stores_nothing_and_shows_nothing() {
    let s = stack_for(config("", &[("soon", "trigger = { delay_seconds = 1 }")])).await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/rules.html?bad_config=1")).await;
    b.wait_until("window.lodestone && window.lodestone.ready === true", 10).await;
    assert!(!appears_within(&b, 3).await, "a popup without a config");
    assert_eq!(b.js("return localStorage.getItem('lodestone:demo');").await, Value::Null);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_happens_while_the_config_is_on_its_way_is_not_lost() {
    let s = stack_for(config(
        "",
        &[
            ("asked", "trigger = { delay_seconds = 600 }"),
            (
                "home-only",
                "targeting = { include = [\"/fixtures/rules.html\"] }\ntrigger = { delay_seconds = 1 }",
            ),
        ],
    ))
    .await;
    // A page asking for a campaign before the config has arrived gets it once it does.
    let b = browser(Device::Desktop).await;
    visit_holding_config(&b, &s).await;
    b.js("lodestone.open('asked');").await;
    b.js("releaseConfig();").await;
    shows(&b, "asked", 10).await;
    b.close().await;

    // An SPA navigation before the config: the rules judge the page the visitor is on now.
    let b = browser(Device::Desktop).await;
    visit_holding_config(&b, &s).await;
    b.js("go('/fixtures/app/settings');").await;
    b.js("releaseConfig();").await;
    assert!(!appears_within(&b, 3).await, "a home-only campaign showed on another page");
    b.close().await;
}

/// A visitor submits popup `a`, closes it before the answer, then opens and submits `b`. Each
/// answer belongs to its own lead: `a`'s success neither settles `b`'s form (whether it comes
/// before or after `b` is submitted) nor takes `b` out of the browser's queue, and `b`, whose
/// request failed, is delivered later, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_popups_submitted_on_one_page_each_get_their_own_answer() {
    let s = stack_for(config(
        "",
        &[("a", "trigger = { delay_seconds = 600 }"), ("b", "trigger = { delay_seconds = 600 }")],
    ))
    .await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    // The first three lead requests wait until the test releases them, as a successful answer
    // or as a network failure; later ones go straight through.
    b.js(
        "window.held = []; var real = window.fetch;\
         window.fetch = function (url, o) {\
           if (String(url).indexOf('/v1/leads') < 0 || window.held.length >= 3) return real.apply(this, arguments);\
           var self = this, args = arguments;\
           return new Promise(function (resolve, reject) {\
             window.held.push(function (ok) { if (ok) real.apply(self, args).then(resolve, reject); else reject(new TypeError('offline')); });\
           });\
         };",
    )
    .await;
    let app = &s.app;
    let arrived = |n: usize| async move {
        assert!(app.wait_for_leads("demo", n, 10).await >= n, "lead {n} never arrived");
    };
    // The page has handled `n` lead answers (the event follows whatever the answer settled).
    let leads_handled = |n: usize| {
        format!(
            "__probe.events.filter(function (e) {{ return e.type === 'lodestone:lead'; }}).length === {n}"
        )
    };
    let reopen = |id: &'static str| {
        let b = &b;
        async move {
            b.js("lodestone.close();").await;
            b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
            b.js(&format!("lodestone.open('{id}');")).await;
            shows(b, id, 5).await;
        }
    };
    // `a`'s answer comes while the visitor is typing in `b`: `b` is left alone.
    b.js("lodestone.open('a');").await;
    shows(&b, "a", 5).await;
    b.submit_lead("zero@example.com").await;
    b.wait_until("window.held.length === 1", 5).await;
    reopen("b").await;
    b.type_into("email", "typing").await;
    b.js("window.held[0](true);").await;
    arrived(1).await;
    b.wait_until(&leads_handled(1), 10).await;
    assert_eq!(
        b.in_widget("[root.activeElement && root.activeElement.name, root.querySelector('.success').parentNode.hidden]")
            .await,
        json!(["email", true]),
        "b keeps its focus and its form"
    );

    // `a`'s answer comes after `b` was submitted: `b` waits for its own.
    reopen("a").await;
    b.submit_lead("first@example.com").await;
    b.wait_until("window.held.length === 2", 5).await;
    reopen("b").await;
    b.submit_lead("second@example.com").await;
    b.wait_until("window.held.length === 3", 5).await;
    b.js("window.held[1](true);").await;
    arrived(2).await;
    b.wait_until(&leads_handled(2), 10).await;
    assert_eq!(
        b.in_widget("[root.querySelector('button.submit').getAttribute('aria-disabled'), root.querySelector('form').getAttribute('aria-busy'), root.activeElement && root.activeElement.className]").await,
        json!(["true", "true", "submit"]),
        "b's form is still waiting for its own answer, with focus kept on its button"
    );
    println!("screenshot: {}", b.screenshot("popup-sending").await.display());
    b.js("window.held[2](false);").await;
    b.wait_until("!document.querySelector('[data-lodestone]').shadowRoot.querySelector('.note').hidden", 5)
        .await;
    let queued = b.js("return (JSON.parse(localStorage.getItem('lodestone:demo:queue')) || []).map(function (q) { return JSON.parse(q.body).email; });").await;
    assert_eq!(queued, json!(["second@example.com"]), "only b waits in the queue");

    // Past its backoff (5 s), the next page sends b.
    tokio::time::sleep(Duration::from_secs(6)).await;
    b.goto(&s.page("/index.html")).await;
    arrived(3).await;
    let mut emails: Vec<String> =
        s.app.all_leads("demo").await.iter().map(|l| l["email"].as_str().unwrap().to_owned()).collect();
    emails.sort();
    assert_eq!(emails, ["first@example.com", "second@example.com", "zero@example.com"]);
    b.close().await;
}
