//! The site config as the tracker needs it: the rules from the config's packed `rules`
//! (`funnel::packed`, written by the server).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::value::{Value, get_str};
use funnel::config::Privacy;
use funnel::frequency::SiteFrequency;
use funnel::targeting::DeviceClass;
use funnel::{Campaign, ScoringRules};

/// What the tracker uses of a site's config: the rules it evaluates. (The bootstrap keeps the
/// config itself: the click listener reads its CTA selectors, the popup a campaign's copy.)
pub struct Site {
    pub campaigns: Vec<Campaign>,
    pub scoring: ScoringRules,
    pub frequency: SiteFrequency,
    pub privacy: Privacy,
    /// The config had no rules this tracker reads (see [`parse`]): the debug overlay says so.
    #[cfg(feature = "debug")]
    pub unreadable: bool,
}

/// A device class by its config (and bootstrap) name.
pub fn device(s: &str) -> DeviceClass {
    match s {
        "mobile" => DeviceClass::Mobile,
        "tablet" => DeviceClass::Tablet,
        _ => DeviceClass::Desktop,
    }
}

/// The campaigns, scoring, frequency and privacy rules of a site config, from its packed
/// `rules` (see `funnel::packed`). A config without rules that read (not Lodestone's: a
/// proxy's error page, an SPA's index.html; or a server whose rules are of another format than
/// this tracker's, or cached from before it had them) has no campaigns and fails closed:
/// nothing is stored until the page grants consent.
pub fn parse(config: &Value) -> Site {
    let rules = get_str(config, "rules").and_then(|r| funnel::packed::decode_rules(&r));
    #[cfg(feature = "debug")]
    let unreadable = rules.is_none();
    let (campaigns, scoring, frequency, privacy) = match rules {
        Some(r) => (r.campaigns, r.scoring, r.frequency, r.privacy),
        None => (
            Vec::new(),
            ScoringRules::default(),
            SiteFrequency::default(),
            Privacy { honor_gpc: true, consent_mode: true },
        ),
    };
    Site {
        campaigns,
        scoring,
        frequency,
        privacy,
        #[cfg(feature = "debug")]
        unreadable,
    }
}
