//! Which campaign shows, and when: frequency (cooldown after close, never after conversion),
//! triggers (delay, scroll, page views, score), and priority between eligible campaigns.
//! Pure: the tracker runs it in the browser, tests run it natively.

use crate::config::{Campaign, Trigger};

const DAY_MS: f64 = 86_400_000.0;

/// What the visitor's browser remembers about one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CampaignMemory {
    /// When the visitor last closed it (ms since the epoch).
    pub closed_at: Option<f64>,
    /// When the visitor converted on it.
    pub converted_at: Option<f64>,
}

/// The signals triggers are evaluated against, on the current page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moment {
    pub seconds_on_page: u32,
    pub scroll_percent: u8,
    pub page_views: u32,
    pub score: i32,
}

/// Whether frequency rules let `campaign` show now: never again after a conversion, and not
/// within `cooldown_days` of being closed.
pub fn frequency_allows(campaign: &Campaign, memory: CampaignMemory, now_ms: f64) -> bool {
    if memory.converted_at.is_some() {
        return false;
    }
    match memory.closed_at {
        Some(closed) => now_ms - closed >= f64::from(campaign.cooldown_days) * DAY_MS,
        None => true,
    }
}

/// Whether every condition `trigger` sets holds at `moment`.
pub fn trigger_met(trigger: &Trigger, moment: Moment) -> bool {
    trigger.delay_seconds.is_none_or(|d| moment.seconds_on_page >= d)
        && trigger.scroll_percent.is_none_or(|p| moment.scroll_percent >= p)
        && trigger.min_page_views.is_none_or(|n| moment.page_views >= n)
        && trigger.min_score.is_none_or(|s| moment.score >= s)
}

/// The campaign to show now, if any: among those `memory` allows and whose trigger is met, the
/// highest priority (first declared on a tie).
pub fn choose<'a>(
    campaigns: impl IntoIterator<Item = &'a Campaign>,
    memory: impl Fn(&str) -> CampaignMemory,
    moment: Moment,
    now_ms: f64,
) -> Option<&'a Campaign> {
    campaigns
        .into_iter()
        .filter(|c| frequency_allows(c, memory(&c.id), now_ms) && trigger_met(&c.trigger, moment))
        .fold(None, |best: Option<&Campaign>, c| match best {
            Some(b) if b.priority >= c.priority => Some(b),
            _ => Some(c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConsentSpec, Display, Success};

    fn campaign(id: &str, priority: i32, trigger: Trigger) -> Campaign {
        Campaign {
            id: id.into(),
            display: Display::Modal,
            priority,
            headline: "h".into(),
            body: String::new(),
            button_label: "b".into(),
            ask_name: false,
            consent: ConsentSpec::default(),
            success: Success::default(),
            trigger,
            cooldown_days: 7,
        }
    }

    const NOW: f64 = 1_800_000_000_000.0;

    #[test]
    fn frequency_rules_table() {
        let c = campaign("a", 0, Trigger::default());
        let cases = [
            (CampaignMemory::default(), true),
            (CampaignMemory { converted_at: Some(NOW - 400.0 * DAY_MS), closed_at: None }, false),
            (CampaignMemory { closed_at: Some(NOW - 6.9 * DAY_MS), converted_at: None }, false),
            (CampaignMemory { closed_at: Some(NOW - 7.0 * DAY_MS), converted_at: None }, true),
        ];
        for (memory, expected) in cases {
            assert_eq!(frequency_allows(&c, memory, NOW), expected, "{memory:?}");
        }
    }

    #[test]
    fn trigger_table() {
        let m = Moment { seconds_on_page: 5, scroll_percent: 40, page_views: 2, score: 30 };
        let cases = [
            (Trigger::default(), true),
            (Trigger { delay_seconds: Some(5), ..Trigger::default() }, true),
            (Trigger { delay_seconds: Some(6), ..Trigger::default() }, false),
            (Trigger { scroll_percent: Some(40), ..Trigger::default() }, true),
            (Trigger { scroll_percent: Some(41), ..Trigger::default() }, false),
            (Trigger { min_page_views: Some(3), ..Trigger::default() }, false),
            (Trigger { min_score: Some(30), ..Trigger::default() }, true),
            (Trigger { min_score: Some(31), ..Trigger::default() }, false),
            (Trigger { delay_seconds: Some(1), scroll_percent: Some(90), ..Trigger::default() }, false),
        ];
        for (t, expected) in cases {
            assert_eq!(trigger_met(&t, m), expected, "{t:?}");
        }
    }

    #[test]
    fn the_highest_priority_eligible_campaign_wins() {
        let campaigns = [
            campaign("low", 1, Trigger::default()),
            campaign("high", 5, Trigger::default()),
            campaign("later", 9, Trigger { delay_seconds: Some(60), ..Trigger::default() }),
            campaign("high-too", 5, Trigger::default()),
        ];
        let none = |_: &str| CampaignMemory::default();
        assert_eq!(choose(&campaigns, none, Moment::default(), NOW).unwrap().id, "high");
        let high_converted =
            |id: &str| CampaignMemory { converted_at: (id == "high").then_some(NOW), closed_at: None };
        assert_eq!(choose(&campaigns, high_converted, Moment::default(), NOW).unwrap().id, "high-too");
        let late = Moment { seconds_on_page: 60, ..Moment::default() };
        assert_eq!(choose(&campaigns, none, late, NOW).unwrap().id, "later");
    }
}
