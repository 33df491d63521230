//! The few HTML pages the server answers to people rather than programs (after a plain HTML
//! form post): one plain page layout, and escaping for everything put into it.

use axum::http::{HeaderMap, header};
use axum::response::Html;

/// Whether a person's browser posted a plain HTML form and will show our answer as a page:
/// a content type a form can send (any of its three `enctype`s, the two we do not read
/// included, so their refusal is a page too), and HTML among the accepted types.
pub fn is_browser_form_post(headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    (is_form(headers) || is_multipart(headers) || has_media_type(headers, "text/plain")) && accepts_html
}

/// Whether the body is `application/x-www-form-urlencoded` (media types ignore letter case).
pub fn is_form(headers: &HeaderMap) -> bool {
    has_media_type(headers, "application/x-www-form-urlencoded")
}

/// Whether the body is `multipart/form-data` (an HTML form with `enctype="multipart/form-data"`).
pub fn is_multipart(headers: &HeaderMap) -> bool {
    has_media_type(headers, "multipart/form-data")
}

fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let v = v.trim_start();
        v.get(..media_type.len()).is_some_and(|t| t.eq_ignore_ascii_case(media_type))
            && matches!(v.as_bytes().get(media_type.len()), None | Some(b';' | b' ' | b'\t'))
    })
}

/// The page that sent the request (`Referer`), for a link back to it.
pub fn referer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::REFERER).and_then(|v| v.to_str().ok())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small self-contained page in English; `title` is escaped here, `body` must already be HTML.
pub fn page(title: &str, body: &str) -> Html<String> {
    page_in("en", "ltr", title, body)
}

/// A small self-contained page in the language `lang` written in the direction `dir` (both
/// escaped here, as `title` is); `body` must already be HTML.
pub fn page_in(lang: &str, dir: &str, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"{}\" dir=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
         <title>{}</title></head><body style=\"font-family:system-ui,sans-serif;max-width:36rem;\
         margin:4rem auto;padding:0 1rem\">{body}</body></html>",
        escape(lang),
        escape(dir),
        escape(title)
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_is_escaped() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_title_is_escaped() {
        assert!(super::page("<x>", "<p>ok</p>").0.contains("<title>&lt;x&gt;</title></head><body"));
    }
}
