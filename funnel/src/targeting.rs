//! Who and where a campaign may show: URL include and exclude rules (exact, prefix or glob,
//! without a regex engine, which would cost hundreds of kilobytes in wasm), referrer, UTM,
//! device, new or returning visitor, converted or not, sampling and a date window.
//! Pure: evaluated in the browser and natively, each rule with its verdict for explanations.

#[allow(unused_imports)]
use crate::prelude::*;

use serde::{Deserialize, Serialize};

/// Matches `text` against `pattern`, where `*` stands for any run of characters (`/` included)
/// and every other character for itself. Linear backtracking over the last `*`: no regex.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // `get` rather than indexing: no bounds-check panic paths in the widget.
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&c) = t.get(ti) {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&pc) if pc == c => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.iter().skip(pi).all(|c| *c == b'*')
}

/// `pattern` as browsers write paths (`location.pathname`): bytes outside ASCII, spaces and
/// `"`, `<`, `>`, `` ` `` percent-encoded (`/über uns` -> `/%C3%BCber%20uns`), so a path written
/// as a marketer reads it still matches. Everything else, `*` included, is kept.
pub fn browser_path_pattern(pattern: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(pattern.len());
    for b in pattern.bytes() {
        if b >= 0x80 || matches!(b, b' ' | b'"' | b'<' | b'>' | b'`') {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Why path pattern `pattern` could never match a page (whose path starts with `/` and holds
/// no query or fragment), if it could not: a full URL, a query string. For config checks.
pub fn path_pattern_problem(pattern: &str) -> Option<&'static str> {
    // A scheme: `://` before any `/` of a path (`/go/https://x` is a path that can match).
    let scheme = pattern.split('/').next().is_some_and(|head| head.ends_with(':'));
    if scheme || !(pattern.starts_with('/') || pattern.starts_with('*')) {
        Some("must be a path pattern starting with / or * (like /pricing or /blog/*), not a full URL")
    } else if pattern.contains(['?', '#']) {
        Some("must match the path only, without a ?query or #fragment")
    } else {
        None
    }
}

/// Why host pattern `pattern` could never match a referrer's host (as browsers report it, with
/// a port only when not the default; compared in lowercase), if it could not. For config checks.
pub fn host_pattern_problem(pattern: &str) -> Option<&'static str> {
    if pattern.is_empty() || pattern.contains('/') {
        Some("must be a host pattern like *.google.* or news.example.com, without a scheme or path")
    } else if !pattern.is_ascii() {
        Some("must be ASCII: write an international domain name as browsers report it (xn--...)")
    } else {
        None
    }
}

/// A device class, from the viewport and pointer the tracker sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Desktop,
    Tablet,
    Mobile,
}

/// New or returning visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitorKind {
    New,
    Returning,
}

/// A campaign's audience. Every rule that is set must hold; an empty targeting matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// Path patterns (`/pricing`, `/blog/*`, `*/checkout*`); when any is given, one must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Path patterns that exclude the page, whatever `include` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// The referrer's host matches this pattern (`*.google.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<VisitorKind>,
    /// `false`: only visitors who have not converted on any campaign of the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<bool>,
    /// Show to this percentage of visitors (by a roll kept in the visitor's browser, mapped per
    /// campaign: two campaigns at 50% reach different halves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_percent: Option<u8>,
    /// Date window, milliseconds since the Unix epoch (UTC), start inclusive, end exclusive.
    /// With the `config-dates` feature (the server's), the config may also write a date and
    /// time ([`crate::moment`]); the widget gets milliseconds, and reads only them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "config-dates", serde(deserialize_with = "crate::moment::deserialize"))]
    pub starts_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "config-dates", serde(deserialize_with = "crate::moment::deserialize"))]
    pub ends_at: Option<i64>,
}

