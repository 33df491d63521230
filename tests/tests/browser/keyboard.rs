//! Keyboard, pointer and small-screen use of the popup: focus moves in and is trapped, Escape
//! closes, focus returns; only a deliberate click on the backdrop closes; the form at narrow
//! widths, long copy, and right-to-left pages.

use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use lodestone_tests::Options;
use lodestone_tests::browser::{Device, ESCAPE, TAB, browser, stack, stack_with};
use serde_json::{Value, json};

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

    // A page script takes focus while the popup is open: Tab and Shift+Tab bring it back into
    // the dialog rather than walking the page behind it.
    b.js("document.getElementById('host-button').focus();").await;
    b.press(TAB, false).await;
    assert_eq!(b.in_widget(FOCUSED).await, json!("close"), "Tab from the page behind the popup");
    b.js("document.getElementById('host-button').focus();").await;
    b.press(TAB, true).await;
    assert_eq!(b.in_widget(FOCUSED).await, json!("submit"), "Shift+Tab from the page behind the popup");

    // Keys a page script makes up are not the visitor's: a synthetic Escape closes nothing.
    b.js("document.getElementById('host-button').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));")
        .await;
    assert!(b.popup_open().await, "closed by a synthetic Escape");
    // A modal the page opens over the popup keeps its own keys: Tab moves within it, Escape
    // closes it, not the popup.
    b.js("var d = document.createElement('dialog'); d.id = 'page-dialog'; d.innerHTML = '<input id=\"i1\"><input id=\"i2\">';\
          document.body.appendChild(d); d.showModal(); document.getElementById('i1').focus();")
        .await;
    b.press(TAB, false).await;
    assert_eq!(b.js("return document.activeElement.id;").await, json!("i2"), "Tab in the page's own modal");
    b.press(ESCAPE, false).await;
    b.wait_until("!document.getElementById('page-dialog').open", 5).await;
    assert!(b.popup_open().await, "Escape in the page's modal closed the popup");
    b.js("document.getElementById('page-dialog').remove();").await;

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

    // Escape closes also while a page script holds focus, and the page does not see the key.
    b.js("window.__keys = []; addEventListener('keydown', function (e) { __keys.push(e.key); }); lodestone.open('welcome');").await;
    b.wait_for_popup(10).await;
    b.js("document.getElementById('host-button').focus();").await;
    b.press(ESCAPE, false).await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    assert_eq!(b.js("return window.__keys;").await, json!([]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_stays_usable_at_320_px_with_the_keyboard_up() {
    let s = stack().await;
    let b = browser(Device::SmallPhoneKeyboardUp).await;
    b.goto(&s.page("/index.html")).await;
    b.wait_for_popup_at_rest(10).await;
    let layout = b
        .in_widget(
            "(function(){var d=root.querySelector('[role=dialog]').getBoundingClientRect();var i=root.querySelector('input[name=email]');\
             i.focus();var r=i.getBoundingClientRect();var s=root.querySelector('button[type=submit]');s.scrollIntoView();var b=s.getBoundingClientRect();\
             var c=root.querySelector('.close'),k=c.getBoundingClientRect();\
             return {width:d.width,inner:innerWidth,input_top:r.top,input_bottom:r.bottom,submit_bottom:b.bottom,height:innerHeight,\
             scrolled:root.querySelector('.backdrop').scrollTop,close_top:k.top,close_end:innerWidth-k.right,\
             close_on_top:root.elementFromPoint(k.left+k.width/2,k.top+k.height/2)===c};})()",
        )
        .await;
    assert!(layout["width"].as_f64().unwrap() <= layout["inner"].as_f64().unwrap(), "{layout}");
    assert!(layout["input_top"].as_f64().unwrap() >= 0.0, "{layout}");
    assert!(
        layout["submit_bottom"].as_f64().unwrap() <= layout["height"].as_f64().unwrap() + 0.5,
        "{layout}"
    );
    // Scrolled down to Send, the close button is still on screen, at the top, and takes a tap.
    assert!(layout["scrolled"].as_f64().unwrap() > 0.0, "the dialog fits: nothing to check {layout}");
    let close_top = layout["close_top"].as_f64().unwrap();
    assert!((0.0..=16.0).contains(&close_top), "{layout}");
    assert!(layout["close_end"].as_f64().unwrap() >= 0.0, "{layout}");
    assert_eq!(layout["close_on_top"], Value::Bool(true), "{layout}");
    println!("scrolled to Send at 320 px: {}", b.screenshot("popup-320-scrolled").await.display());
    // Back to the address from Send: the field comes into view whole, below the close button,
    // which covers no part of it (a tap at its end must not close the popup).
    let typing = b
        .in_widget(
            "(function(){var s=root.querySelector('button[type=submit]'),i=root.querySelector('input[name=email]');s.focus();i.focus();\
             var e=i.getBoundingClientRect(),y=(e.top+e.bottom)/2,k=root.querySelector('.close').getBoundingClientRect();\
             return {input_top:e.top,close_bottom:k.bottom,start:root.elementFromPoint(e.left+10,y)===i,end:root.elementFromPoint(e.right-10,y)===i,\
             close_x:Math.round(k.left+k.width/2),close_y:Math.round(k.top+k.height/2)};})()",
        )
        .await;
    // Its focus ring (3 px, 2 px away) shows too.
    assert!(
        typing["input_top"].as_f64().unwrap() >= typing["close_bottom"].as_f64().unwrap() + 5.0,
        "{typing}"
    );
    assert_eq!((&typing["start"], &typing["end"]), (&Value::Bool(true), &Value::Bool(true)), "{typing}");
    println!("back to the address at 320 px: {}", b.screenshot("popup-320-typing").await.display());
    let (x, y) = (typing["close_x"].as_f64().unwrap(), typing["close_y"].as_f64().unwrap());
    let tap = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo { duration: None, x, y })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::Up { button: 0 });
    b.client.perform_actions(tap).await.unwrap();
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_click_begun_and_ended_on_the_backdrop_closes_and_not_one_just_after_sending() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/index.html")).await;
    b.wait_for_popup(10).await;
    // The second click of an impatient double click on Send: it lands on the backdrop the
    // moment the smaller success view replaces the form.
    b.in_widget(
        "(function(){var bd=root.querySelector('.backdrop'),ok=root.querySelector('.success');\
         new MutationObserver(function(m,o){if(ok.closest('[hidden]'))return;o.disconnect();\
         bd.dispatchEvent(new MouseEvent('mousedown',{bubbles:true}));bd.dispatchEvent(new MouseEvent('click',{bubbles:true}));\
         window.__second_click=true;}).observe(root,{attributes:true,subtree:true});return true;})()",
    )
    .await;
    b.submit_lead("impatient@example.com").await;
    b.wait_until("window.__second_click === true", 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.popup_open().await, "the click right after sending closed the success view");
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Selecting text in the dialog and releasing over the backdrop is not a click on it.
    b.in_widget(
        "(function(){root.querySelector('.dialog').dispatchEvent(new MouseEvent('mousedown',{bubbles:true}));\
         root.querySelector('.backdrop').dispatchEvent(new MouseEvent('click',{bubbles:true}));return true;})()",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.popup_open().await, "a drag that ended on the backdrop closed the popup");
    // A real click on the backdrop still closes it.
    b.in_widget(
        "(function(){var bd=root.querySelector('.backdrop');bd.dispatchEvent(new MouseEvent('mousedown',{bubbles:true}));\
         bd.dispatchEvent(new MouseEvent('click',{bubbles:true}));return true;})()",
    )
    .await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_on_the_backdrop_that_is_no_click_leaves_escape_working() {
    let s = stack().await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/index.html")).await;
    b.wait_for_popup_at_rest(10).await;
    // A right click on the backdrop (a press that never becomes a click there): focus stays in
    // the dialog, where Escape closes it.
    let right = 2;
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo { duration: None, x: 5.0, y: 5.0 })
        .then(PointerAction::Down { button: right })
        .then(PointerAction::Up { button: right });
    b.client.perform_actions(mouse).await.unwrap();
    assert!(b.popup_open().await);
    assert_ne!(b.in_widget(FOCUSED).await, json!(null), "focus left the dialog");
    b.press(ESCAPE, false).await;
    b.wait_until("!document.querySelector('[data-lodestone]')", 5).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_words_wrap_inside_the_dialog_and_the_campaigns_language_sets_its_direction() {
    let word = "Rechtsschutzversicherungsgesellschaftenvergleichsportalempfehlungsliste";
    let toml = format!(
        "[[sites]]\nid = \"demo\"\nallowed_origins = [\"{{{{SITE_ORIGIN}}}}\"]\n\
         [[sites.campaigns]]\nid = \"long\"\nheadline = \"{word}\"\n\
         body = \"https://www.example.com/{word}/{word}?utm_source=newsletter\"\ntrigger = {{ delay_seconds = 1 }}\n"
    );
    let s = stack_with(Options { config_toml: Some(toml), ..Options::default() }).await;
    for device in [Device::Desktop, Device::Phone] {
        let b = browser(device).await;
        b.visit(&s.page("/fixtures/rules.html")).await;
        // A right-to-left page; the campaign is in a left-to-right language.
        b.js("document.documentElement.dir = 'rtl';").await;
        b.wait_for_popup_at_rest(10).await;
        let layout = b
            .in_widget(
                "(function(){var bd=root.querySelector('.backdrop'),d=root.querySelector('[role=dialog]').getBoundingClientRect();\
                 var inside=function(sel){var e=root.querySelector(sel),r=e.getBoundingClientRect();return r.left>=d.left&&r.right<=d.right&&e.scrollWidth<=e.clientWidth;};\
                 var c=root.querySelector('.close').getBoundingClientRect(),box=root.querySelector('input[name=consent]').getBoundingClientRect(),\
                 text=root.querySelector('.consent span').getBoundingClientRect();\
                 return {sideways:bd.scrollWidth>bd.clientWidth,headline:inside('h2'),body:inside('.body'),\
                 direction:getComputedStyle(root.querySelector('[role=dialog]')).direction,\
                 close_at_right:c.right>d.right-60,box_first:box.left<text.left};})()",
            )
            .await;
        assert_eq!(
            layout,
            json!({ "sideways": false, "headline": true, "body": true, "direction": "ltr", "close_at_right": true, "box_first": true }),
            "{device:?}"
        );
        // No language declared: the dialog claims none, and the page's applies.
        assert_eq!(
            b.in_widget("root.querySelector('[role=dialog]').hasAttribute('lang')").await,
            json!(false)
        );
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_to_left_campaign_reads_right_to_left_but_its_email_field_left_to_right() {
    // The headline opens with a brand name in Latin letters: only the declared direction makes
    // the popup right to left (`auto` would read it left to right).
    let toml = "[[sites]]\nid = \"demo\"\nallowed_origins = [\"{{SITE_ORIGIN}}\"]\n\
         [[sites.campaigns]]\nid = \"ar\"\nheadline = \"Lodestone: احصل على الدليل المجاني\"\n\
         body = \"أرسل بريدك الإلكتروني\"\nlang = \"ar\"\ndir = \"rtl\"\ntrigger = { delay_seconds = 1 }\n";
    let s = stack_with(Options { config_toml: Some(toml.into()), ..Options::default() }).await;
    let b = browser(Device::Desktop).await;
    b.visit(&s.page("/fixtures/rules.html")).await;
    b.wait_for_popup_at_rest(10).await;
    let direction = |sel: &str| format!("getComputedStyle(root.querySelector('{sel}')).direction");
    assert_eq!(b.in_widget(&direction("[role=dialog]")).await, json!("rtl"));
    assert_eq!(b.in_widget(&direction("input[name=email]")).await, json!("ltr"));
    // Screen readers speak the campaign's words in its language, and the popup's own words it
    // left to their English defaults (labels, the close button's name, refusals) in English.
    assert_eq!(b.in_widget("root.querySelector('[role=dialog]').lang").await, json!("ar"));
    let langs = "['label[for=ls-email]','.close','h2','#ls-email-error'].map(function(s){return root.querySelector(s).getAttribute('lang');})";
    assert_eq!(b.in_widget(langs).await, json!(["en", "en", null, null]));
    b.click_in_widget("button[type=submit]").await;
    b.wait_until("document.querySelector('[data-lodestone]').shadowRoot.querySelector('#ls-email-error').textContent !== ''", 5)
        .await;
    assert_eq!(b.in_widget(langs).await, json!(["en", "en", null, "en"]));
    b.close().await;
}
