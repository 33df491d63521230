//! The validation a lead and an event batch must pass, shared by the widget (before sending)
//! and the server (at the edge). Parsing produces newtypes so the inside never re-checks.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::config::Campaign;
use crate::error::FieldError;
use crate::wire::{Event, EventBatch, LeadSubmission, Touch};

/// Length and count limits, in characters unless said otherwise.
pub mod limits {
    pub const EMAIL: usize = 254;
    pub const EMAIL_LOCAL: usize = 64;
    pub const NAME: usize = 100;
    pub const ID: usize = 64;
    pub const SUBMISSION_ID_MIN: usize = 8;
    pub const FIELD_COUNT: usize = 20;
    pub const FIELD_KEY: usize = 40;
    pub const FIELD_VALUE: usize = 500;
    pub const CONSENT_TEXT: usize = 2000;
    pub const CONSENT_VERSION: usize = 40;
    pub const URL: usize = 2048;
    pub const UTM: usize = 200;
    pub const PATHS: usize = 50;
    /// Referrer hosts, UTM sources or campaigns in a lead's signals.
    pub const TOUCH_VALUES: usize = 20;
    /// Days of activity in a lead's signals (the tracker keeps 90 days).
    pub const DAYS: usize = 100;
    pub const SCORE_ITEMS: usize = 50;
    pub const REASON: usize = 200;
    pub const EVENTS_PER_BATCH: usize = 50;
    pub const HOST: usize = 253;
    /// Bytes of a lead's JSON body the server reads.
    pub const LEAD_BODY: usize = 16 * 1024;
}

