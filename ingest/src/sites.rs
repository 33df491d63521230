//! Sites and campaigns: loading `lodestone.toml`, checking it, and the built-in demo site.
//!
//! A bad file stops the server at start with an error naming the key at fault.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use funnel::conditions::{Condition, Leaf};
use funnel::config::{CtaSelector, PageRule, Privacy};
use funnel::frequency::{Frequency, SiteFrequency};
use funnel::targeting::{Targeting, browser_path_pattern, host_pattern_problem, path_pattern_problem};
use funnel::{Campaign, ConsentSpec, ScoringRules, SiteConfig, SiteId, Success, limits};
use serde::Deserialize;

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// Not TOML, or a value of the wrong type or an unknown key; `key` is the path to the
    /// value at fault when there is one (`sites[0].allowed_origins[1]`).
    #[error("config file {path}: {}{message}", key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Parse { path: PathBuf, key: Option<String>, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// `lodestone.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub admin_token: Option<String>,
    #[serde(default)]
    pub sites: Vec<SiteEntry>,
}

/// One `[[sites]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteEntry {
    pub id: String,
    /// None: the site takes leads posted by servers (requests without `Origin`) only.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub scoring: ScoringRules,
    #[serde(default)]
    pub frequency: SiteFrequency,
    #[serde(default)]
    pub cta: Vec<CtaSelector>,
    #[serde(default)]
    pub privacy: Privacy,
}

/// Patterns as the tracker compares them: paths as browsers write them (`/über-uns` ->
/// `/%C3%BCber-uns`), referrer hosts in lowercase (hosts are compared in lowercase).
fn normalize_patterns(entry: &mut SiteEntry) {
    for c in &mut entry.campaigns {
        let t = &mut c.targeting;
        for p in t.include.iter_mut().chain(t.exclude.iter_mut()) {
            *p = browser_path_pattern(p);
        }
        if let Some(r) = &mut t.referrer {
            r.make_ascii_lowercase();
        }
    }
    for rule in &mut entry.scoring.pages {
        rule.path = browser_path_pattern(&rule.path);
    }
    for rule in &mut entry.scoring.referrers {
        rule.pattern.make_ascii_lowercase();
    }
}

/// The `text` entries a campaign declared in a language other than English leaves unset
/// while it shows them (the name labels only when it asks for a name, the download label only
/// with a lead magnet): their English defaults would show among its own words.
fn untranslated(c: &Campaign) -> Vec<&'static str> {
    if c.lang.as_deref().is_none_or(funnel::config::is_english) {
        return Vec::new();
    }
    c.text
        .entries()
        .into_iter()
        .filter(|(key, words)| {
            let shown = match *key {
                "name" | "optional" => c.ask_name,
                "download" => c.success.lead_magnet_url.is_some(),
                "consent_required" => c.consent.required,
                _ => true,
            };
            shown && words.is_none()
        })
        .map(|(key, _)| key)
        .collect()
}

/// Scoring rules whose explanation a lead can carry: every reason within the lead limits
/// (patterns of at most 180 characters) and at most 50 reasons in all.
fn check_scoring(s: &ScoringRules) -> Result<(), (String, &'static str)> {
    const PATTERN: usize = limits::REASON - 20;
    let lists =
        [("referrers", &s.referrers), ("utm_sources", &s.utm_sources), ("utm_campaigns", &s.utm_campaigns)];
    for (name, rules) in lists {
        if let Some(j) = rules.iter().position(|r| r.pattern.chars().count() > PATTERN) {
            return Err((format!("{name}[{j}].pattern"), "must be at most 180 characters"));
        }
    }
    // Paths are compared as browsers send them, so their length is counted percent-encoded.
    if let Some(j) = s.pages.iter().position(|r| r.path.chars().count() > PATTERN) {
        return Err((
            format!("pages[{j}].path"),
            "must be at most 180 characters as browsers send it (percent-encoded: a space counts as 3, a non-ASCII character as 6 to 12)",
        ));
    }
    for (j, rule) in s.pages.iter().enumerate() {
        if let Some(problem) = path_pattern_problem(&rule.path) {
            return Err((format!("pages[{j}].path"), problem));
        }
    }
    for (j, rule) in s.referrers.iter().enumerate() {
        if let Some(problem) = host_pattern_problem(&rule.pattern) {
            return Err((format!("referrers[{j}].pattern"), problem));
        }
    }
    if s.max < 0 {
        return Err(("max".into(), "must be 0 or more (a negative cap makes every score 0)"));
    }
    let caps = [
        ("page_views", s.caps.page_views),
        ("engaged_minutes", s.caps.engaged_minutes),
        ("cta_clicks", s.caps.cta_clicks),
    ];
    if let Some((name, _)) = caps.iter().find(|(_, cap)| cap.is_some_and(|c| c < 0)) {
        return Err((format!("caps.{name}"), "must be 0 or more (a cap bounds what the activity earns)"));
    }
    // The rule that goes past the limit, counted in the order the explanation lists them.
    let counts = [("scroll", s.scroll.len()), ("pages", s.pages.len())].into_iter();
    let mut seen = 4;
    for (name, len) in counts.chain(lists.iter().map(|(name, r)| (*name, r.len()))) {
        if seen + len > limits::SCORE_ITEMS {
            let j = limits::SCORE_ITEMS - seen;
            return Err((format!("{name}[{j}]"), "at most 46 scroll, page, referrer and UTM rules in all"));
        }
        seen += len;
    }
    Ok(())
}

