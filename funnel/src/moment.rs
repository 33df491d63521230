//! Moments of a campaign's date window as `lodestone.toml` may write them: milliseconds since
//! the Unix epoch, or a date and time (`2026-11-01T09:00:00+01:00`, `2026-11-01T08:00:00Z`, or
//! a date alone, `2026-11-01`, for its midnight UTC), as a TOML datetime or a string. The
//! widget receives milliseconds. Pure.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

use serde::Deserializer;
use serde::de::{self, MapAccess, Visitor};

const DAY_MS: i64 = 86_400_000;

/// Days from 1970-01-01 to the civil date `y-m-d` (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// The number `digits` stands for, when it is all ASCII digits (and not empty).
fn number(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `2026-11-01` (midnight UTC), or a date, `T` (or a space), `HH:MM[:SS[.fraction]]` and a
/// zone, `Z` or `±HH:MM`, as milliseconds since the epoch. A time without a zone is refused:
/// which zone it is in is not known.
pub fn parse(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (number(y)?, number(m)?, number(d)?);
    let month_days = [31, if is_leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > *month_days.get(usize::try_from(m - 1).ok()?)? {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * DAY_MS;
    let Some(time) = time else { return Some(day_ms) };
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let (sign, zone) = zone.split_at(1);
        let (h, min) = zone.split_once(':')?;
        if h.len() != 2 || min.len() != 2 {
            return None;
        }
        let (h, min) = (number(h)?, number(min)?);
        if h > 23 || min > 59 {
            return None;
        }
        let ms = (h * 60 + min) * 60_000;
        (clock, if sign == "-" { -ms } else { ms })
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    let mut fields = hms.split(':');
    let (h, min, s) = (fields.next()?, fields.next()?, fields.next());
    if fields.next().is_some() || h.len() != 2 || min.len() != 2 || s.is_some_and(|s| s.len() != 2) {
        return None;
    }
    let (h, min, s) = (number(h)?, number(min)?, s.map_or(Some(0), number)?);
    if h > 23 || min > 59 || s > 60 || (fraction.is_some() && hms.len() != 8) {
        return None;
    }
    let ms = match fraction {
        Some(f) => {
            number(f)?;
            // Milliseconds: the first three digits, padded.
            let mut digits = f.bytes().chain(core::iter::repeat(b'0')).take(3);
            digits.try_fold(0i64, |acc, b| Some(acc * 10 + i64::from(b - b'0')))?
        }
        None => 0,
    };
    Some(day_ms + ((h * 60 + min) * 60 + s.min(59)) * 1000 + ms - offset_ms)
}

const EXPECTED: &str = "milliseconds since the epoch, or a date and time with its zone (2026-11-01T09:00:00+01:00, 2026-11-01T08:00:00Z) or a date (2026-11-01, midnight UTC)";

struct MomentVisitor;

impl<'de> Visitor<'de> for MomentVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v).map(Some).map_err(|_| E::custom(EXPECTED))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse(v).map(Some).ok_or_else(|| E::custom(format!("`{v}` is not {EXPECTED}")))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    /// A TOML datetime reaches serde as a one-entry map holding its text.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some((_, text)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom(EXPECTED));
        };
        self.visit_str(&text)
    }
}

/// `#[serde(deserialize_with = ...)]` for an optional moment.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(MomentVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_become_milliseconds_since_the_epoch() {
        for (text, ms) in [
            ("1970-01-01", Some(0)),
            ("2026-11-01", Some(1_793_491_200_000)),
            ("2027-01-01T00:00:00Z", Some(1_798_761_600_000)),
            ("2027-01-15T08:00:00Z", Some(1_800_000_000_000)),
            ("2027-01-15 09:00:00+01:00", Some(1_800_000_000_000)),
            ("2027-01-15T03:30-04:30", Some(1_800_000_000_000)),
            ("2027-01-15t08:00:00.250z", Some(1_800_000_000_250)),
            ("2027-01-15T08:00:00.2Z", Some(1_800_000_000_200)),
            ("2027-01-15T08:00:00.123456789Z", Some(1_800_000_000_123)),
            ("2028-02-29", Some(1_835_395_200_000)),
            ("2027-02-29", None),
            ("2026-13-01", None),
            ("2026-11-31", None),
            ("2026-11-1", None),
            ("26-11-01", None),
            ("2027-01-15T08:00:00", None),
            ("2027-01-15T24:00:00Z", None),
            ("2027-01-15T08:00:00+25:00", None),
            ("2027-01-15T08:00:00.Z", None),
            ("2027-01-15T08:00.5Z", None),
            ("2027-01-15T8:00:00Z", None),
            ("tomorrow", None),
            ("", None),
        ] {
            assert_eq!(parse(text), ms, "{text}");
        }
    }

    #[test]
    fn the_civil_calendar_round_trips_through_the_utc_text() {
        let mut ms = -DAY_MS * 800;
        while ms < DAY_MS * 200_000 {
            let text = crate::rule_text::utc(ms);
            let iso = text.replacen(' ', "T", 1).replace(" UTC", "Z");
            assert_eq!(parse(&iso), Some(ms), "{iso}");
            ms += DAY_MS * 37 + 3_723_000;
        }
    }
}
