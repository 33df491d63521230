//! Lodestone's popup module, loaded only when a campaign is about to show. It renders one
//! campaign with Leptos inside an open shadow root on a `data-lodestone` host element, styled
//! by a constructable stylesheet (no `<style>` element, so a strict CSP needs no
//! `'unsafe-inline'`), validates with `funnel`, and hands the answers to the tracker.
//!
//! Accessibility: `role="dialog"`, `aria-modal`, labelled by its headline; focus moves in, is
//! trapped, ESC closes, focus returns; errors are announced and tied to their field.

mod campaign;
mod dialog;

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;

/// A small free-list allocator: dlmalloc alone was about 7 KB of the module.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs this module on one thread only.
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
use web_sys::{CssStyleSheet, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::campaign::View;

const STYLE: &str = include_str!("style.css");

/// The popup on screen: its host, the element to return focus to, and the tracker's callbacks.
struct Mounted {
    host: web_sys::Element,
    root: ShadowRoot,
    restore: Option<HtmlElement>,
    ctx: JsValue,
}

thread_local! {
    static OPEN: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

/// Renders the campaign `campaign_json` with the tracker's callbacks `ctx` (`submit`, `close`).
#[wasm_bindgen]
pub fn mount(campaign_json: String, ctx: JsValue) -> Result<(), JsValue> {
    unmount();
    let view = View::parse(&campaign_json).ok_or_else(|| JsValue::from_str("invalid campaign"))?;
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let document = window.document().ok_or(JsValue::NULL)?;
    // The host goes on `<html>`, beside `<body>`: a `transform`, `filter` or `contain` on the
    // body would otherwise become the containing block of its fixed position (the popup then
    // sits on the body, off screen, and focusing it scrolls the page), and a router that
    // replaces the body's content leaves it alone.
    let parent = document.document_element().ok_or(JsValue::NULL)?;
    let restore = document.active_element().and_then(|e| e.dyn_into::<HtmlElement>().ok());
    let host = document.create_element("div")?;
    host.set_attribute("data-lodestone", "")?;
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(STYLE)?;
    root.set_adopted_style_sheets(&Array::of1(&sheet));
    let container: HtmlElement = document.create_element("div")?.dyn_into()?;
    root.append_child(&container)?;
    // Keys typed in the popup stop at its host: the page's shortcuts (which see the host, not
    // our input, as the target) must not fire while the visitor types an address.
    let stop = Closure::<dyn Fn(web_sys::Event)>::new(|e: web_sys::Event| e.stop_propagation());
    for kind in ["keydown", "keypress", "keyup"] {
        host.add_event_listener_with_callback(kind, stop.as_ref().unchecked_ref())?;
    }
    stop.forget();
    guard_keys(&window)?;
    // The view lives until the host element is removed; keeping the handle to drop it would
    // compile drop code for the whole view tree into the module (a popup mounts rarely).
    let english = view.words.english.clone();
    leptos::mount::mount_to(container, move || dialog::popup(view)).forget();
    // Attached only once rendered: if rendering throws (a page enforcing Trusted Types refuses
    // the templates), nothing is left on the page.
    parent.append_child(&host)?;
    OPEN.with(|o| *o.borrow_mut() = Some(Mounted { host, root, restore, ctx }));
    for word in english {
        mark_english(shown_at(word), true);
    }
    after_paint(|| {
        focus("#ls-email");
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.mark("lodestone:painted");
        }
    });
    Ok(())
}

/// Escape and Tab pressed while focus is outside the popup (a page script took it): Escape
/// still closes, and Tab brings focus back into the dialog rather than walking the page behind
/// it. Keys inside the popup reach the window with the host as their target and are left to
/// the dialog; keys in a modal the page opened since are the page's. Only the visitor's own
/// keys count: not a page script's synthetic events, nor those of an input method composing.
/// Installed once.
fn guard_keys(window: &web_sys::Window) -> Result<(), JsValue> {
    thread_local! {
        static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if GUARDED.with(|g| g.replace(true)) {
        return Ok(());
    }
    let on_key = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(|ev: web_sys::KeyboardEvent| {
        if !ev.is_trusted() || ev.is_composing() {
            return;
        }
        let target = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let outside = OPEN.with(|o| {
            o.borrow().as_ref().is_some_and(|m| !target.as_ref().is_some_and(|t| m.host.contains(Some(t))))
        });
        if !outside || page_modal(target.as_ref()) {
            return;
        }
        match ev.key().as_str() {
            "Escape" => {
                ev.prevent_default();
                ev.stop_propagation();
                request_close("esc");
            }
            "Tab" => {
                ev.stop_propagation();
                trap_tab(&ev);
            }
            _ => {}
        }
    });
    window.add_event_listener_with_callback_and_bool("keydown", on_key.as_ref().unchecked_ref(), true)?;
    on_key.forget();
    Ok(())
}

/// Whether the page shows a modal of its own (above the popup, in the top layer) or the key's
/// target is inside one.
fn page_modal(target: Option<&web_sys::Element>) -> bool {
    let document = web_sys::window().and_then(|w| w.document());
    document.is_some_and(|d| d.query_selector(":modal").ok().flatten().is_some())
        || target.is_some_and(|t| t.closest("dialog[open], [aria-modal=true]").ok().flatten().is_some())
}

/// Removes the popup without telling the tracker (it asked for this).
#[wasm_bindgen]
pub fn unmount() {
    let Some(m) = OPEN.with(|o| o.borrow_mut().take()) else { return };
    m.host.remove();
    if let Some(el) = m.restore {
        let _ = el.focus();
    }
}

/// Runs `f` in the animation frame that paints the mounted popup.
fn after_paint(f: impl FnOnce() + 'static) {
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(Closure::once_into_js(f).unchecked_ref());
    }
}

/// Closes the popup at the visitor's request, then tells the tracker why.
pub(crate) fn request_close(reason: &'static str) {
    let ctx = OPEN.with(|o| o.borrow().as_ref().map(|m| m.ctx.clone()));
    // Tear down after the current event handler returns: it belongs to the view being removed.
    let teardown = Closure::once_into_js(move || {
        unmount();
        if let Some(close) = ctx
            .and_then(|c| Reflect::get(&c, &"close".into()).ok())
            .and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = close.call1(&JsValue::NULL, &JsValue::from_str(reason));
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(teardown.unchecked_ref(), 0);
    }
}

/// Hands the form answers to the tracker; `done` gets its result, or `Err({field, message})`.
/// (A plain `Promise.then`: an async executor would cost kilobytes.)
pub(crate) fn submit(fields: Object, done: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    let promise = OPEN
        .with(|o| o.borrow().as_ref().map(|m| m.ctx.clone()))
        .and_then(|ctx| Reflect::get(&ctx, &"submit".into()).ok())
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|submit| submit.call1(&JsValue::NULL, &fields).ok())
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    let Some(promise) = promise else { return done(Err(JsValue::NULL)) };
    let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
    let on_err = done.clone();
    let ok = Closure::once(move |v: JsValue| {
        if let Some(f) = done.take() {
            f(Ok(v));
        }
    });
    let err = Closure::once(move |e: JsValue| {
        if let Some(f) = on_err.take() {
            f(Err(e));
        }
    });
    let _ = promise.then2(&ok, &err);
    // Each runs at most once; both are freed with the page.
    ok.forget();
    err.forget();
}

/// Marks the element at `selector` as English (`lang="en"`), or lets it take the campaign's
/// language again.
pub(crate) fn mark_english(selector: &str, english: bool) {
    let el = OPEN.with(|o| o.borrow().as_ref().and_then(|m| m.root.query_selector(selector).ok().flatten()));
    if let Some(el) = el {
        let _ = if english { el.set_attribute("lang", "en") } else { el.remove_attribute("lang") };
    }
}

/// Where each of the popup's own words shows (the keys of [`campaign::Words::english`]).
fn shown_at(word: &str) -> &'static str {
    match word {
        "email" => "label[for=ls-email]",
        "name" => "label[for=ls-name] span",
        "optional" => ".optional",
        "unsent" => "#ls-note",
        "download" => ".download",
        _ => ".close",
    }
}