/// Whether some condition of a trigger tree is `wrong`.
fn any_leaf(c: &Condition, wrong: &impl Fn(&Leaf) -> bool) -> bool {
    match c {
        Condition::All { all: cs } | Condition::Any { any: cs } => cs.iter().any(|c| any_leaf(c, wrong)),
        Condition::Leaf(leaf) => wrong(leaf),
    }
}

/// A configured site, with its widget config pre-rendered to JSON and its ETag.
#[derive(Debug, Clone)]
pub struct Site {
    pub config: SiteConfig,
    pub allowed_origins: Vec<String>,
    pub config_json: String,
    pub etag: String,
}

impl Site {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }

    /// Whether `url` is an absolute URL on one of the site's allowed origins.
    pub fn origin_of_allowed(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.allows_origin(o))
    }

    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.config.campaign(id)
    }

    /// A campaign link as the server hands it out (a redirect, a link on its own thank-you
    /// page): a `/path` is on the site's pages, not the server's, so it is resolved against the
    /// page the visitor came from (`origin` or `referer`, when the site allows it) or else the
    /// site's first allowed origin. Absolute URLs are returned as they are.
    pub fn link(&self, link: &str, origin: Option<&str>, referer: Option<&str>) -> String {
        if !link.starts_with('/') {
            return link.to_owned();
        }
        let from_referer = referer.and_then(origin_of);
        let base = [origin, from_referer]
            .into_iter()
            .flatten()
            .find(|o| self.allows_origin(o))
            .or(self.allowed_origins.first().map(String::as_str));
        format!("{}{link}", base.unwrap_or_default())
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    Some(&url[..end])
}

/// Parses `lodestone.toml`. An error gives the path to the value at fault, when there is one
/// (a value of the wrong type, an unknown key), and the parser's message with line and column.
pub fn parse_file(text: &str) -> Result<FileConfig, (Option<String>, String)> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let key = e.path().to_string();
        let key = (key != "." && !key.is_empty()).then_some(key);
        (key, in_plain_words(&without_secrets(text, &e.into_inner())))
    })
}

/// The parser's message, which quotes the line at fault, unless that line holds the admin
/// token: then its position only, so a start-up log never shows the token.
fn without_secrets(text: &str, e: &toml::de::Error) -> String {
    let Some(at) = e.span().map(|s| s.start.min(text.len())) else { return e.to_string() };
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..text[at..].find('\n').map_or(text.len(), |i| at + i)];
    if !line.contains("admin_token") {
        return e.to_string();
    }
    let (number, column) = (text[..at].matches('\n').count() + 1, text[line_start..at].chars().count() + 1);
    format!(
        "TOML parse error at line {number}, column {column} (the line is not shown: it holds the admin token)\n{}",
        e.message()
    )
}

/// serde names integer types by their Rust names (`expected u8`): said as the range they take.
fn in_plain_words(message: &str) -> String {
    const RANGES: [(&str, &str); 6] = [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number from 0"),
        ("expected i32", "expected a whole number from -2147483648 to 2147483647"),
        ("expected i64", "expected a whole number"),
    ];
    RANGES.iter().fold(message.to_owned(), |m, (rust, plain)| {
        // Whole words only: `expected u8` must not rewrite a longer name that starts the same.
        match m.find(rust) {
            Some(at) if !m[at + rust.len()..].starts_with(|c: char| c.is_ascii_alphanumeric()) => {
                format!("{}{plain}{}", &m[..at], &m[at + rust.len()..])
            }
            _ => m,
        }
    })
}

/// Every configured site by id, plus the admin token from the file if any.
#[derive(Debug, Clone)]
pub struct Sites {
    by_id: HashMap<String, Site>,
    pub admin_token: Option<String>,
}

