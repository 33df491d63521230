//! A compact positional text format for what the tracker reads on every page: the rules of a
//! site's config, encoded by the server ([`encode_rules`]) beside the config's JSON.
//!
//! Reading a JSON object field by field through JavaScript costs the tracker's module tens of
//! bytes per field; reading this from its own memory costs a call. Values follow one another
//! in a fixed order, without names:
//!
//! - a number: decimal digits, `-` first when negative, then `,` (`42,`, `-3,`); a `bool` is
//!   `1,` or `0,`;
//! - a string: its length in bytes, `:`, then its bytes (`5:hello`);
//! - an absent optional value: `~`;
//! - a list: its length as a number, then its items.
//!
//! A [`Reader`] never panics: on malformed input (a number past `u64`, a length past the end
//! of the text) it notes the fault, returns zeros and empty values from then on, and
//! [`Reader::finish`] refuses the whole. The rules start with their format's number
//! ([`RULES_FORMAT`]): a tracker and a server of different formats read no rules rather than
//! wrong ones.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::conditions::{Condition, Leaf};
use crate::config::{Caps, MatchRule, PageRule, Privacy, ScrollRule};
use crate::frequency::{Frequency, SiteFrequency};
use crate::targeting::{DeviceClass, Targeting, VisitorKind};
use crate::{
    Campaign, ConsentSpec, Display, InterfaceText, ScoringRules, SiteConfig, Success, TextDirection,
};

/// Writes values in the packed format.
#[derive(Debug, Default)]
pub struct Writer(String);

impl Writer {
    pub fn new() -> Self {
        Self(String::new())
    }

    #[inline(never)]
    pub fn num(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.0.push('-');
        }
        crate::score::push_decimal(&mut self.0, n.unsigned_abs());
        self.0.push(',');
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.num(i64::from(b))
    }

    #[inline(never)]
    pub fn str(&mut self, s: &str) -> &mut Self {
        crate::score::push_decimal(&mut self.0, s.len() as u64);
        self.0.push(':');
        self.0.push_str(s);
        self
    }

    #[inline(never)]
    fn none(&mut self) -> &mut Self {
        self.0.push('~');
        self
    }

    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.none(),
        }
    }

    pub fn opt_num(&mut self, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.num(n),
            None => self.none(),
        }
    }

    /// `items`' length, then each item as `item` writes it.
    pub fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.num(items.len() as i64);
        for i in items {
            item(self, i);
        }
        self
    }

    pub fn strs(&mut self, items: &[String]) -> &mut Self {
        self.list(items, |w, s| {
            w.str(s);
        })
    }

    pub fn end(self) -> String {
        self.0
    }
}

