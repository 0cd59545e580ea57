//! Business hours: when auto-replies may go out, read in the location's time zone.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Opening hours per weekday; a day that is not listed is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BusinessHours {
    /// One entry per open period (a day may have several, e.g. a lunch break).
    pub periods: Vec<Period>,
}

/// One open period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Period {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    pub day: String,
    /// `HH:MM`, 24-hour.
    pub open: String,
    /// `HH:MM`, after `open` (`24:00` for midnight).
    pub close: String,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// Minutes since midnight of `HH:MM` (`24:00` allowed).
fn minutes(value: &str) -> Option<u32> {
    if value == "24:00" {
        return Some(24 * 60);
    }
    let time = NaiveTime::parse_from_str(value, "%H:%M").ok()?;
    Some(chrono::Timelike::hour(&time) * 60 + chrono::Timelike::minute(&time))
}

impl BusinessHours {
    /// The first problem, as `(field, message)`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.periods.len() > 28 {
            return Err(("businessHours.periods", "at most 28 periods".into()));
        }
        for period in &self.periods {
            if !DAYS.iter().any(|(name, _)| *name == period.day) {
                return Err((
                    "businessHours.periods.day",
                    format!("`{}` is not mon, tue, wed, thu, fri, sat or sun", period.day),
                ));
            }
            match (minutes(&period.open), minutes(&period.close)) {
                (Some(open), Some(close)) if open < close => {}
                (Some(_), Some(_)) => {
                    return Err((
                        "businessHours.periods.close",
                        format!("{} must be after {}", period.close, period.open),
                    ));
                }
                _ => return Err(("businessHours.periods.open", "times are HH:MM, 24-hour".into())),
            }
        }
        Ok(())
    }

    /// Whether `at` falls in an open period, on the wall clock of `time_zone` (UTC when the name
    /// is unknown).
    pub fn is_open(&self, at: DateTime<Utc>, time_zone: &str) -> bool {
        let zone: Tz = time_zone.parse().unwrap_or(Tz::UTC);
        let local = at.with_timezone(&zone);
        let now = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
        let weekday = local.weekday();
        self.periods.iter().any(|p| {
            DAYS.iter().any(|(name, day)| *name == p.day && *day == weekday)
                && matches!((minutes(&p.open), minutes(&p.close)), (Some(open), Some(close)) if open <= now && now < close)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays_nine_to_six() -> BusinessHours {
        BusinessHours {
            periods: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|day| Period { day: (*day).into(), open: "09:00".into(), close: "18:00".into() })
                .collect(),
        }
    }

    fn utc(value: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(value).map(|t| t.to_utc()).expect("a time")
    }

    #[test]
    fn hours_are_read_on_the_locations_wall_clock() {
        let hours = weekdays_nine_to_six();
        // Friday 2026-12-04 08:30 UTC is 09:30 in Madrid (open) and 03:30 in New York (closed).
        assert!(hours.is_open(utc("2026-12-04T08:30:00Z"), "Europe/Madrid"));
        assert!(!hours.is_open(utc("2026-12-04T08:30:00Z"), "America/New_York"));
        assert!(!hours.is_open(utc("2026-12-04T08:30:00Z"), "UTC"));
        // Saturday is closed everywhere.
        assert!(!hours.is_open(utc("2026-12-05T12:00:00Z"), "Europe/Madrid"));
        // 18:00 is closing time.
        assert!(!hours.is_open(utc("2026-12-04T17:00:00Z"), "Europe/Madrid"));
        assert!(hours.is_open(utc("2026-12-04T16:59:00Z"), "Europe/Madrid"));
    }

    #[test]
    fn bad_hours_name_the_field() {
        let mut hours = weekdays_nine_to_six();
        assert!(hours.validate().is_ok());
        hours.periods[0].day = "monday".into();
        assert_eq!(hours.validate().map_err(|e| e.0), Err("businessHours.periods.day"));
        hours.periods[0] = Period { day: "mon".into(), open: "18:00".into(), close: "09:00".into() };
        assert_eq!(hours.validate().map_err(|e| e.0), Err("businessHours.periods.close"));
        hours.periods[0].open = "9am".into();
        assert_eq!(hours.validate().map_err(|e| e.0), Err("businessHours.periods.open"));
    }
}
