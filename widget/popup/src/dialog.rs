//! The dialog itself: the form view, its validation with `funnel`, and the success view.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

use funnel::Email;
use funnel::validate::{check_consent, one_line_name};
use js_sys::{Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::campaign::{View, Words, own};
use crate::{focus, mark_english, request_close, submit, trap_tab};

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Form,
    Sending,
    Done { queued: bool },
}

fn set(obj: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value);
}

/// The campaign's own words for a message shown at `at` if it set them, else `default`, marked
/// there as English.
fn said(custom: Option<String>, default: String, at: &str) -> String {
    mark_english(at, custom.is_none());
    custom.unwrap_or(default)
}

/// When the dialog last changed size (the success view replacing the form, ms since the epoch),
/// and whether the press that became a click began on the backdrop: only a click both begun and
/// ended there, and not the second of an impatient double click on Send landing where the form
/// was, closes. (One popup at a time; nothing renders from these.)
static CHANGED_AT: AtomicU64 = AtomicU64::new(0);
static PRESSED_BACKDROP: AtomicBool = AtomicBool::new(false);

pub fn popup(view: View) -> impl IntoView {
    let (email, set_email) = signal(String::new());
    let (name, set_name) = signal(String::new());
    let (consent, set_consent) = signal(false);
    let (website, set_website) = signal(String::new());
    let (email_error, set_email_error) = signal(String::new());
    let (consent_error, set_consent_error) = signal(String::new());
    let (form_error, set_form_error) = signal(String::new());
    let (phase, set_phase) = signal(Phase::Form);
    let consent_required = view.consent_required;
    let words = StoredValue::new(view.words.clone());
    // A refusal in the campaign's words where it set them, else the validation's own message
    // (or the server's), in English.
    let email_message = move |code: &str, message: String| {
        let custom =
            |w: &Words| if code == "required" { w.email_required.clone() } else { w.email_invalid.clone() };
        said(words.with_value(custom), message, "#ls-email-error")
    };
    let consent_message = move |message: String| {
        said(words.with_value(|w: &Words| w.consent_required.clone()), message, "#ls-consent-error")
    };

    let on_submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        if phase.get_untracked() != Phase::Form {
            return;
        }
        set_form_error.set(String::new());
        let email_check = Email::parse(&email.get_untracked());
        set_email_error.set(
            email_check.as_ref().err().map(|e| email_message(e.code, e.message.clone())).unwrap_or_default(),
        );
        let consent_check = check_consent(consent_required, consent.get_untracked());
        set_consent_error.set(
            consent_check.as_ref().err().map(|e| consent_message(e.message.clone())).unwrap_or_default(),
        );
        if email_check.is_err() {
            focus("#ls-email");
            return;
        }
        if consent_check.is_err() {
            focus("#ls-consent");
            return;
        }
        set_phase.set(Phase::Sending);
        let fields = Object::new();
        set(&fields, "email", email.get_untracked().trim().into());
        // A tab or line break pasted into the name becomes a space, a text-direction control
        // goes (the server refuses them).
        set(&fields, "name", one_line_name(&name.get_untracked()).into());
        set(&fields, "consent", consent.get_untracked().into());
        set(&fields, "website", website.get_untracked().into());
        submit(fields, move |answer| match answer {
            Ok(result) => {
                CHANGED_AT.store(js_sys::Date::now() as u64, Relaxed);
                set_phase.set(Phase::Done { queued: own(&result, "queued").as_bool().unwrap_or(false) });
                // Once the success view is shown: its download link, else the close button.
                request_animation_frame(|| {
                    if !focus(".download") {
                        focus(".close");
                    }
                });
            }
            Err(error) => {
                set_phase.set(Phase::Form);
                let text = |key: &str| own(&error, key).as_string().unwrap_or_default();
                let message = Some(text("message"))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "Something went wrong. Please try again.".into());
                match text("field").as_str() {
                    "email" => {
                        set_email_error.set(email_message(&text("code"), message));
                        focus("#ls-email");
                    }
                    "consent" => set_consent_error.set(consent_message(message)),
                    // Anything else (a refusal of the whole lead, the browser's storage refused).
                    _ => set_form_error.set(said(
                        words.with_value(|w: &Words| w.error.clone()),
                        message,
                        "[role=alert]",
                    )),
                }
            }
        });
    };

    let on_keydown = move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            request_close("esc");
        }
        "Tab" => trap_tab(&ev),
        _ => {}
    };
    // A press on the backdrop keeps focus in the dialog (where Escape and the Tab trap work),
    // also when it ends as a drag rather than a click.
    let on_press = move |ev: web_sys::MouseEvent| {
        let on_backdrop = ev.target() == ev.current_target();
        if on_backdrop {
            ev.prevent_default();
        }
        PRESSED_BACKDROP.store(on_backdrop, Relaxed);
    };
    let on_backdrop = move |ev: web_sys::MouseEvent| {
        if ev.target() == ev.current_target()
            && PRESSED_BACKDROP.load(Relaxed)
            && js_sys::Date::now() as u64 > CHANGED_AT.load(Relaxed) + 700
        {
            request_close("backdrop");
        }
    };

    let View {
        headline,
        body,
        button_label,
        ask_name,
        consent_text,
        success_message,
        lead_magnet_url,
        words: w,
        lang,
        dir,
        ..
    } = view;
    let (label_email, label_name, optional, download, unsent, close) =
        (w.email, w.name, w.optional, w.download, w.unsent, w.close);
    let form = move || {
        let name_field = ask_name.then(|| {
            view! {
                <label class="field" for="ls-name">
                    <span>{label_name.clone()}</span>" "<span class="optional">{optional.clone()}</span>
                </label>
                <input class="text" id="ls-name" name="name" type="text" autocomplete="name" maxlength="100"
                    on:input=move |ev| set_name.set(event_target_value(&ev)) />
            }
        });
        view! {
            <h2 id="ls-title">{headline.clone()}</h2>
            <p class="body" id="ls-body">{body.clone()}</p>
            <form novalidate on:submit=on_submit
                aria-busy=move || if phase.get() == Phase::Sending { "true" } else { "false" }>
                <label class="field" for="ls-email">{label_email.clone()}</label>
                // Left to right in any language: an address read right to left scrambles as it is typed.
                <input class="text" id="ls-email" name="email" type="email" autocomplete="email" inputmode="email"
                    dir="ltr" required aria-describedby="ls-email-error"
                    aria-invalid=move || if email_error.get().is_empty() { "false" } else { "true" }
                    on:input=move |ev| {
                        set_email.set(event_target_value(&ev));
                        set_email_error.set(String::new());
                    } />
                <p class="error" id="ls-email-error" aria-live="polite">{move || email_error.get()}</p>
                {name_field}
                <label class="consent">
                    <input id="ls-consent" name="consent" type="checkbox" aria-describedby="ls-consent-error"
                        aria-required=if consent_required { "true" } else { "false" }
                        aria-invalid=move || if consent_error.get().is_empty() { "false" } else { "true" }
                        on:change=move |ev| {
                            set_consent.set(event_target_checked(&ev));
                            set_consent_error.set(String::new());
                        } />
                    <span>{consent_text.clone()}</span>
                </label>
                <p class="error" id="ls-consent-error" aria-live="polite">{move || consent_error.get()}</p>
                // The trap for bots, named so that no form filler takes it for a field of its own.
                <div class="hp" aria-hidden="true">
                    <label>"Leave empty"<input name="ls-trap" type="text" tabindex="-1" autocomplete="off"
                        on:input=move |ev| set_website.set(event_target_value(&ev)) /></label>
                </div>
                // `aria-disabled`, not `disabled`: a disabled button drops focus out of the dialog,
                // where Escape and the Tab trap no longer reach; a second submit is ignored anyway.
                <button class="submit" type="submit"
                    aria-disabled=move || if phase.get() == Phase::Sending { "true" } else { "false" }>
                    {button_label.clone()}
                </button>
                <p class="error" role="alert">{move || form_error.get()}</p>
            </form>
        }
    };
    // What the control focused on success is described by: the success message, and the note
    // when the lead waits to be sent (a status region shown already filled is not announced).
    let described = move || match phase.get() {
        Phase::Done { queued: true } => Some("ls-done ls-note"),
        Phase::Done { queued: false } => Some("ls-done"),
        _ => None,
    };
    let done = move || {
        let link = lead_magnet_url.clone().map(|url| {
            view! {
                <a class="download" href=url target="_blank" rel="noopener" aria-describedby=described>
                    {download.clone()}
                </a>
            }
        });
        let note = view! {
            <p class="note" id="ls-note" hidden=move || phase.get() != (Phase::Done { queued: true })>
                {unsent.clone()}
            </p>
        };
        view! {
            <div class="success" role="status">
                <div class="check" aria-hidden="true">"✓"</div>
                <h2 id="ls-done">{success_message.clone()}</h2>
                {link}
                {note}
            </div>
        }
    };
    view! {
        <div class="backdrop" on:mousedown=on_press on:click=on_backdrop>
            // Focusable itself (not in the Tab order), so a click on its text keeps focus inside,
            // where Escape and the Tab trap still work.
            // The campaign's language and direction. Its direction is `auto` unless it sets one:
            // its own words set it (an English campaign on a right-to-left page reads left to
            // right, and an Arabic one right to left).
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="ls-title" aria-describedby="ls-body"
                tabindex="-1" lang=lang dir=dir on:keydown=on_keydown>
                // The close button's bar stays at the top while a tall form scrolls on a small
                // screen: fields pass under it, never under the button alone.
                <div class="bar">
                    <button class="close" type="button" aria-label=close aria-describedby=described
                        on:click=move |_| request_close("close")>"×"</button>
                </div>
                <div hidden=move || matches!(phase.get(), Phase::Done { .. })>{form()}</div>
                <div hidden=move || !matches!(phase.get(), Phase::Done { .. })>{done()}</div>
            </div>
        </div>
    }
}
