//! `POST /v1/leads`: a lead as JSON (any content type) or as a plain HTML form post.
//! Validated at the edge, scored again with the site's rules, answered only once durable.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Json, Router};
use funnel::{
    Attribution, Campaign, ConsentGiven, FieldError, LeadAccepted, LeadSubmission, Signals, Touch, ValidLead,
    compute_score,
};
use uuid::Uuid;

use super::AppState;
use super::body::{LEAD_BODY_LIMIT, form_pairs, parse_json, read_body};
use super::error::ApiError;
use super::guard::check_origin;
use super::html;
use crate::records::{ConsentRecord, StoredLead};
use crate::sites::Site;
use crate::store::NewLead;
use crate::writer::{WriteDone, WriteOp};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/leads", post(create))
}

async fn create(State(state): State<AppState>, headers: HeaderMap, req: Request) -> Response {
    let is_form = html::is_form(&headers);
    match accept(&state, &headers, req, is_form).await {
        Ok(response) => response,
        // A browser that posted a plain form shows the answer to a person: a page, not JSON.
        Err(e) if html::is_browser_form_post(&headers) => e.into_html_response(html::referer(&headers)),
        Err(e) => e.into_response(),
    }
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    req: Request,
    is_form: bool,
) -> Result<Response, ApiError> {
    if html::is_multipart(headers) {
        return Err(ApiError::malformed(
            "multipart/form-data is not accepted: send JSON or application/x-www-form-urlencoded",
            Some("body".into()),
        ));
    }
    let body = read_body(req, state, LEAD_BODY_LIMIT).await?;
    // JSON labelled as a form (`curl -d` does that) is still JSON: no form starts with `{`
    // (or `[`, JSON that is not an object, refused as such).
    let is_form = is_form && !matches!(body.trim_ascii_start().first(), Some(b'{' | b'['));
    let mut submission = if is_form {
        let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
        lead_from_form(&body, referer)?
    } else {
        parse_json::<LeadSubmission>(&body)?
    };
    let site =
        state.sites.get(&submission.site).ok_or_else(|| ApiError::unknown("site", &submission.site))?;
    check_origin(site, headers)?;
    let campaign = site
        .campaign(&submission.campaign)
        .ok_or_else(|| ApiError::unknown("campaign", &submission.campaign))?;
    if is_form {
        consent_as_configured(&mut submission, campaign);
    }
    let thank_you = campaign.success.thank_you_url.as_deref().map(|url| {
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        site.link(url, origin, html::referer(headers))
    });
    let valid = submission.validate(campaign).map_err(|e| if is_form { in_form_terms(e) } else { e })?;
    let (site_id, campaign_id) = (valid.submission.site.clone(), valid.submission.campaign.clone());
    let variant = valid.submission.variant.clone();
    let new = new_lead(site, valid);
    let WriteDone::Lead(outcome) = state.writer.write(WriteOp::Lead(Box::new(new))).await? else {
        return Err(ApiError::Internal("writer answered a lead with another outcome".into()));
    };
    if outcome.created {
        let day = time::OffsetDateTime::now_utc().date().to_string();
        state.counters.lead(&site_id, &day, &campaign_id, variant.as_deref());
    }
    if is_form {
        let to = thank_you.unwrap_or_else(|| format!("/v1/thanks?site={site_id}&campaign={campaign_id}"));
        return Ok(Redirect::to(&location(&to)).into_response());
    }
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(LeadAccepted { id: outcome.id, created: outcome.created })).into_response())
}

/// A redirect target as a `Location` header carries it: bytes outside ASCII percent-encoded
/// (UTF-8), as a browser encodes a link it follows; everything else as configured.
fn location(url: &str) -> String {
    const NON_ASCII: &percent_encoding::AsciiSet = percent_encoding::CONTROLS;
    percent_encoding::utf8_percent_encode(url, NON_ASCII).to_string()
}

/// Builds the record to store: the server's own score, the consent ledger entry, the index key.
fn new_lead(site: &Site, valid: ValidLead) -> NewLead {
    let ValidLead { email, submission: s } = valid;
    let now = now_rfc3339();
    let score = match &s.signals {
        Some(signals) => compute_score(&site.config.scoring, signals),
        None => compute_score(&site.config.scoring, &Signals::default()),
    };
    let score_mismatch = s.score.as_ref().is_some_and(|c| *c != score);
    let consent = s.consent.as_ref().map(|c| ConsentRecord {
        granted: c.granted,
        text: c.text.clone(),
        version: c.version.clone(),
        at: now.clone(),
        page_url: s.page_url.clone(),
    });
    let lead = StoredLead {
        id: String::new(),
        site: s.site,
        campaign: s.campaign,
        variant: s.variant,
        email: email.as_str().to_owned(),
        name: s.name,
        fields: s.fields,
        submission_id: s.submission_id,
        page_url: s.page_url,
        referrer: s.referrer,
        attribution: s.attribution.unwrap_or_default(),
        signals: s.signals,
        client_score: s.score,
        score,
        score_mismatch,
        received_at: now,
        consent,
    };
    NewLead::new(lead)
}

/// Now, in RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatting the current time")
}