/// The host part of a URL in lowercase (`https://www.google.com/search` -> `www.google.com`;
/// an app's `android-app://com.Slack/` -> `com.slack`), as host patterns are compared: what
/// follows the second `/`, up to the next `/`, `?` or `#`. One pass over the characters, no
/// slicing or searching: their panic paths and searchers cost kilobytes in the widget.
pub fn url_host(url: &str) -> Option<String> {
    let (mut slashes, mut host) = (0, String::new());
    for c in url.chars() {
        if slashes < 2 {
            slashes += u32::from(c == '/');
        } else if matches!(c, '/' | '?' | '#') {
            break;
        } else {
            host.push(c.to_ascii_lowercase());
        }
    }
    (!host.is_empty()).then_some(host)
}

/// What targeting is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audience<'a> {
    pub path: &'a str,
    pub referrer_host: Option<&'a str>,
    pub utm_source: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    pub device: DeviceClass,
    pub visits: u32,
    pub converted_any: bool,
    /// 0-99, drawn once per visitor and kept with their history.
    pub sample_roll: u8,
    pub now_ms: i64,
}

impl Audience<'_> {
    /// This audience as campaign `id` samples it: the visitor's roll becomes their bucket for
    /// that campaign (see [`sample_bucket`]).
    pub fn for_campaign(&self, id: &str) -> Self {
        Self { sample_roll: sample_bucket(self.sample_roll, id), ..*self }
    }
}

/// The visitor's sample bucket (0-99) for campaign `id`: their roll through a bijection of
/// 0-99 keyed by the id, `r -> (r * m + k) % 100` with `m` coprime to 100. Each campaign's
/// `sample_percent` so takes exactly that share of visitors, and different campaigns take
/// different visitors rather than all the same lowest rolls.
pub fn sample_bucket(roll: u8, id: &str) -> u8 {
    // FNV-1a of the id.
    let h = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    // A number ending in 1, 3, 7 or 9 is divisible by neither 2 nor 5.
    let m = (h % 10) * 10 + [1, 3, 7, 9][(h >> 8) as usize % 4];
    let k = (h >> 16) % 100;
    ((u32::from(roll % 100) * m + k) % 100) as u8
}

/// One rule's verdict (targeting and frequency rules alike), for the debug overlay and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub rule: &'static str,
    pub passed: bool,
}

impl Targeting {
    /// Every rule that is set, with its verdict, in a fixed order.
    pub fn verdicts(&self, a: &Audience<'_>) -> Vec<Verdict> {
        let mut out = Vec::new();
        self.judge(a, |rule, passed| out.push(Verdict { rule, passed }));
        out
    }

    /// Whether every rule that is set holds (as [`Targeting::verdicts`] says, without
    /// collecting them: the widget's every-page build needs only this).
    pub fn matches(&self, a: &Audience<'_>) -> bool {
        let mut all = true;
        self.judge(a, |_, passed| all &= passed);
        all
    }

