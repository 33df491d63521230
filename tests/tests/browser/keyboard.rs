//! Keyboard and small-screen use of the popup: focus moves in and is trapped, Escape closes,
//! focus returns; the form at narrow widths.

use lodestone_tests::browser::{Device, ESCAPE, TAB, browser, stack};
use serde_json::json;

const FOCUSED: &str =
    "(function(){var a=root.activeElement;if(!a)return null;return a.name||a.className||a.tagName;})()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_focus_moves_in_is_trapped_escape_closes_and_focus_returns() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.goto(&s.page("/fixtures/plain.html")).await;
    b.js("document.getElementById('host-button').focus();").await;
    b.wait_for_popup(10).await;
    b.wait_until("(function(){var r=document.querySelector('[data-lodestone]').shadowRoot;return r.activeElement&&r.activeElement.name==='email';})()", 5).await;

    let mut seen = Vec::new();
    for _ in 0..7 {
        b.press(TAB, false).await;
        let focused = b.in_widget(FOCUSED).await;
        assert_ne!(focused, json!(null), "focus left the dialog after {seen:?}");
        seen.push(focused);
    }
    // email -> name -> consent -> submit -> close -> email ... (the honeypot is skipped).
    assert_eq!(seen[..5], [json!("name"), json!("consent"), json!("submit"), json!("close"), json!("email")]);
    // Seven presses end on "consent"; two more reach the first control, the close button.
    b.press(TAB, false).await;
    b.press(TAB, false).await;
    assert_eq!(b.in_widget(FOCUSED).await, json!("close"));
    b.press(TAB, true).await;
    assert_eq!(
        b.in_widget(FOCUSED).await,
        json!("submit"),
        "Shift+Tab from the first control wraps to the last"
    );

    // A click on the dialog's text keeps focus in the dialog: Tab and Escape still work.
    b.click_in_widget("#ls-title").await;
    b.press(TAB, false).await;
    assert_eq!(b.in_widget(FOCUSED).await, json!("close"), "Tab after a click on the text");
    b.click_in_widget("#ls-body").await;
    b.press(ESCAPE, false).await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    assert_eq!(
        b.js("return document.activeElement && document.activeElement.id;").await,
        json!("host-button")
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_stays_usable_at_320_px_with_the_keyboard_up() {
    let s = stack().await;
    let b = browser(Device::SmallPhoneKeyboardUp).await;
    b.goto(&s.page("/index.html")).await;
    b.wait_for_popup(10).await;
    let layout = b
        .in_widget(
            "(function(){var d=root.querySelector('[role=dialog]').getBoundingClientRect();var i=root.querySelector('input[name=email]');\
             i.focus();var r=i.getBoundingClientRect();var s=root.querySelector('button[type=submit]');s.scrollIntoView();var b=s.getBoundingClientRect();\
             return {width:d.width,inner:innerWidth,input_top:r.top,input_bottom:r.bottom,submit_bottom:b.bottom,height:innerHeight};})()",
        )
        .await;
    assert!(layout["width"].as_f64().unwrap() <= layout["inner"].as_f64().unwrap(), "{layout}");
    assert!(layout["input_top"].as_f64().unwrap() >= 0.0, "{layout}");
    assert!(
        layout["submit_bottom"].as_f64().unwrap() <= layout["height"].as_f64().unwrap() + 0.5,
        "{layout}"
    );
    b.close().await;
}