/// Reads values in the packed format, in the order they were written.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a str,
    bad: bool,
    /// The byte that ended the last number: `,` or `:`.
    last: u8,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { rest: text, bad: false, last: 0 }
    }

    /// Digits up to `end` (`,` or `:`; with `end` 0, either), as a number; marks the input bad
    /// when there are none or they overflow.
    #[inline(never)]
    fn digits(&mut self, end: u8) -> u64 {
        let mut n: u64 = 0;
        for (seen, b) in self.rest.bytes().enumerate() {
            if (b == end || end == 0 && matches!(b, b',' | b':')) && seen > 0 {
                self.rest = self.rest.split_at_checked(seen + 1).map_or("", |(_, r)| r);
                self.last = b;
                return n;
            }
            let digit = b.wrapping_sub(b'0');
            match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(digit))) {
                Some(next) if digit < 10 => n = next,
                _ => break,
            }
        }
        self.fail();
        0
    }

    /// A length read by `digits`, refused when more than what is left of the text (each item
    /// of a list takes at least one byte too), so a forged one allocates nothing.
    fn length(&mut self, end: u8) -> usize {
        let n = self.digits(end);
        if n > self.rest.len() as u64 {
            self.fail();
            return 0;
        }
        n as usize
    }

    /// Skips one value of any kind (one a reader has no use for).
    fn skip(&mut self) {
        if !self.absent() {
            self.eat(b'-');
            let n = self.digits(0);
            if self.last == b':' {
                let n = n.min(self.rest.len() as u64) as usize;
                self.rest = self.rest.split_at_checked(n).map_or("", |(_, r)| r);
            }
        }
    }

    fn fail(&mut self) {
        self.bad = true;
        self.rest = "";
    }

    /// Whether the byte `b` (ASCII) is next; consumed when it is.
    #[inline(never)]
    fn eat(&mut self, b: u8) -> bool {
        let next = self.rest.as_bytes().first() == Some(&b);
        if next {
            self.rest = self.rest.get(1..).unwrap_or("");
        }
        next
    }

    /// `~`, an absent value: consumed when next.
    fn absent(&mut self) -> bool {
        self.eat(b'~')
    }

    #[inline(never)]
    pub fn num(&mut self) -> i64 {
        let negative = self.eat(b'-');
        let n = self.digits(b',') as i64;
        if negative { n.wrapping_neg() } else { n }
    }

    /// A number clamped into `u32`.
    #[inline(never)]
    pub fn u32(&mut self) -> u32 {
        self.num().max(0).min(i64::from(u32::MAX)) as u32
    }

    /// A number clamped into `i32`.
    #[inline(never)]
    pub fn i32(&mut self) -> i32 {
        self.num().max(i64::from(i32::MIN)).min(i64::from(i32::MAX)) as i32
    }

    /// A number clamped into `0..=max`.
    pub fn at_most(&mut self, max: u8) -> u8 {
        self.u32().min(u32::from(max)) as u8
    }

    pub fn bool(&mut self) -> bool {
        self.num() != 0
    }

    #[inline(never)]
    pub fn str(&mut self) -> String {
        let len = self.length(b':');
        match self.rest.split_at_checked(len) {
            Some((s, rest)) => {
                self.rest = rest;
                s.to_owned()
            }
            None => {
                self.fail();
                String::new()
            }
        }
    }

    pub fn opt_str(&mut self) -> Option<String> {
        if self.absent() { None } else { Some(self.str()) }
    }

    pub fn opt_num(&mut self) -> Option<i64> {
        if self.absent() { None } else { Some(self.num()) }
    }

    pub fn opt_u32(&mut self) -> Option<u32> {
        if self.absent() { None } else { Some(self.u32()) }
    }

    pub fn opt_i32(&mut self) -> Option<i32> {
        if self.absent() { None } else { Some(self.i32()) }
    }

    /// A list, each item read by `item`.
    pub fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.length(b',');
        let mut out = Vec::new();
        for _ in 0..n {
            if self.bad {
                break;
            }
            out.push(item(self));
        }
        out
    }

    pub fn strs(&mut self) -> Vec<String> {
        self.list(Self::str)
    }

    /// Whether everything read was well formed and nothing is left over.
    pub fn finish(&self) -> bool {
        !self.bad && self.rest.is_empty()
    }
}

/// The rules of a site's config, as the tracker evaluates them: each campaign's consent,
/// targeting, trigger, frequency and priority (not its copy, which the popup reads from the
/// config's JSON), the scoring rules, the site-wide frequency and the privacy settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub campaigns: Vec<Campaign>,
    pub scoring: ScoringRules,
    pub frequency: SiteFrequency,
    pub privacy: Privacy,
}

const DEVICES: [DeviceClass; 3] = [DeviceClass::Desktop, DeviceClass::Tablet, DeviceClass::Mobile];

/// Leaves by number; a number unknown to the reader is a leaf that never holds.
fn write_condition(w: &mut Writer, c: &Condition) {
    let (kind, n, s) = match c {
        Condition::All { all } => {
            w.num(0).list(all, write_condition);
            return;
        }
        Condition::Any { any } => {
            w.num(1).list(any, write_condition);
            return;
        }
        Condition::Leaf(leaf) => match leaf {
            Leaf::DelaySeconds(n) => (2, i64::from(*n), None),
            Leaf::TimeOnSiteSeconds(n) => (3, i64::from(*n), None),
            Leaf::ScrollPercent(n) => (4, i64::from(*n), None),
            Leaf::ExitIntent(b) => (5, i64::from(*b), None),
            Leaf::InactiveSeconds(n) => (6, i64::from(*n), None),
            Leaf::Click(s) => (7, 0, Some(s)),
            Leaf::MinPageViews(n) => (8, i64::from(*n), None),
            Leaf::MinVisits(n) => (9, i64::from(*n), None),
            Leaf::MinScore(n) => (10, i64::from(*n), None),
            Leaf::Event(s) => (11, 0, Some(s)),
        },
    };
    w.num(kind);
    match s {
        Some(s) => w.str(s),
        None => w.num(n),
    };
}

