//! `GET /v1/sites/{site}/config` (the widget's campaign config, with ETag and 304) and
//! `GET /v1/thanks` (the thank-you page after a plain HTML form post).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use funnel::TextDirection;

use super::AppState;
use super::body::{SiteInPath, query_map};
use super::error::ApiError;
use super::guard::check_origin;
use super::html::{self, escape};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sites/{site}/config", get(config)).route("/v1/thanks", get(thanks))
}

async fn config(State(state): State<AppState>, SiteInPath(site): SiteInPath, headers: HeaderMap) -> Response {
    match site_config(&state, &site, &headers) {
        Ok(response) => response,
        Err(refused) => readable_by_the_page(refused.into_response(), &headers),
    }
}

/// A refusal (an origin not allowed, an unknown site) that the page which asked may read, so
/// the debug overlay can say why no campaign shows (the browser hides the reason from a page
/// the answer does not name). It tells that page only what it sent and where to set it: the
/// config itself stays with the site's own origins.
fn readable_by_the_page(mut response: Response, headers: &HeaderMap) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN) {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.headers_mut().append(header::VARY, header::ORIGIN.into());
    }
    response
}

fn site_config(state: &AppState, site: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let site = state.sites.get(site).ok_or_else(|| ApiError::unknown("site", site))?;
    check_origin(site, headers)?;
    let cache = [(header::ETAG, site.etag.clone()), (header::CACHE_CONTROL, "public, max-age=60".to_owned())];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| none_match_hits(tags, &site.etag));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, "application/json")], site.config_json.clone()).into_response())
}

/// Whether an `If-None-Match` list names `etag`: by the weak comparison RFC 9110 requires for
/// this header, so a tag a proxy weakened (`W/"..."`, e.g. after compressing) still matches.
fn none_match_hits(tags: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let etag = opaque(etag);
    tags.split(',').any(|t| t.trim() == "*" || opaque(t) == etag)
}

async fn thanks(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Html<String>, ApiError> {
    let q = query_map(q.as_deref())?;
    let id = |field| q.get(field).map_or("", String::as_str);
    let site = state.sites.get(id("site")).ok_or_else(|| ApiError::unknown("site", id("site")))?;
    let campaign =
        site.campaign(id("campaign")).ok_or_else(|| ApiError::unknown("campaign", id("campaign")))?;
    // The campaign's words, in its language (English unless it says) and direction, its
    // "Download now" label too; the English default, in another language, is marked English.
    let lang = campaign.lang.as_deref().unwrap_or("en");
    let download = match campaign.text.download.as_deref() {
        Some(words) => format!(">{}", escape(words)),
        None if funnel::config::is_english(lang) => ">Download now".into(),
        None => r#" lang="en">Download now"#.into(),
    };
    let link = campaign
        .success
        .lead_magnet_url
        .as_deref()
        .map(|url| site.link(url, None, html::referer(&headers)))
        .map_or(String::new(), |url| format!(r#"<p><a href="{}"{download}</a></p>"#, escape(&url)));
    let dir = match campaign.dir {
        TextDirection::Auto => "auto",
        TextDirection::Ltr => "ltr",
        TextDirection::Rtl => "rtl",
    };
    let back = back_link(site, html::referer(&headers));
    let message = &campaign.success.message;
    Ok(html::page_in(lang, dir, message, &format!("<h1>{}</h1>{link}{back}", escape(message))))
}

/// A way back to the site: the page the form was on (the `Referer`, when on one of the site's
/// origins), else the site's first origin. Named by its host, in no language.
fn back_link(site: &crate::sites::Site, referer: Option<&str>) -> String {
    let page = referer.filter(|r| site.origin_of_allowed(r)).map(str::to_owned);
    let Some(url) = page.or_else(|| site.allowed_origins.first().map(|o| format!("{o}/"))) else {
        return String::new();
    };
    let host = crate::sites::origin_of(&url).and_then(|o| o.split_once("://")).map_or("", |(_, host)| host);
    format!(r#"<p><a href="{}" dir="ltr">{}</a></p>"#, escape(&url), escape(host))
}

#[cfg(test)]
mod tests {
    use super::none_match_hits;

    #[test]
    fn if_none_match_uses_the_weak_comparison() {
        let etag = "\"0123abcd\"";
        assert!(none_match_hits("\"0123abcd\"", etag));
        assert!(none_match_hits("W/\"0123abcd\"", etag));
        assert!(none_match_hits("\"other\", W/\"0123abcd\"", etag));
        assert!(none_match_hits("*", etag));
        assert!(!none_match_hits("\"0123abce\"", etag));
        assert!(!none_match_hits("W/\"other\"", etag));
        assert!(!none_match_hits("0123abcd", etag));
    }
}