    /// Tells `verdict` each rule that is set and whether it holds, in a fixed order. (Generic:
    /// where only the answer is wanted, the rules' names are left out of the widget.)
    fn judge(&self, a: &Audience<'_>, mut verdict: impl FnMut(&'static str, bool)) {
        let mut check = |rule: &'static str, set: bool, passed: bool| {
            if set {
                verdict(rule, passed);
            }
        };
        check("include", !self.include.is_empty(), self.include.iter().any(|p| glob_match(p, a.path)));
        check("exclude", !self.exclude.is_empty(), !self.exclude.iter().any(|p| glob_match(p, a.path)));
        let opt = |pattern: &Option<String>, value: Option<&str>| {
            pattern.as_deref().is_none_or(|p| value.is_some_and(|v| glob_match(p, v)))
        };
        check("referrer", self.referrer.is_some(), opt(&self.referrer, a.referrer_host));
        check("utm_source", self.utm_source.is_some(), opt(&self.utm_source, a.utm_source));
        check("utm_campaign", self.utm_campaign.is_some(), opt(&self.utm_campaign, a.utm_campaign));
        check("devices", !self.devices.is_empty(), self.devices.contains(&a.device));
        let returning = a.visits > 1;
        check(
            "visitor",
            self.visitor.is_some(),
            match self.visitor {
                Some(VisitorKind::New) => !returning,
                Some(VisitorKind::Returning) => returning,
                None => true,
            },
        );
        check("converted", self.converted.is_some(), self.converted.is_none_or(|c| c == a.converted_any));
        check(
            "sample_percent",
            self.sample_percent.is_some(),
            self.sample_percent.is_none_or(|p| a.sample_roll < p),
        );
        check("starts_at", self.starts_at.is_some(), self.starts_at.is_none_or(|s| a.now_ms >= s));
        check("ends_at", self.ends_at.is_some(), self.ends_at.is_none_or(|e| a.now_ms < e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_host_in_lowercase() {
        let cases = [
            ("https://www.Google.com/search?q=x", Some("www.google.com")),
            ("https://news.example", Some("news.example")),
            ("http://localhost:8080/", Some("localhost:8080")),
            ("https://ex.example?q=1", Some("ex.example")),
            ("https://ex.example#top", Some("ex.example")),
            ("android-app://com.Slack/", Some("com.slack")),
            ("https://bücher.example/", Some("bücher.example")),
            ("https:///path", None),
            ("https://", None),
            ("no slashes", None),
            ("", None),
        ];
        for (url, host) in cases {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn patterns_that_could_never_match_are_named() {
        for ok in ["/", "*", "/pricing", "/blog/*", "*/checkout*", "/go/https://partner.example/*"] {
            assert_eq!(path_pattern_problem(ok), None, "{ok}");
        }
        let bad = [
            "",
            "pricing",
            "https://shop.example/pricing",
            "*://shop.example/*",
            "/pricing?plan=pro",
            "/faq#x",
        ];
        for bad in bad {
            assert!(path_pattern_problem(bad).is_some(), "{bad}");
        }
        for ok in ["*.google.*", "news.example.com", "localhost:8081", "*", "*.Google.*", "xn--bcher-kva.de"]
        {
            assert_eq!(host_pattern_problem(ok), None, "{ok}");
        }
        for bad in ["", "https://www.google.com", "www.google.com/search", "bücher.de"] {
            assert!(host_pattern_problem(bad).is_some(), "{bad}");
        }
        // Written as a marketer reads the path, matched as the browser reports it.
        let cases = [
            ("/über-uns", "/%C3%BCber-uns"),
            ("/offres/été*", "/offres/%C3%A9t%C3%A9*"),
            ("/a b/<x>", "/a%20b/%3Cx%3E"),
            ("/%C3%BCber-uns", "/%C3%BCber-uns"),
            ("/blog/*", "/blog/*"),
        ];
        for (written, browser) in cases {
            assert_eq!(browser_path_pattern(written), browser);
        }
    }

    #[test]
    fn each_campaign_samples_exactly_its_share_and_not_the_same_visitors_as_another() {
        let ids: Vec<String> = ["welcome", "pricing-guide", "newsletter"]
            .into_iter()
            .map(String::from)
            .chain((0..37).map(|i| format!("c{i}")))
            .collect();
        let half = |id: &str| -> Vec<u8> { (0..100).filter(|&r| sample_bucket(r, id) < 50).collect() };
        for id in &ids {
            let mut buckets: Vec<u8> = (0..100).map(|r| sample_bucket(r, id)).collect();
            buckets.sort_unstable();
            assert_eq!(buckets, (0..100).collect::<Vec<u8>>(), "{id}: not one bucket per roll");
            for p in [0, 1, 10, 33, 50, 99, 100] {
                let share = (0..100).filter(|&r| sample_bucket(r, id) < p).count();
                assert_eq!(share, usize::from(p), "{id} at {p}%");
            }
        }
        // Two 50% campaigns overlap on about a quarter of visitors, not on the same half.
        let mut overlaps = Vec::new();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (ha, hb) = (half(a), half(b));
                overlaps.push(ha.iter().filter(|r| hb.contains(r)).count());
            }
        }
        let mean = overlaps.iter().sum::<usize>() as f64 / overlaps.len() as f64;
        assert!((20.0..=30.0).contains(&mean), "mean overlap {mean}");
        assert_ne!(half("welcome"), half("newsletter"));
    }

    #[test]
    fn glob_patterns_table() {
        let cases = [
            ("/pricing", "/pricing", true),
            ("/pricing", "/pricing/team", false),
            ("/pricing*", "/pricing/team", true),
            ("/blog/*", "/blog/", true),
            ("/blog/*", "/blog", false),
            ("*/checkout*", "/shop/checkout/step-2", true),
            ("/a*b*c", "/axxbyyc", true),
            ("/a*b*c", "/axxbyy", false),
            ("*", "", true),
            ("", "", true),
            ("", "/x", false),
            ("*.google.*", "www.google.com", true),
            ("*.google.*", "google.com", false),
            ("/**", "/anything/at/all", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }

    fn audience(path: &str) -> Audience<'_> {
        Audience {
            path,
            referrer_host: Some("www.google.com"),
            utm_source: Some("newsletter"),
            utm_campaign: None,
            device: DeviceClass::Mobile,
            visits: 2,
            converted_any: false,
            sample_roll: 30,
            now_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn each_targeting_rule_table() {
        let t = |f: fn(&mut Targeting)| {
            let mut t = Targeting::default();
            f(&mut t);
            t
        };
        let cases: Vec<(Targeting, bool)> = vec![
            (Targeting::default(), true),
            (t(|t| t.include = vec!["/blog/*".into()]), true),
            (t(|t| t.include = vec!["/pricing".into()]), false),
            (t(|t| t.exclude = vec!["/blog/*".into()]), false),
            (t(|t| (t.include, t.exclude) = (vec!["/*".into()], vec!["/blog/draft*".into()])), true),
            (t(|t| t.referrer = Some("*.google.*".into())), true),
            (t(|t| t.referrer = Some("*.bing.*".into())), false),
            (t(|t| t.utm_source = Some("newsletter".into())), true),
            (t(|t| t.utm_campaign = Some("launch".into())), false),
            (t(|t| t.devices = vec![DeviceClass::Mobile, DeviceClass::Tablet]), true),
            (t(|t| t.devices = vec![DeviceClass::Desktop]), false),
            (t(|t| t.visitor = Some(VisitorKind::Returning)), true),
            (t(|t| t.visitor = Some(VisitorKind::New)), false),
            (t(|t| t.converted = Some(false)), true),
            (t(|t| t.converted = Some(true)), false),
            (t(|t| t.sample_percent = Some(31)), true),
            (t(|t| t.sample_percent = Some(30)), false),
            (t(|t| t.starts_at = Some(1_800_000_000_000)), true),
            (t(|t| t.ends_at = Some(1_800_000_000_000)), false),
        ];
        for (targeting, expected) in cases {
            assert_eq!(targeting.matches(&audience("/blog/post")), expected, "{targeting:?}");
            // The decision and the debug overlay's verdicts agree.
            let all = targeting.verdicts(&audience("/blog/post")).iter().all(|v| v.passed);
            assert_eq!(all, expected, "{targeting:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_pattern_without_stars_matches_exactly_itself(s in "[a-z/.-]{0,20}", t in "[a-z/.-]{0,20}") {
            proptest::prop_assert!(glob_match(&s, &s));
            proptest::prop_assert_eq!(glob_match(&s, &t), s == t);
        }

        #[test]
        fn a_star_on_each_side_finds_any_infix(pre in "[a-z/]{0,8}", mid in "[a-z/]{0,8}", post in "[a-z/]{0,8}") {
            let text = format!("{pre}{mid}{post}");
            let pattern = format!("*{mid}*");
            proptest::prop_assert!(glob_match(&pattern, &text));
        }
    }

    #[test]
    fn verdicts_name_every_rule_set_and_only_those() {
        let t = Targeting { include: vec!["/x".into()], sample_percent: Some(50), ..Targeting::default() };
        let v = t.verdicts(&audience("/blog/post"));
        assert_eq!(
            v,
            [Verdict { rule: "include", passed: false }, Verdict { rule: "sample_percent", passed: true }]
        );
    }
}
