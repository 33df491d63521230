//! What each targeting and frequency rule asks for and what it saw, in words: the debug
//! overlay's "wants X, saw Y" beside every verdict. The verdict itself comes from
//! [`Targeting::verdicts`] and [`crate::frequency::verdicts`]; this module only describes the
//! values they compared, so the words can never disagree with the decision. Pure.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::frequency::{Frequency, Memory, Recent, SiteFrequency};
use crate::targeting::{Audience, DeviceClass, Targeting, VisitorKind};

const DAY_MS: f64 = 86_400_000.0;

/// One rule's verdict with the value it wanted and the value it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleReport {
    pub rule: &'static str,
    pub passed: bool,
    pub wants: String,
    pub seen: String,
}

/// Describes targeting rule `rule` of `t` as evaluated against `a` (already mapped for the
/// campaign, so `sample_roll` is the campaign's bucket).
pub fn targeting(t: &Targeting, rule: &'static str, passed: bool, a: &Audience<'_>) -> RuleReport {
    let or_none = |v: Option<&str>| v.unwrap_or("none").to_owned();
    let pattern = |p: &Option<String>| p.clone().unwrap_or_default();
    let (wants, seen) = match rule {
        "include" => (t.include.join(" or "), a.path.to_owned()),
        "exclude" => (format!("none of {}", t.exclude.join(", ")), a.path.to_owned()),
        "referrer" => (pattern(&t.referrer), or_none(a.referrer_host)),
        "utm_source" => (pattern(&t.utm_source), or_none(a.utm_source)),
        "utm_campaign" => (pattern(&t.utm_campaign), or_none(a.utm_campaign)),
        "devices" => {
            (t.devices.iter().map(|d| device(*d)).collect::<Vec<_>>().join(" or "), device(a.device).into())
        }
        "visitor" => (
            match t.visitor {
                Some(VisitorKind::Returning) => "returning",
                _ => "new",
            }
            .into(),
            format!("visit {}", a.visits),
        ),
        "converted" => (
            converted_text(t.converted == Some(true)).into(),
            format!("{} (any campaign)", converted_text(a.converted_any)),
        ),
        "sample_percent" => {
            (format!("bucket below {}", t.sample_percent.unwrap_or(0)), format!("bucket {}", a.sample_roll))
        }
        "starts_at" => (format!("from {}", utc(t.starts_at.unwrap_or(0))), utc(a.now_ms)),
        "ends_at" => (format!("before {}", utc(t.ends_at.unwrap_or(0))), utc(a.now_ms)),
        _ => (String::new(), String::new()),
    };
    RuleReport { rule, passed, wants, seen }
}

/// Describes frequency rule `rule` as evaluated from the campaign's memory `m` and the site's
/// recent popups at `now_ms`; the global cooldown says how long is left.
pub fn frequency(
    f: &Frequency,
    site: &SiteFrequency,
    m: Memory,
    recent: Recent,
    now_ms: f64,
    rule: &'static str,
    passed: bool,
) -> RuleReport {
    // `closed 2.9 days ago`, or `never closed`.
    let when = |what: &str, t: Option<f64>| match t {
        Some(t) => format!("{what} {} days ago", tenths((now_ms - t) / DAY_MS)),
        None => format!("never {what}"),
    };
    let (wants, seen) = match rule {
        "one_per_page_view" => (
            "no popup yet on this page view".into(),
            (if recent.shown_this_page { "a popup showed" } else { "none" }).into(),
        ),
        "after_conversion" => (
            match f.after_conversion_days {
                Some(d) => format!("{d} days after converting"),
                None => "never again after converting".into(),
            },
            when("converted", m.converted_at),
        ),
        "after_close" => (format!("{} days after closing", f.after_close_days), when("closed", m.closed_at)),
        "max_per_session" => (
            format!("at most {} this session", f.max_per_session.unwrap_or(0)),
            format!("shown {}", m.shown_this_session),
        ),
        "global_cooldown" => {
            let wants = format!("{} s between popups", site.global_cooldown_seconds);
            let Some(last) = recent.last_popup_at else {
                return RuleReport { rule, passed, wants, seen: "no popup yet".into() };
            };
            let elapsed = ((now_ms - last) / 1000.0).max(0.0);
            let left = (f64::from(site.global_cooldown_seconds) - elapsed).max(0.0);
            (wants, format!("last popup {} s ago, {} s left", elapsed as u64, libm_ceil(left)))
        }
        _ => (String::new(), String::new()),
    };
    RuleReport { rule, passed, wants, seen }
}

/// A device class as the config writes it.
pub fn device(d: DeviceClass) -> &'static str {
    match d {
        DeviceClass::Desktop => "desktop",
        DeviceClass::Tablet => "tablet",
        DeviceClass::Mobile => "mobile",
    }
}

fn converted_text(b: bool) -> &'static str {
    if b { "converted" } else { "not converted" }
}

/// `x` (not negative) with one decimal, rounded down: `2.9`.
fn tenths(x: f64) -> String {
    let t = (x.max(0.0) * 10.0) as u64;
    format!("{}.{}", t / 10, t % 10)
}

/// The smallest whole number at least `x` (not negative), without `std`'s float functions.
fn libm_ceil(x: f64) -> u64 {
    let whole = x as u64;
    if (whole as f64) < x { whole + 1 } else { whole }
}

