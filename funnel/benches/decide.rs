//! `cargo bench -p funnel`: deciding among 20 campaigns against a full visitor history, and
//! explaining every verdict (what a debug overlay needs). Budget: decide <= 50 microseconds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use funnel::Campaign;
use funnel::conditions::{Condition, Leaf, Now};
use funnel::engine::{Situation, decide, explain};
use funnel::frequency::{Frequency, Memory, Recent, SiteFrequency};
use funnel::targeting::{Audience, DeviceClass, Targeting};

/// Twenty campaigns with realistic rules; none qualifies, so every rule of every campaign runs.
fn campaigns() -> Vec<Campaign> {
    (0..20)
        .map(|i| Campaign {
            priority: i,
            targeting: Targeting {
                include: vec![format!("/section-{i}/*"), "/blog/*".into(), "*/pricing*".into()],
                exclude: vec!["/blog/drafts/*".into(), "*/checkout*".into()],
                referrer: Some("*.example.*".into()),
                devices: vec![DeviceClass::Desktop, DeviceClass::Tablet],
                sample_percent: Some(90),
                ..Targeting::default()
            },
            trigger: Condition::Any {
                any: vec![
                    Condition::All {
                        all: vec![
                            Condition::Leaf(Leaf::ScrollPercent(80)),
                            Condition::Leaf(Leaf::MinScore(40)),
                        ],
                    },
                    Condition::All {
                        all: vec![
                            Condition::Leaf(Leaf::ExitIntent(true)),
                            Condition::Leaf(Leaf::DelaySeconds(20)),
                        ],
                    },
                    Condition::Leaf(Leaf::Event(format!("event-{i}"))),
                    Condition::Leaf(Leaf::Click(format!("cta-{i}"))),
                ],
            },
            frequency: Frequency { max_per_session: Some(2), ..Frequency::default() },
            ..Campaign::new(&format!("campaign-{i}"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let campaigns = campaigns();
    let clicked: Vec<String> = (0..10).map(|i| format!("other-cta-{i}")).collect();
    let events: Vec<String> = (0..10).map(|i| format!("other-event-{i}")).collect();
    let situation = Situation {
        audience: Audience {
            path: "/blog/a-long-article-about-lead-magnets",
            referrer_host: Some("news.example.org"),
            utm_source: Some("newsletter"),
            utm_campaign: Some("launch"),
            device: DeviceClass::Desktop,
            visits: 4,
            converted_any: false,
            sample_roll: 42,
            now_ms: 1_800_000_000_000,
        },
        now: Now {
            seconds_on_page: 15,
            seconds_in_session: 600,
            scroll_percent: 60,
            exit_intent: false,
            inactive_seconds: 3,
            clicked: &clicked,
            events: &events,
            page_views: 12,
            visits: 4,
            score: 35,
        },
        recent: Recent { shown_this_page: false, last_popup_at: Some(1_799_000_000_000.0) },
        now_ms: 1_800_000_000_000.0,
    };
    let site = SiteFrequency { global_cooldown_seconds: 60 };
    let memory = |_: &str| Memory { shown_this_session: 1, ..Memory::default() };
    c.bench_function("decide among 20 campaigns", |b| {
        b.iter(|| decide(black_box(&campaigns), &site, memory, black_box(&situation)).map(|c| c.priority))
    });
    c.bench_function("explain 20 campaigns", |b| {
        b.iter(|| explain(black_box(&campaigns), &site, memory, black_box(&situation)).len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