impl Sites {
    /// Reads and checks `path`, or gives the built-in demo when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::demo());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_file(parse_file(&text).map_err(|(key, message)| ConfigError::Parse {
            path: path.to_owned(),
            key,
            message,
        })?)
    }

    /// Checks a parsed file: unique ids, valid origins, campaigns with valid ids and text.
    pub fn from_file(file: FileConfig) -> Result<Self, ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid { key, message: message.to_owned() };
        if let Some(problem) = file.admin_token.as_deref().and_then(crate::app::token_problem) {
            return Err(invalid("admin_token".into(), problem));
        }
        if file.sites.is_empty() {
            return Err(invalid("sites".into(), "declare at least one [[sites]] table"));
        }
        let mut by_id = HashMap::new();
        for (i, mut entry) in file.sites.into_iter().enumerate() {
            normalize_patterns(&mut entry);
            SiteId::parse("id", &entry.id).map_err(|e| invalid(format!("sites[{i}].id"), &e.message))?;
            for (j, origin) in entry.allowed_origins.iter().enumerate() {
                if !is_origin(origin) {
                    return Err(invalid(
                        format!("sites[{i}].allowed_origins[{j}]"),
                        "must be an origin as browsers send it, like https://www.example.com (lowercase scheme and host, no path, no default port)",
                    ));
                }
            }
            let mut seen = Vec::new();
            for (j, c) in entry.campaigns.iter().enumerate() {
                let key = |k: &str| format!("sites[{i}].campaigns[{j}].{k}");
                SiteId::parse("id", &c.id).map_err(|e| invalid(key("id"), &e.message))?;
                if seen.contains(&c.id) {
                    return Err(invalid(key("id"), "duplicate campaign id"));
                }
                seen.push(c.id.clone());
                if c.headline.trim().is_empty() {
                    return Err(invalid(key("headline"), "must not be empty"));
                }
                // The success view's heading and the thank-you page's title.
                if c.success.message.trim().is_empty() {
                    return Err(invalid(key("success.message"), "must not be empty"));
                }
                // Leads carry the consent text and version: limits the lead validation enforces.
                if c.consent.text.trim().is_empty() || c.consent.text.chars().count() > limits::CONSENT_TEXT {
                    return Err(invalid(key("consent.text"), "must be 1-2000 characters"));
                }
                if c.consent.version.trim().is_empty()
                    || c.consent.version.chars().count() > limits::CONSENT_VERSION
                {
                    return Err(invalid(key("consent.version"), "must be 1-40 characters"));
                }
                for (name, url) in [
                    ("success.thank_you_url", &c.success.thank_you_url),
                    ("success.lead_magnet_url", &c.success.lead_magnet_url),
                ] {
                    if url.as_deref().is_some_and(|u| !funnel::validate::is_link(u)) {
                        return Err(invalid(
                            key(name),
                            "must be an http(s) URL or a path starting with /, without spaces or control characters",
                        ));
                    }
                }
                for (name, words) in c.text.entries() {
                    if let Some(w) = words
                        && (w.trim().is_empty() || w.chars().count() > 300 || w.chars().any(char::is_control))
                    {
                        return Err(invalid(
                            key(&format!("text.{name}")),
                            "must be 1-300 characters on one line",
                        ));
                    }
                }
                if c.lang.as_deref().is_some_and(|l| !funnel::config::is_language_tag(l)) {
                    return Err(invalid(key("lang"), "must be a language tag like fr or pt-BR"));
                }
                let english = untranslated(c);
                if !english.is_empty() {
                    tracing::warn!(
                        site = %entry.id, campaign = %c.id, lang = c.lang.as_deref().unwrap_or_default(),
                        unset = ?english,
                        "the campaign is not in English but these popup words are unset, so they show in English: set them under text"
                    );
                }
                if any_leaf(&c.trigger, &|l| matches!(l, Leaf::ScrollPercent(p) if *p > 100)) {
                    return Err(invalid(key("trigger.scroll_percent"), "must be 0-100"));
                }
                let max = entry.scoring.max;
                if any_leaf(&c.trigger, &|l| matches!(l, Leaf::MinScore(n) if *n > max)) {
                    return Err(invalid(
                        key("trigger.min_score"),
                        &format!("must be at most scoring.max ({max}): no score goes above it"),
                    ));
                }
                if c.targeting.sample_percent.is_some_and(|p| p > 100) {
                    return Err(invalid(key("targeting.sample_percent"), "must be 0-100"));
                }
                for (name, list) in [("include", &c.targeting.include), ("exclude", &c.targeting.exclude)] {
                    for (k, pattern) in list.iter().enumerate() {
                        if let Some(problem) = path_pattern_problem(pattern) {
                            return Err(invalid(key(&format!("targeting.{name}[{k}]")), problem));
                        }
                    }
                }
                if let Some(problem) = c.targeting.referrer.as_deref().and_then(host_pattern_problem) {
                    return Err(invalid(key("targeting.referrer"), problem));
                }
                if let (Some(start), Some(end)) = (c.targeting.starts_at, c.targeting.ends_at)
                    && end <= start
                {
                    return Err(invalid(key("targeting.ends_at"), "must be after starts_at"));
                }
            }
            for (j, cta) in entry.cta.iter().enumerate() {
                SiteId::parse("name", &cta.name)
                    .map_err(|e| invalid(format!("sites[{i}].cta[{j}].name"), &e.message))?;
                if cta.selector.trim().is_empty() {
                    return Err(invalid(format!("sites[{i}].cta[{j}].selector"), "must not be empty"));
                }
                if let Some(problem) = crate::css_selector::selector_problem(&cta.selector) {
                    return Err(invalid(format!("sites[{i}].cta[{j}].selector"), &problem));
                }
            }
            if entry.scoring.half_life_days == Some(0) {
                return Err(invalid(
                    format!("sites[{i}].scoring.half_life_days"),
                    "must be at least 1 (leave it out for no decay)",
                ));
            }
            if let Some(j) = entry.scoring.scroll.iter().position(|r| r.percent > 100) {
                return Err(invalid(format!("sites[{i}].scoring.scroll[{j}].percent"), "must be 0-100"));
            }
            check_scoring(&entry.scoring).map_err(|(k, m)| invalid(format!("sites[{i}].scoring.{k}"), m))?;
            if by_id.contains_key(&entry.id) {
                return Err(invalid(format!("sites[{i}].id"), "duplicate site id"));
            }
            by_id.insert(entry.id.clone(), Site::new(entry));
        }
        Ok(Self { by_id, admin_token: file.admin_token })
    }

    /// The built-in site `demo`, served when no config file is given.
    pub fn demo() -> Self {
        Self::demo_allowing(&[])
    }

    /// The built-in demo site, also allowing `origins` (tests serve the demo pages on a random port).
    pub fn demo_allowing(origins: &[String]) -> Self {
        let entry = SiteEntry {
            id: "demo".into(),
            allowed_origins: ["http://127.0.0.1:8081", "http://localhost:8081"]
                .into_iter()
                .map(String::from)
                .chain(origins.iter().cloned())
                .collect(),
            campaigns: vec![
                Campaign {
                    priority: 10,
                    headline: "Get the Lead Generation Playbook".into(),
                    body: "42 pages of tactics that turned our readers into customers. Free, straight to your inbox."
                        .into(),
                    button_label: "Send me the playbook".into(),
                    ask_name: true,
                    consent: ConsentSpec::default(),
                    success: Success {
                        message: "Thanks! Your playbook is ready.".into(),
                        lead_magnet_url: Some("/playbook.html".into()),
                        thank_you_url: None,
                    },
                    trigger: Condition::Leaf(Leaf::DelaySeconds(3)),
                    lang: Some("en".into()),
                    ..Campaign::new("welcome")
                },
                // An engaged reader (three pages, score 20 or more: the pricing page alone is
                // worth 15) gets the pricing guide instead, first.
                Campaign {
                    priority: 20,
                    headline: "Comparing plans? Take the pricing guide".into(),
                    body: "A one-page guide to choosing the right Northwind plan for your team.".into(),
                    button_label: "Email me the guide".into(),
                    ask_name: false,
                    consent: ConsentSpec::default(),
                    success: Success {
                        message: "Sent! The guide is on its way.".into(),
                        lead_magnet_url: Some("http://127.0.0.1:8081/pricing.html".into()),
                        thank_you_url: None,
                    },
                    trigger: Condition::All {
                        all: vec![Condition::Leaf(Leaf::MinPageViews(3)), Condition::Leaf(Leaf::MinScore(20))],
                    },
                    frequency: Frequency { after_close_days: 3, ..Frequency::default() },
                    lang: Some("en".into()),
                    ..Campaign::new("pricing-guide")
                },
                // A reader who scrolls through most of a page without converting yet.
                Campaign {
                    priority: 5,
                    headline: "Enjoying the read?".into(),
                    body: "One practical lead-generation idea every Tuesday. No fluff.".into(),
                    button_label: "Subscribe".into(),
                    ask_name: false,
                    consent: ConsentSpec::default(),
                    success: Success { message: "You're in. See you on Tuesday!".into(), ..Success::default() },
                    // Not on the pricing page: the pricing guide speaks there.
                    targeting: Targeting { exclude: vec!["/pricing*".into()], ..Targeting::default() },
                    trigger: Condition::Leaf(Leaf::ScrollPercent(70)),
                    frequency: Frequency { after_close_days: 14, ..Frequency::default() },
                    lang: Some("en".into()),
                    ..Campaign::new("newsletter")
                },
            ],
            scoring: ScoringRules {
                pages: vec![PageRule { path: "/pricing*".into(), points: 15 }],
                ..ScoringRules::default()
            },
            frequency: SiteFrequency::default(),
            cta: vec![CtaSelector { name: "see-plans".into(), selector: "a[href$=\"pricing.html\"]".into() }],
            privacy: Privacy::default(),
        };
        Self { by_id: HashMap::from([(entry.id.clone(), Site::new(entry))]), admin_token: None }
    }

    pub fn get(&self, id: &str) -> Option<&Site> {
        self.by_id.get(id)
    }

    /// Whether any site allows `origin`: the CORS layer answers preflights for these.
    pub fn any_allows_origin(&self, origin: &str) -> bool {
        self.by_id.values().any(|s| s.allows_origin(origin))
    }
}