/// An email address of plausible shape. The domain's ASCII letters are lower-cased. (The
/// server finds every lead of one address by a Unicode-aware key of its own, `mailbox_key`.)
///
/// Only ASCII is case-folded or classified (any non-ASCII character is accepted in a label):
/// Unicode tables would add kilobytes to the widget, and internationalised domains arrive as
/// punycode in practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let bad = |msg: &str| FieldError::new("email", "invalid_email", msg);
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new("email", "required", "Please enter your email address."));
        }
        if s.chars().count() > limits::EMAIL {
            return Err(bad("This email address is too long."));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("Please enter a valid email address, like name@example.com."));
        };
        let local_ok = !local.is_empty()
            && local.chars().count() <= limits::EMAIL_LOCAL
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                !c.is_control()
                    && !c.is_whitespace()
                    && !is_invisible(c)
                    && !matches!(c, '@' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']' | '"')
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.chars().count() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| {
                        c.is_ascii_alphanumeric()
                            || c == '-'
                            || !(c.is_ascii() || c.is_whitespace() || c.is_control() || is_invisible(c))
                    })
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
        if !local_ok || !domain_ok {
            return Err(bad("Please enter a valid email address, like name@example.com."));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that show nothing or turn the text around them (Unicode format characters such
/// as zero-width spaces, soft hyphens and direction marks): an address holding one is not the
/// address it appears to be, and a spreadsheet cell starting with some shows none.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
        || is_direction_override(c)
}

/// Bidirectional embeddings, overrides and isolates: they can make a name read as something
/// else in an admin screen or a CSV (marks and joiners that names need are not among them).
fn is_direction_override(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// What a name may not hold: control characters, line and paragraph separators, and
/// text-direction controls (a name is one line, read as written).
fn breaks_a_name(c: char) -> bool {
    c.is_control() || is_direction_override(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A name as typed or pasted made into one the server accepts: text-direction controls
/// dropped, tabs, line breaks and other control characters turned into spaces.
pub fn one_line_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !is_direction_override(*c))
        .map(|c| if breaks_a_name(c) { ' ' } else { c })
        .collect()
}

/// A site, campaign or variant identifier: 1 to 64 of `a-z A-Z 0-9 _ -`, at least one of them a
/// letter or digit (the stats write `-` for "no variant", so no variant may be named that).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(String);

impl SiteId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse_named(|| field.to_owned(), raw)
    }

    /// As [`SiteId::parse`], naming the field only when there is an error to report.
    fn parse_named(field: impl FnOnce() -> String, raw: &str) -> Result<Self, FieldError> {
        if is_identifier(raw, limits::ID) && raw.bytes().any(|b| b.is_ascii_alphanumeric()) {
            return Ok(Self(raw.to_owned()));
        }
        let field = field();
        Err(if raw.is_empty() {
            let message = format!("{field} is required.");
            FieldError::new(field, "required", message)
        } else {
            let message = format!(
                "{field} must be 1-64 letters, digits, '-' or '_', with at least one letter or digit."
            );
            FieldError::new(field, "invalid", message)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Fails when `value` is longer than `max` characters; the field is named only then, so valid
/// input costs no allocation.
fn max_len<F: Into<String>>(field: impl FnOnce() -> F, value: &str, max: usize) -> Result<(), FieldError> {
    if value.len() <= max || value.chars().count() <= max {
        return Ok(());
    }
    let field = field().into();
    let message = format!("{field} must be at most {max} characters.");
    Err(FieldError::new(field, "too_long", message))
}

fn opt_max_len<F: Into<String>>(
    field: impl FnOnce() -> F,
    value: &Option<String>,
    max: usize,
) -> Result<(), FieldError> {
    value.as_deref().map_or(Ok(()), |v| max_len(field, v, max))
}

/// A lead that passed validation against its campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidLead {
    pub email: Email,
    pub submission: LeadSubmission,
}

impl LeadSubmission {
    /// Checks every field against the limits and against `campaign`'s consent rule, and
    /// normalises what it keeps (trimmed name, parsed email). Errors name the field at fault.
    pub fn validate(mut self, campaign: &Campaign) -> Result<ValidLead, FieldError> {
        if self.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
            return Err(FieldError::new("website", "spam_detected", "This field must be left empty."));
        }
        SiteId::parse("site", &self.site)?;
        SiteId::parse("campaign", &self.campaign)?;
        if self.submission_id.is_empty() {
            return Err(FieldError::new("submission_id", "required", "submission_id is required."));
        }
        if self.submission_id.len() < limits::SUBMISSION_ID_MIN
            || !is_identifier(&self.submission_id, limits::ID)
        {
            return Err(FieldError::new(
                "submission_id",
                "invalid",
                "submission_id must be 8-64 letters, digits, '-' or '_'.",
            ));
        }
        let email = Email::parse(&self.email)?;
        self.email = email.as_str().to_owned();
        if let Some(name) = self.name.take() {
            let name = name.trim();
            max_len(|| "name", name, limits::NAME)?;
            if name.chars().any(breaks_a_name) {
                return Err(FieldError::new(
                    "name",
                    "invalid",
                    "name must be one line without control or text-direction characters.",
                ));
            }
            self.name = (!name.is_empty()).then(|| name.to_owned());
        }
        if self.fields.len() > limits::FIELD_COUNT {
            return Err(FieldError::new(
                "fields",
                "too_many",
                format!("At most {} custom fields.", limits::FIELD_COUNT),
            ));
        }
        for (key, value) in &self.fields {
            if !is_identifier(key, limits::FIELD_KEY) {
                return Err(FieldError::new(
                    format!("fields.{key}"),
                    "invalid",
                    "Custom field names are 1-40 letters, digits, '-' or '_'.",
                ));
            }
            max_len(|| format!("fields.{key}"), value, limits::FIELD_VALUE)?;
        }
        validate_consent(&self, campaign)?;
        if let Some(v) = &self.variant {
            SiteId::parse("variant", v)?;
        }
        opt_max_len(|| "page_url", &self.page_url, limits::URL)?;
        opt_max_len(|| "referrer", &self.referrer, limits::URL)?;
        if let Some(a) = &self.attribution {
            for (touch_name, touch) in [("first", &a.first), ("last", &a.last)] {
                if let Some(t) = touch {
                    validate_touch(touch_name, t)?;
                }
            }
        }
        if let Some(s) = &self.signals {
            if s.paths.len() > limits::PATHS {
                return Err(FieldError::new(
                    "signals.paths",
                    "too_many",
                    format!("At most {} paths.", limits::PATHS),
                ));
            }
            for p in &s.paths {
                max_len(|| "signals.paths", p, limits::URL)?;
            }
            let lists: [(&'static str, &Vec<String>); 3] = [
                ("signals.referrer_hosts", &s.referrer_hosts),
                ("signals.utm_sources", &s.utm_sources),
                ("signals.utm_campaigns", &s.utm_campaigns),
            ];
            for (name, list) in lists {
                if list.len() > limits::TOUCH_VALUES {
                    return Err(FieldError::new(name, "too_many", "Too many values."));
                }
                for v in list {
                    max_len(|| name, v, limits::UTM)?;
                }
            }
            if s.days.len() > limits::DAYS {
                return Err(FieldError::new("signals.days", "too_many", "Too many days."));
            }
        }
        if let Some(score) = &self.score {
            if score.explanation.len() > limits::SCORE_ITEMS {
                return Err(FieldError::new("score.explanation", "too_many", "Too many score items."));
            }
            for item in &score.explanation {
                max_len(|| "score.explanation", &item.reason, limits::REASON)?;
            }
        }
        Ok(ValidLead { email, submission: self })
    }
}

/// A link a campaign may carry (its lead magnet, its thank-you page): `http(s)://...` or a
/// `/path` on the site's own pages, printable (it may go into a `Location` header), at most
/// [`limits::URL`] long. A `javascript:` URL is not one, nor a protocol-relative `//host` (or
/// `/\host`, which browsers read the same way).
pub fn is_link(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let path = s.starts_with('/') && !s.starts_with("//") && !s.contains('\\');
    // An absolute link names a host: `https://` alone, or `https:///x`, leads nowhere.
    let absolute = ["https://", "http://"].iter().any(|scheme| {
        lower.strip_prefix(scheme).is_some_and(|rest| {
            rest.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty() && !host.starts_with(':'))
        })
    });
    (absolute || path)
        && s.chars().count() <= limits::URL
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The consent rule: a campaign that requires consent needs the box ticked.
pub fn check_consent(required: bool, granted: bool) -> Result<(), FieldError> {
    if required && !granted {
        return Err(FieldError::new(
            "consent",
            "consent_required",
            "Please tick the box to agree before continuing.",
        ));
    }
    Ok(())
}

fn validate_consent(lead: &LeadSubmission, campaign: &Campaign) -> Result<(), FieldError> {
    check_consent(campaign.consent.required, lead.consent.as_ref().is_some_and(|c| c.granted))?;
    if let Some(c) = &lead.consent {
        max_len(|| "consent.text", &c.text, limits::CONSENT_TEXT)?;
        max_len(|| "consent.version", &c.version, limits::CONSENT_VERSION)?;
        if c.granted && c.text.trim().is_empty() {
            return Err(FieldError::new(
                "consent.text",
                "required",
                "The consent text shown to the visitor is required.",
            ));
        }
    }
    Ok(())
}

fn validate_touch(name: &str, t: &Touch) -> Result<(), FieldError> {
    for (key, value) in t.texts() {
        let max = if key.starts_with("utm_") { limits::UTM } else { limits::URL };
        opt_max_len(|| format!("attribution.{name}.{key}"), value, max)?;
    }
    Ok(())
}

/// A URL's host as browsers give it (`new URL(..).host`): a name in ASCII (an international
/// name in Punycode), an IPv4 or bracketed IPv6 address, and an optional port.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']'))
}

impl EventBatch {
    /// Checks the batch's size and every event's fields; errors name `events[i].field`.
    pub fn validate(&self) -> Result<SiteId, FieldError> {
        let site = SiteId::parse("site", &self.site)?;
        if self.events.is_empty() {
            return Err(FieldError::new("events", "required", "events must hold at least one event."));
        }
        if self.events.len() > limits::EVENTS_PER_BATCH {
            return Err(FieldError::new(
                "events",
                "too_many",
                format!("At most {} events per batch.", limits::EVENTS_PER_BATCH),
            ));
        }
        for (i, event) in self.events.iter().enumerate() {
            match event {
                Event::Pageview { path, referrer_host, utm_source, .. } => {
                    // A path only: a query string or fragment can carry anything a visitor typed
                    // (a search, an address), and counters must stay anonymous.
                    if !path.starts_with('/') || path.contains(['?', '#']) {
                        return Err(FieldError::new(
                            format!("events[{i}].path"),
                            "invalid",
                            "path must start with '/' and carry no query string or fragment.",
                        ));
                    }
                    max_len(|| format!("events[{i}].path"), path, limits::URL)?;
                    opt_max_len(|| format!("events[{i}].referrer_host"), referrer_host, limits::HOST)?;
                    if referrer_host.as_deref().is_some_and(|h| !is_host(h)) {
                        return Err(FieldError::new(
                            format!("events[{i}].referrer_host"),
                            "invalid",
                            "referrer_host must be a host name (with an optional port), nothing else.",
                        ));
                    }
                    opt_max_len(|| format!("events[{i}].utm_source"), utm_source, limits::UTM)?;
                }
                Event::Campaign { campaign, variant, .. } => {
                    SiteId::parse_named(|| format!("events[{i}].campaign"), campaign)?;
                    if let Some(v) = variant {
                        SiteId::parse_named(|| format!("events[{i}].variant"), v)?;
                    }
                }
            }
        }
        Ok(site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsentSpec;
    use crate::wire::ConsentGiven;

    #[test]
    fn links_are_http_urls_or_paths_on_the_site_never_scripts_or_other_hosts() {
        for ok in ["https://shop.example/guide.pdf", "HTTP://shop.example", "/thanks", "/a/b?c=d#e"] {
            assert!(is_link(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x",
            "/\\evil.example/x",
            "thanks",
            "https://shop.example/a b",
            "https://shop.example/\r\nSet-Cookie:x",
            "",
            "https://",
            "https:///thanks",
            "http://?x",
            "https://:443/x",
        ] {
            assert!(!is_link(bad), "{bad}");
        }
        assert!(!is_link(&format!("/{}", "a".repeat(limits::URL))));
    }

    fn campaign(consent_required: bool) -> Campaign {
        Campaign {
            headline: "Get the guide".into(),
            consent: ConsentSpec { required: consent_required, ..ConsentSpec::default() },
            ..Campaign::new("welcome")
        }
    }

    fn lead() -> LeadSubmission {
        LeadSubmission {
            site: "demo".into(),
            campaign: "welcome".into(),
            email: "Ada@Example.COM".into(),
            submission_id: "sub-12345678".into(),
            consent: Some(ConsentGiven { granted: true, text: "I agree".into(), version: "1".into() }),
            ..LeadSubmission::default()
        }
    }

    #[test]
    fn emails_of_plausible_shape_are_accepted_and_others_named() {
        let good = ["a@b.co", "first.last+tag@sub.example.org", "x@xn--bcher-kva.example", "üser@bücher.de"];
        for e in good {
            assert!(Email::parse(e).is_ok(), "{e} should be valid");
        }
        let bad = [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-b.com",
            "a@b..com",
            "a@1.2.3.4",
            "a@exa_mple.com",
            "<a>@example.com",
            // Unicode spaces and invisible or direction characters: not the address they look like.
            "ada\u{a0}x@example.com",
            "ada\u{2003}x@example.com",
            "ceo\u{202e}gro.elpmaxe@evil.example",
            "ada\u{200b}@example.com",
            "ada@exa\u{200d}mple.com",
            "ada@b\u{fc}cher\u{3000}x.de",
            "ada\u{2028}x@example.com",
            // C1 controls (U+009B starts a terminal escape): in either part.
            "ada@exa\u{80}\u{9b}mple.com",
            "ada\u{9b}@example.com",
        ];
        for e in bad {
            let err = Email::parse(e).expect_err(e);
            assert_eq!(err.field, "email", "{e}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn the_domain_is_lowercased_and_the_local_part_kept() {
        let e = Email::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ada@example.com");
    }

    #[test]
    fn a_valid_lead_passes_and_is_normalised() {
        let mut l = lead();
        l.name = Some("  Ada  ".into());
        let v = l.validate(&campaign(true)).unwrap();
        assert_eq!(v.submission.name.as_deref(), Some("Ada"));
        // Joiners and direction marks that names in some scripts need are kept.
        let mut l = lead();
        l.name = Some("\u{dc8}\u{dca}\u{dbb}\u{dd2}\u{200d}\u{dba} \u{5d0}\u{200f}".into());
        assert!(l.validate(&campaign(true)).is_ok());
        assert_eq!(v.submission.email, "Ada@example.com");
    }

    #[test]
    fn a_name_made_one_line_is_one_the_server_accepts_and_keeps_what_names_need() {
        let cases = [
            ("Marie\tCurie", "Marie Curie"),
            ("Ada\u{2028}Lovelace\r\n", "Ada Lovelace  "),
            ("\u{202e}Grace\u{202c} \u{2067}Hopper\u{2069}", "Grace Hopper"),
            ("\u{5d0}\u{200f} Zo\u{eb}\u{200d}", "\u{5d0}\u{200f} Zo\u{eb}\u{200d}"),
        ];
        for (typed, sent) in cases {
            assert_eq!(one_line_name(typed), sent, "{typed:?}");
            let mut l = lead();
            l.name = Some(typed.into());
            assert_eq!(l.validate(&campaign(true)).is_ok(), typed == sent, "{typed:?} as typed");
            let mut l = lead();
            l.name = Some(one_line_name(typed));
            assert!(l.validate(&campaign(true)).is_ok(), "{typed:?} is accepted made one line");
        }
    }

    #[test]
    fn each_invalid_field_is_named() {
        type Mutate = fn(&mut LeadSubmission);
        let cases: &[(Mutate, &str)] = &[
            (|l| l.website = Some("http://spam".into()), "website"),
            (|l| l.site = String::new(), "site"),
            (|l| l.campaign = "no spaces allowed".into(), "campaign"),
            (|l| l.campaign = "--".into(), "campaign"),
            (|l| l.variant = Some("-".into()), "variant"),
            (|l| l.submission_id = "short".into(), "submission_id"),
            (|l| l.email = "nope".into(), "email"),
            (|l| l.name = Some("x".repeat(101)), "name"),
            (|l| l.name = Some("Ada\u{2028}Lovelace".into()), "name"),
            (|l| l.name = Some("Ada\u{202e}ecalevoL".into()), "name"),
            (|l| l.name = Some("Ada\u{2067}x".into()), "name"),
            (|l| l.consent = None, "consent"),
            (|l| l.consent.as_mut().unwrap().granted = false, "consent"),
            (|l| l.consent.as_mut().unwrap().text = String::new(), "consent.text"),
            (|l| l.consent.as_mut().unwrap().version = "v".repeat(41), "consent.version"),
            (|l| l.page_url = Some("u".repeat(2049)), "page_url"),
            (
                |l| {
                    l.fields.insert("bad key".into(), "v".into());
                },
                "fields.bad key",
            ),
            (
                |l| {
                    l.fields.insert("company".into(), "v".repeat(501));
                },
                "fields.company",
            ),
            (
                |l| {
                    l.attribution = Some(crate::wire::Attribution {
                        first: Some(Touch { utm_source: Some("s".repeat(201)), ..Touch::default() }),
                        last: None,
                    })
                },
                "attribution.first.utm_source",
            ),
        ];
        for (mutate, field) in cases {
            let mut l = lead();
            mutate(&mut l);
            let err = l.validate(&campaign(true)).expect_err(field);
            assert_eq!(err.field, *field);
        }
    }

    #[test]
    fn consent_is_optional_only_when_the_campaign_says_so() {
        let mut l = lead();
        l.consent = None;
        assert!(l.clone().validate(&campaign(false)).is_ok());
        assert_eq!(l.validate(&campaign(true)).unwrap_err().code, "consent_required");
    }

    #[test]
    fn event_batches_are_bounded_and_name_the_event_at_fault() {
        let pv = |path: &str| Event::Pageview {
            path: path.into(),
            referrer_host: None,
            utm_source: None,
            new_visitor: true,
            new_session: true,
        };
        let ok = EventBatch { site: "demo".into(), events: vec![pv("/"), pv("/pricing")] };
        assert_eq!(ok.validate().unwrap().as_str(), "demo");
        let bad_path = EventBatch { site: "demo".into(), events: vec![pv("/"), pv("pricing")] };
        assert_eq!(bad_path.validate().unwrap_err().field, "events[1].path");
        for path in ["/search?q=ada@example.com", "/a#b", "/?"] {
            let query = EventBatch { site: "demo".into(), events: vec![pv(path)] };
            assert_eq!(query.validate().unwrap_err().field, "events[0].path", "{path}");
        }
        let from = |host: &str| Event::Pageview {
            path: "/".into(),
            referrer_host: Some(host.into()),
            utm_source: None,
            new_visitor: true,
            new_session: true,
        };
        for host in ["news.example", "localhost:8081", "[::1]:8080", "xn--bcher-kva.example", "10.0.0.1"] {
            let batch = EventBatch { site: "demo".into(), events: vec![from(host)] };
            assert!(batch.validate().is_ok(), "{host}");
        }
        for host in ["", "ada lovelace", "ada@example.com", "news.example/path", "b\u{fc}cher.de"] {
            let batch = EventBatch { site: "demo".into(), events: vec![from(host)] };
            assert_eq!(batch.validate().unwrap_err().field, "events[0].referrer_host", "{host}");
        }
        let empty = EventBatch { site: "demo".into(), events: vec![] };
        assert_eq!(empty.validate().unwrap_err().field, "events");
        let many = EventBatch { site: "demo".into(), events: vec![pv("/"); 51] };
        assert_eq!(many.validate().unwrap_err().code, "too_many");
    }
}