/// Focuses the element matching `selector` inside the popup; `false` when there is none.
pub(crate) fn focus(selector: &str) -> bool {
    let el = OPEN.with(|o| o.borrow().as_ref().and_then(|m| m.root.query_selector(selector).ok().flatten()));
    el.and_then(|e| e.dyn_into::<HtmlElement>().ok()).is_some_and(|el| el.focus().is_ok())
}

/// Keeps Tab and Shift+Tab inside the dialog: from the last focusable control to the first and
/// back. Controls inside a `[hidden]` section (the success view while the form shows, and the
/// reverse) do not count.
pub(crate) fn trap_tab(event: &web_sys::KeyboardEvent) {
    let Some((list, active)) = OPEN.with(|o| {
        o.borrow().as_ref().and_then(|m| {
            let list = m
                .root
                .query_selector_all("button:not([disabled]), a[href], input:not([tabindex='-1'])")
                .ok()?;
            Some((list, m.root.active_element()))
        })
    }) else {
        return;
    };
    let focusable: Vec<HtmlElement> = (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok())
        .filter(|el| el.closest("[hidden]").ok().flatten().is_none())
        .collect();
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else { return };
    let is_active = |el: &HtmlElement| active.as_ref().is_some_and(|a| a.is_same_node(Some(el)));
    let inside = focusable.iter().any(is_active);
    let target = if event.shift_key() {
        (is_active(first) || !inside).then_some(last)
    } else {
        (is_active(last) || !inside).then_some(first)
    };
    if let Some(el) = target {
        event.prevent_default();
        let _ = el.focus();
    }
}