impl Site {
    fn new(entry: SiteEntry) -> Self {
        let config = SiteConfig {
            site: entry.id,
            campaigns: entry.campaigns,
            scoring: entry.scoring,
            frequency: entry.frequency,
            cta: entry.cta,
            privacy: entry.privacy,
        };
        // The JSON the widget reads, with its rules also packed for the tracker (which reads
        // them without going through JavaScript objects: `funnel::packed`).
        let mut json = serde_json::to_value(&config).expect("site config serialises");
        json["rules"] = funnel::packed::encode_rules(&config).into();
        let config_json = json.to_string();
        let mut h = DefaultHasher::new();
        config_json.hash(&mut h);
        let etag = format!("\"{:016x}\"", h.finish());
        Self { config, allowed_origins: entry.allowed_origins, config_json, etag }
    }
}

/// An origin exactly as a browser sends it in `Origin` (origins are compared as strings): scheme
/// and host in lowercase, a port only when it is not the scheme's default, no path.
fn is_origin(s: &str) -> bool {
    let (rest, default_port) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
        (Some(rest), _) => (rest, "443"),
        (_, Some(rest)) => (rest, "80"),
        _ => return false,
    };
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':'),
        None => {
            !host.is_empty()
                && host.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c))
        }
    };
    // What a browser sends: digits without a leading zero, 1-65535, never the scheme's default.
    let port_ok = port.is_none_or(|p| {
        !p.starts_with('0')
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
            && p != default_port
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Sites, ConfigError> {
        let file = parse_file(text).map_err(|(key, message)| ConfigError::Parse {
            path: "t".into(),
            key,
            message,
        })?;
        Sites::from_file(file)
    }

    #[test]
    fn origins_are_taken_as_browsers_send_them() {
        for ok in [
            "https://shop.example",
            "http://localhost:8081",
            "http://127.0.0.1:8081",
            "https://[::1]:8443",
            "https://[2001:db8::1]",
            "https://shop.example:65535",
        ] {
            assert!(is_origin(ok), "{ok} refused");
        }
        for bad in [
            "https://",
            "https://shop.example:",
            "https://:8443",
            "http://shop.example:080",
            "http://shop.example:0",
            "http://shop.example:65536",
            "http://shop.example:80",
            "https://shop.example:443",
            "https://[::1",
            "https://[]:8443",
            "https://[::1]8443",
            "https://Shop.example",
            "https://shop.example/",
            "ftp://shop.example",
        ] {
            assert!(!is_origin(bad), "{bad} accepted");
        }
    }

    #[test]
    fn a_complete_file_loads() {
        let sites = parse(
            r#"
            admin_token = "0123456789abcdef"
            [[sites]]
            id = "shop"
            allowed_origins = ["https://shop.example"]
            [sites.scoring]
            page_view = 1
            [[sites.campaigns]]
            id = "ebook"
            headline = "Free ebook"
            trigger = { scroll_percent = 50 }
            [[sites.campaigns]]
            id = "livre"
            headline = "Livre gratuit"
            text = { email = "Adresse e-mail", close = "Fermer" }
            targeting = { include = ["/über-uns*"], referrer = "*.Google.*" }
            "#,
        )
        .unwrap();
        let shop = sites.get("shop").unwrap();
        assert!(shop.allows_origin("https://shop.example"));
        assert_eq!(shop.campaign("ebook").unwrap().trigger, Condition::Leaf(Leaf::ScrollPercent(50)));
        // The widget gets the popup's words only where a campaign sets them.
        let config: serde_json::Value = serde_json::from_str(&shop.config_json).unwrap();
        assert_eq!(config["campaigns"][0].get("text"), None);
        assert_eq!(
            config["campaigns"][1]["text"],
            serde_json::json!({ "email": "Adresse e-mail", "close": "Fermer" })
        );
        // Patterns as browsers report paths and hosts.
        let targeting = &config["campaigns"][1]["targeting"];
        assert_eq!(targeting["include"], serde_json::json!(["/%C3%BCber-uns*"]));
        assert_eq!(targeting["referrer"], "*.google.*");
        // The tracker's packed rules say the same, in the campaigns' order.
        let rules = funnel::packed::decode_rules(config["rules"].as_str().unwrap()).unwrap();
        let ids: Vec<&str> = rules.campaigns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["ebook", "livre"]);
        assert_eq!(rules.campaigns[0].trigger, Condition::Leaf(Leaf::ScrollPercent(50)));
        assert_eq!(rules.campaigns[1].targeting.include, ["/%C3%BCber-uns*"]);
        assert_eq!(rules.campaigns[1].targeting.referrer.as_deref(), Some("*.google.*"));
        assert_eq!((rules.scoring.page_view, rules.privacy), (1, shop.config.privacy));
    }

    #[test]
    fn a_site_without_allowed_origins_takes_posts_from_servers_only() {
        let sites = parse("[[sites]]\nid = \"backend\"\n").unwrap();
        let backend = sites.get("backend").unwrap();
        assert!(!backend.allows_origin("https://backend.example"));
    }

    #[test]
    fn bad_files_name_the_key_at_fault() {
        let site = "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example\"]\n";
        let cases = [
            (format!("{site}colour = 1"), "colour"),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://Shop.example\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://a.example\", \"https://shop.example:443\"]"
                    .to_owned(),
                "sites[0].allowed_origins[1]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"http://shop.example:80\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ thank_you_url = \"//evil.example/x\" }}"
                ),
                "sites[0].campaigns[0].success.thank_you_url",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ lead_magnet_url = \"/\\\\evil.example/x\" }}"
                ),
                "sites[0].campaigns[0].success.lead_magnet_url",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"\""),
                "sites[0].campaigns[0].headline",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a b\"\nheadline = \"x\""),
                "sites[0].campaigns[0].id",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example/path\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (format!("{site}{site}"), "sites[1].id"),
            (format!("admin_token = \"short\"\n{site}"), "admin_token"),
            (format!("admin_token = \"pässwort-sehr-geheim-123\"\n{site}"), "admin_token"),
            (format!("admin_token = \"spaces in this admin token\"\n{site}"), "admin_token"),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example:\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://:8443\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"http://shop.example:080\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"http://shop.example:65536\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example:443\"]".to_owned(),
                "sites[0].allowed_origins[0]",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ thank_you_url = \"https://\" }}"
                ),
                "sites[0].campaigns[0].success.thank_you_url",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ delay = 3 }}"),
                "delay",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ delay_seconds = 3, scroll_percent = 5 }}"
                ),
                "one condition per table",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ any = [{{ scroll_percent = 120 }}] }}"
                ),
                "sites[0].campaigns[0].trigger.scroll_percent",
            ),
            (
                format!(
                    "{site}[sites.scoring]\nmax = 50\n[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ all = [{{ delay_seconds = 2 }}, {{ min_score = 60 }}] }}"
                ),
                "`sites[0].campaigns[0].trigger.min_score`: must be at most scoring.max (50)",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ sample_percent = 101 }}"
                ),
                "sites[0].campaigns[0].targeting.sample_percent",
            ),
            (format!("{site}[[sites.cta]]\nname = \"demo\"\nselector = \" \""), "sites[0].cta[0].selector"),
            (
                format!("{site}[[sites.cta]]\nname = \"demo\"\nselector = \"a[href=\""),
                "`sites[0].cta[0].selector`: is not a valid CSS selector",
            ),
            (format!("{site}[sites.privacy]\nhonour_gpc = false"), "honour_gpc"),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nconsent = {{ required = false, text = \"\" }}"
                ),
                "sites[0].campaigns[0].consent.text",
            ),
            (
                format!(
                    "{site}[sites.scoring]\nreferrers = [{{ pattern = \"{}\", points = 1 }}]",
                    "x".repeat(181)
                ),
                "sites[0].scoring.referrers[0].pattern",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ thank_you_url = \"https://shop.example/\\nthanks\" }}"
                ),
                "sites[0].campaigns[0].success.thank_you_url",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ lead_magnet_url = \"javascript:alert(1)\" }}"
                ),
                "sites[0].campaigns[0].success.lead_magnet_url",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ starts_at = 1800000000000, ends_at = 1700000000000 }}"
                ),
                "sites[0].campaigns[0].targeting.ends_at",
            ),
            (format!("{site}[sites.scoring]\nhalf_life_days = 0"), "sites[0].scoring.half_life_days"),
            // A time without its zone: which zone it is in is not known.
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ starts_at = 2027-01-15T08:00:00 }}"),
                "key `sites[0].campaigns[0].targeting.starts_at`: TOML parse error",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ ends_at = \"next week\" }}"),
                "`next week` is not milliseconds since the epoch, or a date and time with its zone",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ starts_at = 2027-01-16, ends_at = 2027-01-15T23:00:00+02:00 }}"),
                "sites[0].campaigns[0].targeting.ends_at",
            ),
            // A line holding the admin token is never quoted, whatever is wrong with it.
            (
                "admin_token = \"Xk9\\q7Lm2Pz8Rw4Tn6Vb\"\n[[sites]]\nid = \"shop\"".to_owned(),
                "TOML parse error at line 1, column 21 (the line is not shown: it holds the admin token)\ninvalid escape sequence",
            ),
            // Wrong types and unknown keys are named by their path too, not only shown in place.
            (
                "[[sites]]\nid = \"shop\"\nallowed_origins = [\"https://shop.example\", 42]".to_owned(),
                "key `sites[0].allowed_origins[1]`: TOML parse error at line 3",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ any = [{{ scroll_percent = 300 }}] }}"),
                "key `sites[0].campaigns[0].trigger.any[0].scroll_percent`",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntrigger = {{ scroll_percent = 300 }}"),
                "expected a whole number from 0 to 255",
            ),
            (format!("{site}[sites.scoring]\npage_view = \"5\""), "key `sites[0].scoring.page_view`"),
            (format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nheadlin = \"y\""), "key `sites[0].campaigns[0].headlin`: "),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ include = [\"/\", \"https://shop.example/pricing\"] }}"
                ),
                "sites[0].campaigns[0].targeting.include[1]",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ exclude = [\"/checkout?step=2\"] }}"
                ),
                "sites[0].campaigns[0].targeting.exclude[0]",
            ),
            (
                format!(
                    "{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ referrer = \"https://www.google.com\" }}"
                ),
                "sites[0].campaigns[0].targeting.referrer",
            ),
            (
                format!("{site}[sites.scoring]\npages = [{{ path = \"pricing\", points = 5 }}]"),
                "sites[0].scoring.pages[0].path",
            ),
            (
                format!("{site}[sites.scoring]\nreferrers = [{{ pattern = \"bücher.de\", points = 5 }}]"),
                "sites[0].scoring.referrers[0].pattern",
            ),
            // 4 fixed reasons, the default scroll threshold and 20 pages: the 26th referrer is
            // the 51st reason.
            (
                format!(
                    "{site}[sites.scoring]\npages = [{}]\nreferrers = [{}]",
                    vec!["{ path = \"/p*\", points = 1 }"; 20].join(", "),
                    vec!["{ pattern = \"r.example\", points = 1 }"; 30].join(", ")
                ),
                "sites[0].scoring.referrers[25]",
            ),
            // 100 characters as written, 600 as browsers send them.
            (
                format!("{site}[sites.scoring]\npages = [{{ path = \"/{}\", points = 5 }}]", "ü".repeat(99)),
                "sites[0].scoring.pages[0].path`: must be at most 180 characters as browsers send it",
            ),
            (format!("{site}[sites.scoring]\nmax = -1"), "sites[0].scoring.max"),
            (format!("{site}[sites.scoring.caps]\ncta_clicks = -5"), "sites[0].scoring.caps.cta_clicks"),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntext = {{ emial = \"E-mail\" }}"),
                "emial",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntext = {{ email = \"E-mail\", close = \" \" }}"),
                "sites[0].campaigns[0].text.close",
            ),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntext = {{ error = \"a\\nb\" }}"),
                "sites[0].campaigns[0].text.error",
            ),
            (format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nlang = \"fr_FR\""), "sites[0].campaigns[0].lang"),
            (format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ndir = \"down\""), "unknown variant `down`"),
            (
                format!("{site}[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\nsuccess = {{ message = \" \" }}"),
                "sites[0].campaigns[0].success.message",
            ),
        ];
        for (text, key) in cases {
            let err = parse(&text).expect_err(key).to_string();
            assert!(err.contains(key), "{err} should name {key}");
            assert!(!err.contains("Xk9"), "{err} shows the admin token");
        }
        for text in [
            "admin_token = \"Xk9-secret-token-000\",\n",
            "admin_token = 42 # Xk9\n",
            "[[sites]]\nid = \"s\"\nadmin_token = \"Xk9-secret-token-000\"\n",
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(!err.contains("Xk9"), "{err} shows the admin token");
        }
    }

    #[test]
    fn a_campaign_not_in_english_names_the_popup_words_it_leaves_in_english() {
        let mut c = Campaign { headline: "Le guide".into(), ..Campaign::new("livre") };
        assert!(untranslated(&c).is_empty(), "no language declared");
        c.lang = Some("en-GB".into());
        assert!(untranslated(&c).is_empty(), "English");
        c.lang = Some("fr".into());
        let all =
            ["email", "email_required", "email_invalid", "consent_required", "error", "unsent", "close"];
        assert_eq!(untranslated(&c), all);
        c.ask_name = true;
        c.success.lead_magnet_url = Some("/guide.pdf".into());
        c.consent.required = false;
        c.text.email = Some("Adresse e-mail".into());
        c.text.close = Some("Fermer".into());
        assert_eq!(
            untranslated(&c),
            ["name", "optional", "email_required", "email_invalid", "error", "unsent", "download"]
        );
    }

    #[test]
    fn the_readme_example_file_loads() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme.find("### `lodestone.toml`").expect("the section")..];
        let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").expect("its end")];
        // Its admin token is published, so it is refused until replaced (as the README says).
        let refused = parse(example).expect_err("the example token").to_string();
        assert!(refused.contains("config key `admin_token`: is the README's example value"), "{refused}");
        let example = example.replace(crate::app::README_EXAMPLE_TOKEN, "a-token-of-my-own-0123456789");
        let sites = parse(&example).unwrap_or_else(|e| panic!("{e}"));
        let shop = sites.get("shop").expect("the example's site");
        assert!(shop.allows_origin("https://www.shop.example"));
        assert!(!shop.config.campaigns.is_empty());
        // Its date window as the widget gets it: 2026-11-01 08:00 UTC up to 2027-01-01 00:00 UTC.
        let config: serde_json::Value = serde_json::from_str(&shop.config_json).unwrap();
        let windows: Vec<_> = config["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| {
                Some((c["targeting"].get("starts_at")?.clone(), c["targeting"].get("ends_at")?.clone()))
            })
            .collect();
        assert_eq!(
            windows,
            [(serde_json::json!(1_793_520_000_000_i64), serde_json::json!(1_798_761_600_000_i64))]
        );
    }

    #[test]
    fn a_date_window_takes_dates_times_with_zones_and_milliseconds() {
        let campaign = |targeting: &str| {
            let file = format!(
                "[[sites]]\nid = \"shop\"\n[[sites.campaigns]]\nid = \"a\"\nheadline = \"x\"\ntargeting = {{ {targeting} }}"
            );
            let sites = parse(&file).unwrap_or_else(|e| panic!("{targeting}: {e}"));
            let t = &sites.get("shop").unwrap().config.campaigns[0].targeting;
            (t.starts_at, t.ends_at)
        };
        let (start, end) = (Some(1_800_000_000_000), Some(1_800_003_600_000));
        for window in [
            "starts_at = 2027-01-15T08:00:00Z, ends_at = 2027-01-15T10:00:00+01:00",
            "starts_at = 2027-01-15T09:00:00.000+01:00, ends_at = 1800003600000",
            "starts_at = \"2027-01-15T08:00:00Z\", ends_at = \"2027-01-15 09:00:00Z\"",
        ] {
            assert_eq!(campaign(window), (start, end), "{window}");
        }
        assert_eq!(campaign("starts_at = 2027-01-15"), (Some(1_799_971_200_000), None));
    }

    #[test]
    fn campaign_paths_resolve_against_the_visitors_site_and_urls_stay_as_they_are() {
        let demo = Sites::demo();
        let site = demo.get("demo").unwrap();
        let first = "http://127.0.0.1:8081/thanks";
        assert_eq!(site.link("/thanks", Some("http://localhost:8081"), None), "http://localhost:8081/thanks");
        assert_eq!(
            site.link("/thanks", None, Some("http://localhost:8081/a/b?c")),
            "http://localhost:8081/thanks"
        );
        assert_eq!(site.link("/thanks", None, Some("http://evil.example/a")), first);
        assert_eq!(site.link("/thanks", Some("http://evil.example"), None), first);
        assert_eq!(site.link("/thanks", None, None), first);
        assert_eq!(site.link("https://else.example/t", None, None), "https://else.example/t");
        assert_eq!(origin_of("https://a.example:8443?x"), Some("https://a.example:8443"));
        assert_eq!(origin_of("/relative"), None);
    }

    #[test]
    fn the_demo_site_has_the_welcome_campaign_and_the_demo_origins() {
        let demo = Sites::demo();
        let site = demo.get("demo").unwrap();
        for id in ["welcome", "pricing-guide", "newsletter"] {
            assert!(site.campaign(id).is_some(), "{id}");
        }
        assert!(site.allows_origin("http://127.0.0.1:8081") && site.allows_origin("http://localhost:8081"));
        assert!(!site.allows_origin("http://evil.example"));
    }
}