/// Adds one answer of a form: a name sent more than once (checkboxes sharing a name, a
/// multiple select) keeps every value, in order, joined by ", ".
fn add_answer(fields: &mut BTreeMap<String, String>, name: &str, value: String) {
    match fields.get_mut(name) {
        Some(answer) => {
            answer.push_str(", ");
            answer.push_str(&value);
        }
        None => {
            fields.insert(name.to_owned(), value);
        }
    }
}

/// Whether a form value says no: empty, `0`, `false`, `off` or `no` (any letter case).
fn is_no(value: &str) -> bool {
    ["", "0", "false", "off", "no"].iter().any(|no| value.trim().eq_ignore_ascii_case(no))
}

/// A form's ticked consent box sent with the campaign's configured `consent_version` but no
/// `consent_text`: the form says it shows that version's words, so the consent is recorded
/// with the configured text. Without the version (or with another) nothing is filled in, and
/// the missing text is refused: the ledger must hold the words the visitor saw.
fn consent_as_configured(lead: &mut LeadSubmission, campaign: &Campaign) {
    let configured = &campaign.consent;
    if let Some(c) = lead.consent.as_mut().filter(|c| {
        c.granted && c.text.trim().is_empty() && !c.version.is_empty() && c.version == configured.version
    }) {
        c.text.clone_from(&configured.text);
    }
}

/// A refusal of a form post, naming the field as the form does (`fields[company]`,
/// `consent_text`, `utm_source`) rather than by its place in the JSON lead.
fn in_form_terms(mut e: FieldError) -> FieldError {
    let named = match e.field.as_str() {
        "consent.text" => "consent_text".to_owned(),
        "consent.version" => "consent_version".to_owned(),
        "attribution.first.landing_page" | "attribution.last.landing_page" => "page_url".to_owned(),
        f => match f.strip_prefix("fields.") {
            Some(key) => format!("fields[{key}]"),
            None => f
                .strip_prefix("attribution.first.")
                .or_else(|| f.strip_prefix("attribution.last."))
                .unwrap_or(f)
                .to_owned(),
        },
    };
    e.message = e.message.replace(&e.field, &named);
    e.field = named;
    e
}

/// Maps a plain HTML form to a submission. Custom answers come as `fields[name]`, consent as a
/// checkbox named `consent`; a form without a `submission_id` gets one (it cannot make its own).
fn lead_from_form(body: &[u8], referer: Option<&str>) -> Result<LeadSubmission, ApiError> {
    let pairs = form_pairs(body)?;
    let mut lead = LeadSubmission::default();
    let mut consent = ConsentGiven::default();
    let mut touch = Touch::default();
    let mut fields = BTreeMap::new();
    for (key, value) in pairs {
        match key.as_str() {
            "site" => lead.site = value,
            "campaign" => lead.campaign = value,
            "email" => lead.email = value,
            "name" => lead.name = Some(value),
            "submission_id" => lead.submission_id = value,
            "variant" => lead.variant = Some(value),
            "page_url" => lead.page_url = Some(value),
            "website" => lead.website = Some(value),
            // A checkbox is sent only when ticked, with whatever `value` the form gave it;
            // only an explicit "no" (a hidden field before the box, say) is not consent.
            "consent" => consent.granted |= !is_no(&value),
            "consent_text" => consent.text = value,
            "consent_version" => consent.version = value,
            "utm_source" => touch.utm_source = Some(value),
            "utm_medium" => touch.utm_medium = Some(value),
            "utm_campaign" => touch.utm_campaign = Some(value),
            "utm_term" => touch.utm_term = Some(value),
            "utm_content" => touch.utm_content = Some(value),
            other => {
                if let Some(name) = other.strip_prefix("fields[").and_then(|k| k.strip_suffix(']')) {
                    add_answer(&mut fields, name, value);
                }
            }
        }
    }
    if lead.submission_id.is_empty() {
        lead.submission_id = format!("form-{}", Uuid::new_v4().simple());
    }
    if lead.page_url.is_none() {
        // The visitor cannot shorten a long landing URL (ad click ids, UTM tags): cut it to
        // the limit instead of refusing the lead for it, as the widget does.
        lead.page_url = referer.map(|r| r.chars().take(funnel::limits::URL).collect());
    }
    touch.landing_page = lead.page_url.clone();
    lead.fields = fields;
    lead.consent = (consent.granted || !consent.text.is_empty()).then_some(consent);
    lead.attribution = Some(Attribution { first: Some(touch.clone()), last: Some(touch) });
    Ok(lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_post_maps_to_a_submission() {
        let body = b"site=demo&campaign=welcome&email=a%40b.co&consent=on&consent_text=OK&fields%5Bcompany%5D=Acme&utm_source=mail";
        let lead = lead_from_form(body, Some("http://127.0.0.1:8081/pricing")).unwrap();
        assert_eq!(lead.email, "a@b.co");
        assert!(lead.consent.as_ref().unwrap().granted);
        assert_eq!(lead.fields["company"], "Acme");
        assert!(lead.submission_id.starts_with("form-"));
        assert_eq!(lead.page_url.as_deref(), Some("http://127.0.0.1:8081/pricing"));
        assert_eq!(lead.attribution.unwrap().last.unwrap().utm_source.as_deref(), Some("mail"));
    }
}