fn read_condition(r: &mut Reader<'_>) -> Condition {
    let leaf = match r.num() {
        0 => return Condition::All { all: r.list(read_condition) },
        1 => return Condition::Any { any: r.list(read_condition) },
        2 => Leaf::DelaySeconds(r.u32()),
        3 => Leaf::TimeOnSiteSeconds(r.u32()),
        4 => Leaf::ScrollPercent(r.at_most(100)),
        5 => Leaf::ExitIntent(r.bool()),
        6 => Leaf::InactiveSeconds(r.u32()),
        7 => Leaf::Click(r.str()),
        8 => Leaf::MinPageViews(r.u32()),
        9 => Leaf::MinVisits(r.u32()),
        10 => Leaf::MinScore(r.i32()),
        11 => Leaf::Event(r.str()),
        // A leaf added since (within this format): its value is skipped, and it never holds.
        _ => {
            r.skip();
            return Condition::Any { any: Vec::new() };
        }
    };
    Condition::Leaf(leaf)
}

fn write_match_rules(w: &mut Writer, rules: &[MatchRule]) {
    w.list(rules, |w, r| {
        w.str(&r.pattern).num(r.points.into());
    });
}

fn read_match_rules(r: &mut Reader<'_>) -> Vec<MatchRule> {
    r.list(|r| MatchRule { pattern: r.str(), points: r.i32() })
}

/// The packed rules' format: the first number of what [`encode_rules`] writes. A change to
/// their layout takes a new number.
pub const RULES_FORMAT: i64 = 1;

/// The rules of `config` in the packed format, for the tracker ([`decode_rules`] reads them).
pub fn encode_rules(config: &SiteConfig) -> String {
    let mut w = Writer::new();
    w.num(RULES_FORMAT);
    w.list(&config.campaigns, |w, c| {
        let t = &c.targeting;
        let f = &c.frequency;
        w.str(&c.id).num(c.priority.into());
        w.bool(c.consent.required).str(&c.consent.text).str(&c.consent.version);
        w.strs(&t.include).strs(&t.exclude);
        w.opt_str(t.referrer.as_deref()).opt_str(t.utm_source.as_deref()).opt_str(t.utm_campaign.as_deref());
        w.list(&t.devices, |w, d| {
            w.num(DEVICES.iter().position(|x| x == d).unwrap_or(0) as i64);
        });
        w.opt_num(t.visitor.map(|v| i64::from(v == VisitorKind::Returning)));
        w.opt_num(t.converted.map(i64::from)).opt_num(t.sample_percent.map(i64::from));
        w.opt_num(t.starts_at).opt_num(t.ends_at);
        write_condition(w, &c.trigger);
        w.num(f.after_close_days.into());
        w.opt_num(f.after_conversion_days.map(i64::from)).opt_num(f.max_per_session.map(i64::from));
    });
    let s = &config.scoring;
    w.num(s.page_view.into()).num(s.engaged_minute.into()).num(s.return_visit.into()).num(s.cta_click.into());
    w.list(&s.scroll, |w, r| {
        w.num(r.percent.into()).num(r.points.into());
    });
    w.list(&s.pages, |w, r| {
        w.str(&r.path).num(r.points.into());
    });
    write_match_rules(&mut w, &s.referrers);
    write_match_rules(&mut w, &s.utm_sources);
    write_match_rules(&mut w, &s.utm_campaigns);
    w.opt_num(s.caps.page_views.map(i64::from))
        .opt_num(s.caps.engaged_minutes.map(i64::from))
        .opt_num(s.caps.cta_clicks.map(i64::from));
    w.opt_num(s.half_life_days.map(i64::from)).num(s.max.into());
    w.num(config.frequency.global_cooldown_seconds.into());
    w.bool(config.privacy.honor_gpc).bool(config.privacy.consent_mode);
    w.end()
}