/// Milliseconds since the Unix epoch as a UTC date and time to the second: `2027-01-01 00:00:00 UTC`.
pub fn utc(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000; // 2027-01-15 08:00:00 UTC

    /// Each report as (rule, passed, wants, seen) against the expected rows, in order.
    fn assert_described(described: &[RuleReport], expected: &[(&str, bool, &str, &str)]) {
        let got: Vec<(&str, bool, &str, &str)> =
            described.iter().map(|r| (r.rule, r.passed, r.wants.as_str(), r.seen.as_str())).collect();
        assert_eq!(got, expected);
    }

    fn audience() -> Audience<'static> {
        Audience {
            path: "/blog/post",
            referrer_host: Some("www.google.com"),
            utm_source: None,
            utm_campaign: Some("spring"),
            device: DeviceClass::Mobile,
            visits: 3,
            converted_any: false,
            sample_roll: 42,
            now_ms: NOW,
        }
    }

    #[test]
    fn dates_are_written_in_utc() {
        let cases = [
            (0, "1970-01-01 00:00:00 UTC"),
            (NOW, "2027-01-15 08:00:00 UTC"),
            (951_782_400_000, "2000-02-29 00:00:00 UTC"),
            (1_798_761_599_999, "2026-12-31 23:59:59 UTC"),
            (-30_000, "1969-12-31 23:59:30 UTC"),
        ];
        for (ms, text) in cases {
            assert_eq!(utc(ms), text, "{ms}");
        }
    }

    #[test]
    fn every_targeting_rule_says_what_it_wants_and_saw() {
        let t = Targeting {
            include: vec!["/pricing".into(), "/plans/*".into()],
            exclude: vec!["/blog/*".into()],
            referrer: Some("*.google.*".into()),
            utm_source: Some("newsletter".into()),
            utm_campaign: Some("spring".into()),
            devices: vec![DeviceClass::Desktop, DeviceClass::Tablet],
            visitor: Some(VisitorKind::New),
            converted: Some(false),
            sample_percent: Some(25),
            starts_at: Some(1_798_761_600_000),
            ends_at: Some(NOW),
        };
        let a = audience();
        let described: Vec<RuleReport> =
            t.verdicts(&a).into_iter().map(|v| targeting(&t, v.rule, v.passed, &a)).collect();
        let expected = [
            ("include", false, "/pricing or /plans/*", "/blog/post"),
            ("exclude", false, "none of /blog/*", "/blog/post"),
            ("referrer", true, "*.google.*", "www.google.com"),
            ("utm_source", false, "newsletter", "none"),
            ("utm_campaign", true, "spring", "spring"),
            ("devices", false, "desktop or tablet", "mobile"),
            ("visitor", false, "new", "visit 3"),
            ("converted", true, "not converted", "not converted (any campaign)"),
            ("sample_percent", false, "bucket below 25", "bucket 42"),
            ("starts_at", true, "from 2027-01-01 00:00:00 UTC", "2027-01-15 08:00:00 UTC"),
            ("ends_at", false, "before 2027-01-15 08:00:00 UTC", "2027-01-15 08:00:00 UTC"),
        ];
        assert_described(&described, &expected);
    }

    #[test]
    fn every_frequency_rule_says_what_it_wants_and_saw_and_the_cooldown_left() {
        let now = NOW as f64;
        let f = Frequency { after_close_days: 7, after_conversion_days: Some(30), max_per_session: Some(2) };
        let site = SiteFrequency { global_cooldown_seconds: 60 };
        let m = Memory {
            closed_at: Some(now - 2.95 * DAY_MS),
            converted_at: Some(now - 40.0 * DAY_MS),
            shown_this_session: 2,
        };
        let recent = Recent { shown_this_page: true, last_popup_at: Some(now - 12_500.0) };
        let described: Vec<RuleReport> = crate::frequency::verdicts(&f, &site, m, recent, now)
            .into_iter()
            .map(|v| frequency(&f, &site, m, recent, now, v.rule, v.passed))
            .collect();
        let expected = [
            ("one_per_page_view", false, "no popup yet on this page view", "a popup showed"),
            ("after_conversion", true, "30 days after converting", "converted 40.0 days ago"),
            ("after_close", false, "7 days after closing", "closed 2.9 days ago"),
            ("max_per_session", false, "at most 2 this session", "shown 2"),
            ("global_cooldown", false, "60 s between popups", "last popup 12 s ago, 48 s left"),
        ];
        assert_described(&described, &expected);
        let never = Frequency { after_conversion_days: None, ..f };
        assert_eq!(
            frequency(&never, &site, m, recent, now, "after_conversion", false).wants,
            "never again after converting"
        );
        // A campaign never closed or converted, on a visit with no popup yet.
        let fresh = Memory { closed_at: None, converted_at: None, shown_this_session: 0 };
        let none = Recent { shown_this_page: false, last_popup_at: None };
        let seen = |rule| frequency(&f, &site, fresh, none, now, rule, true).seen;
        assert_eq!(seen("after_close"), "never closed");
        assert_eq!(seen("after_conversion"), "never converted");
        assert_eq!(seen("global_cooldown"), "no popup yet");
        let long_ago = Recent { last_popup_at: Some(now - 90_000.0), ..recent };
        assert_eq!(
            frequency(&f, &site, m, long_ago, now, "global_cooldown", true).seen,
            "last popup 90 s ago, 0 s left"
        );
    }
}