/// The rules [`encode_rules`] wrote; `None` when `text` is not such rules.
pub fn decode_rules(text: &str) -> Option<Rules> {
    let r = &mut Reader::new(text);
    if r.num() != RULES_FORMAT {
        return None;
    }
    let campaigns = r.list(|r| {
        Campaign {
            id: r.str(),
            priority: r.i32(),
            consent: ConsentSpec { required: r.bool(), text: r.str(), version: r.str() },
            targeting: Targeting {
                include: r.strs(),
                exclude: r.strs(),
                referrer: r.opt_str(),
                utm_source: r.opt_str(),
                utm_campaign: r.opt_str(),
                devices: r.list(|r| DEVICES.get(r.num() as usize).copied().unwrap_or(DeviceClass::Desktop)),
                visitor: r.opt_num().map(|v| if v == 0 { VisitorKind::New } else { VisitorKind::Returning }),
                converted: r.opt_num().map(|v| v != 0),
                sample_percent: r.opt_u32().map(|p| p.min(100) as u8),
                starts_at: r.opt_num(),
                ends_at: r.opt_num(),
            },
            trigger: read_condition(r),
            frequency: Frequency {
                after_close_days: r.u32(),
                after_conversion_days: r.opt_u32(),
                max_per_session: r.opt_u32(),
            },
            // The copy stays in the config's JSON (the popup's): empty here, allocating nothing.
            display: Display::Modal,
            headline: String::new(),
            body: String::new(),
            button_label: String::new(),
            ask_name: false,
            success: Success { message: String::new(), lead_magnet_url: None, thank_you_url: None },
            text: InterfaceText::default(),
            lang: None,
            dir: TextDirection::Auto,
        }
    });
    let scoring = ScoringRules {
        page_view: r.i32(),
        engaged_minute: r.i32(),
        return_visit: r.i32(),
        cta_click: r.i32(),
        scroll: r.list(|r| ScrollRule { percent: r.at_most(100), points: r.i32() }),
        pages: r.list(|r| PageRule { path: r.str(), points: r.i32() }),
        referrers: read_match_rules(r),
        utm_sources: read_match_rules(r),
        utm_campaigns: read_match_rules(r),
        caps: Caps { page_views: r.opt_i32(), engaged_minutes: r.opt_i32(), cta_clicks: r.opt_i32() },
        half_life_days: r.opt_u32(),
        max: r.i32(),
    };
    let frequency = SiteFrequency { global_cooldown_seconds: r.u32() };
    let privacy = Privacy { honor_gpc: r.bool(), consent_mode: r.bool() };
    let rules = Rules { campaigns, scoring, frequency, privacy };
    r.finish().then_some(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    /// A config setting every rule the packed form carries, each to a value other than its
    /// default, in TOML as a marketer writes it.
    fn full_config() -> SiteConfig {
        toml::from_str(
            r#"
            site = "shop"
            frequency = { global_cooldown_seconds = 90 }
            privacy = { honor_gpc = false, consent_mode = true }
            cta = [{ name = "buy", selector = "a.buy" }]
            [scoring]
            page_view = 3
            engaged_minute = 4
            return_visit = 6
            cta_click = -7
            scroll = [{ percent = 50, points = 2 }, { percent = 90, points = 4 }]
            pages = [{ path = "/pricing*", points = 15 }]
            referrers = [{ pattern = "*.google.*", points = 3 }]
            utm_sources = [{ pattern = "news", points = 2 }]
            utm_campaigns = [{ pattern = "spring*", points = 1 }]
            caps = { page_views = 20, engaged_minutes = 30, cta_clicks = 10 }
            half_life_days = 14
            max = 150
            [[campaigns]]
            id = "ebook"
            priority = -2
            headline = "Get the ebook"
            consent = { required = false, text = "Yes: emails. Ünïcödé, \"quotes\", 12:3~ -4,", version = "v7" }
            frequency = { after_close_days = 3, after_conversion_days = 30, max_per_session = 2 }
            [campaigns.targeting]
            include = ["/blog/*", "/pricing"]
            exclude = ["*/checkout*"]
            referrer = "*.google.*"
            utm_source = "news"
            utm_campaign = "spring*"
            devices = ["mobile", "tablet", "desktop"]
            visitor = "returning"
            converted = false
            sample_percent = 40
            starts_at = 1700000000000
            ends_at = 1800000000000
            [campaigns.trigger]
            any = [
              { all = [{ delay_seconds = 5 }, { scroll_percent = 60 }, { min_score = -3 }] },
              { time_on_site_seconds = 30 }, { exit_intent = true }, { inactive_seconds = 20 },
              { click = "buy" }, { min_page_views = 3 }, { min_visits = 2 }, { event = "video:done" },
            ]
            [[campaigns]]
            id = "plain"
            headline = "Defaults throughout"
            [campaigns.targeting]
            visitor = "new"
            "#,
        )
        .unwrap()
    }

    /// What the tracker keeps of a campaign: its rules, with no copy.
    fn rules_of(c: &Campaign) -> Campaign {
        Campaign {
            priority: c.priority,
            consent: c.consent.clone(),
            targeting: c.targeting.clone(),
            trigger: c.trigger.clone(),
            frequency: c.frequency.clone(),
            button_label: String::new(),
            success: Success { message: String::new(), lead_magnet_url: None, thank_you_url: None },
            ..Campaign::new(&c.id)
        }
    }

    #[test]
    fn rules_read_back_as_written() {
        for config in [full_config(), toml::from_str("site = \"bare\"").unwrap()] {
            let rules = decode_rules(&encode_rules(&config)).expect("reads back");
            assert_eq!(rules.campaigns, config.campaigns.iter().map(rules_of).collect::<Vec<_>>());
            assert_eq!(rules.scoring, config.scoring);
            assert_eq!(rules.frequency, config.frequency);
            assert_eq!(rules.privacy, config.privacy);
        }
    }

    #[test]
    fn every_truncation_and_anything_more_is_refused() {
        let text = encode_rules(&full_config());
        for end in 0..text.len() {
            if let Some(cut) = text.get(..end) {
                assert_eq!(decode_rules(cut), None, "cut at {end}");
            }
        }
        let longer = text.clone() + "1,";
        assert_eq!(decode_rules(&longer), None);
        assert_eq!(decode_rules(""), None);
        assert_eq!(decode_rules("not rules"), None);
        assert_eq!(decode_rules("{\"campaigns\":[]}"), None);
        // Another format's rules are not read as this one's.
        let other = text.replacen(&[RULES_FORMAT.to_string(), ",".into()].concat(), "2,", 1);
        assert!(other.starts_with("2,"));
        assert_eq!(decode_rules(&other), None);
    }

    #[test]
    fn a_forged_length_allocates_nothing_and_is_refused() {
        assert_eq!(decode_rules("99999999999999999999,"), None);
        // Past `u64`, and past 32 bits (a `usize` in the widget): refused, not wrapped round.
        for text in ["18446744073709551616,", "4294967296,", "4294967297:x", "18446744073709551617:x"] {
            let r = &mut Reader::new(text);
            if text.ends_with(',') {
                assert!(r.list(Reader::num).is_empty(), "{text}");
            } else {
                assert_eq!(r.str(), "", "{text}");
            }
            assert!(!r.finish(), "{text}");
        }
        let r = &mut Reader::new("4000000000,1,");
        assert!(r.list(Reader::num).is_empty());
        assert!(!r.finish());
        // A string length past the end, or cutting a character in two.
        let r = &mut Reader::new("9:abc");
        assert_eq!(r.str(), "");
        assert!(!r.finish());
        let r = &mut Reader::new("1:é");
        assert_eq!(r.str(), "");
        assert!(!r.finish());
    }

    #[test]
    fn values_read_back_with_their_bounds() {
        let mut w = Writer::new();
        w.num(i64::MIN + 1).num(-1).num(0).num(i64::MAX).str("").str("a,b:c~").opt_str(None).opt_num(None);
        w.num(i64::from(u32::MAX) + 5).num(-5).num(i64::from(i32::MAX) + 1).num(250).strs(&["x".to_string()]);
        let text = w.end();
        let r = &mut Reader::new(&text);
        assert_eq!([r.num(), r.num(), r.num(), r.num()], [i64::MIN + 1, -1, 0, i64::MAX]);
        assert_eq!(
            (r.str(), r.str(), r.opt_str(), r.opt_num()),
            (String::new(), "a,b:c~".to_string(), None, None)
        );
        assert_eq!((r.u32(), r.u32(), r.i32(), r.at_most(100)), (u32::MAX, 0, i32::MAX, 100));
        assert_eq!(r.strs(), ["x"]);
        assert!(r.finish());
    }

    #[test]
    fn an_unknown_leaf_never_holds_and_the_rest_still_reads() {
        // `any` of five: unknown leaves with a number, a negative number, a string (holding
        // the format's own separators) and nothing, then a delay.
        let mut w = Writer::new();
        w.num(1).num(5).num(99).num(7).num(98).num(-7).num(97).str("1,2:x~").num(96).opt_num(None);
        w.num(2).num(5);
        let text = w.end();
        let r = &mut Reader::new(&text);
        let never = || Condition::Any { any: Vec::new() };
        let expected = Condition::Any {
            any: vec![never(), never(), never(), never(), Condition::Leaf(Leaf::DelaySeconds(5))],
        };
        assert_eq!(read_condition(r), expected);
        assert!(r.finish());
    }
}
