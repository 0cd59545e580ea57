//! Local times in a location's time zone, for snooze presets ("tomorrow 9:00"): the zone's UTC
//! offset at an instant, read from the host's time-zone database (`/usr/share/zoneinfo`, the
//! TZif files every Linux distribution and container image with `tzdata` ships).
//!
//! No time-zone crate is among the dependencies; a TZif file is a short binary table of
//! transitions, read here in a few lines. A zone the host does not know, or a malformed file,
//! counts as UTC, and the dashboard says which zone it used.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// Where the host keeps its TZif files.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// A time zone: its transitions (UTC seconds) and the offset (seconds east of UTC) from each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The IANA name, or `UTC` when the named zone could not be read.
    pub name: String,
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition.
    initial: i32,
}

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Self { name: "UTC".to_owned(), transitions: Vec::new(), initial: 0 }
    }

    /// The zone named `name` (`Europe/Lisbon`), or UTC when the host does not know it.
    pub fn named(name: &str) -> Self {
        let safe = !name.is_empty()
            && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        if !safe {
            return Self::utc();
        }
        std::fs::read(format!("{ZONEINFO}/{name}"))
            .ok()
            .and_then(|bytes| parse_tzif(&bytes))
            .map(|(transitions, initial)| Self { name: name.to_owned(), transitions, initial })
            .unwrap_or_else(Self::utc)
    }

    /// The offset from UTC, in seconds, at `at` (UTC seconds).
    pub fn offset_at(&self, at: i64) -> i32 {
        match self.transitions.partition_point(|(when, _)| *when <= at) {
            0 => self.initial,
            i => self.transitions[i - 1].1,
        }
    }

    /// The instant (unix ms) of wall-clock time `local` here. A time skipped by a clock change
    /// lands just after it; a repeated one takes its first occurrence.
    pub fn instant(&self, local: NaiveDateTime) -> i64 {
        let wall = local.and_utc().timestamp();
        let guess = wall - i64::from(self.offset_at(wall));
        let at = wall - i64::from(self.offset_at(guess));
        at * 1000
    }

    /// The wall-clock time here at `at_ms` (unix ms).
    pub fn local(&self, at_ms: i64) -> NaiveDateTime {
        let seconds = at_ms.div_euclid(1000);
        let shifted = seconds + i64::from(self.offset_at(seconds));
        chrono::DateTime::from_timestamp(shifted, 0).map(|t| t.naive_utc()).unwrap_or_default()
    }
}

/// A snooze preset: until when it puts a conversation aside. Its form value (`1h`, `tomorrow`,
/// `next-week`) is its strum name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum SnoozePreset {
    /// One hour from now.
    #[strum(serialize = "1h")]
    OneHour,
    /// 9:00 tomorrow, the location's time.
    Tomorrow,
    /// 9:00 next Monday, the location's time.
    NextWeek,
}

/// The hour presets wake conversations at.
const MORNING: u32 = 9;

impl SnoozePreset {
    /// Every preset, in the order the dashboard offers them.
    pub const ALL: [SnoozePreset; 3] = [SnoozePreset::OneHour, SnoozePreset::Tomorrow, SnoozePreset::NextWeek];

    /// The form value.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The button's words.
    pub fn label(self) -> &'static str {
        match self {
            SnoozePreset::OneHour => "1 hour",
            SnoozePreset::Tomorrow => "Tomorrow 9:00",
            SnoozePreset::NextWeek => "Next week (Monday 9:00)",
        }
    }

    /// When the conversation comes back (unix ms), from `now` (unix ms) in `zone`.
    pub fn until(self, zone: &Zone, now: i64) -> i64 {
        let today = zone.local(now).date();
        let morning = |day: NaiveDate| zone.instant(day.and_time(NaiveTime::MIN) + Duration::hours(MORNING.into()));
        match self {
            SnoozePreset::OneHour => now + 3_600_000,
            SnoozePreset::Tomorrow => morning(today + Duration::days(1)),
            SnoozePreset::NextWeek => {
                let ahead = 7 - i64::from(today.weekday().num_days_from_monday());
                let monday = today + Duration::days(ahead);
                debug_assert_eq!(monday.weekday(), Weekday::Mon);
                morning(monday)
            }
        }
    }
}

/// Reads a TZif file (RFC 8536): the 64-bit table of version 2 and later, else the 32-bit one.
/// Returns the transitions with the offset in force after each, and the offset before them.
fn parse_tzif(bytes: &[u8]) -> Option<(Vec<(i64, i32)>, i32)> {
    let header = Header::read(bytes)?;
    let (header, body, time_size) = if header.version >= b'2' {
        let second = bytes.get(header.v1_len(4)..)?;
        (Header::read(second)?, second.get(44..)?, 8)
    } else {
        (header, bytes.get(44..)?, 4)
    };
    let times = body.get(..header.timecnt * time_size)?;
    let indices = body.get(header.timecnt * time_size..header.timecnt * (time_size + 1))?;
    let types_at = header.timecnt * (time_size + 1);
    let types = body.get(types_at..types_at + header.typecnt * 6)?;
    let offset_of = |index: usize| -> Option<i32> {
        let entry = types.get(index * 6..index * 6 + 4)?;
        Some(i32::from_be_bytes(entry.try_into().ok()?))
    };
    let mut transitions = Vec::with_capacity(header.timecnt);
    for (i, index) in indices.iter().enumerate() {
        let raw = &times[i * time_size..(i + 1) * time_size];
        let when = if time_size == 8 {
            i64::from_be_bytes(raw.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(raw.try_into().ok()?))
        };
        transitions.push((when, offset_of(usize::from(*index))?));
    }
    Some((transitions, offset_of(0)?))
}

/// The counts at the start of a TZif block.
struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Option<Header> {
        if bytes.get(..4)? != b"TZif" {
            return None;
        }
        let count = |i: usize| -> Option<usize> {
            let raw: [u8; 4] = bytes.get(20 + i * 4..24 + i * 4)?.try_into().ok()?;
            usize::try_from(u32::from_be_bytes(raw)).ok()
        };
        Some(Header {
            version: *bytes.get(4)?,
            isutcnt: count(0)?,
            isstdcnt: count(1)?,
            leapcnt: count(2)?,
            timecnt: count(3)?,
            typecnt: count(4)?,
            charcnt: count(5)?,
        })
    }

    /// The length of this block, header included, with times of `time_size` bytes.
    fn v1_len(&self, time_size: usize) -> usize {
        44 + self.timecnt * (time_size + 1)
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a time")
    }

    fn utc_ms(text: &str) -> i64 {
        at(text).and_utc().timestamp_millis()
    }

    #[test]
    fn offsets_follow_the_zones_summer_time() {
        if !std::path::Path::new(ZONEINFO).join("Europe/Lisbon").exists() {
            eprintln!("skipped: no time-zone database at {ZONEINFO}");
            return;
        }
        let lisbon = Zone::named("Europe/Lisbon");
        assert_eq!(lisbon.name, "Europe/Lisbon");
        assert_eq!(lisbon.offset_at(utc_ms("2026-01-15 12:00") / 1000), 0);
        assert_eq!(lisbon.offset_at(utc_ms("2026-07-15 12:00") / 1000), 3600);
        let new_york = Zone::named("America/New_York");
        assert_eq!(new_york.instant(at("2026-12-05 09:00")), utc_ms("2026-12-05 14:00"));
        assert_eq!(new_york.instant(at("2026-07-05 09:00")), utc_ms("2026-07-05 13:00"));
        assert_eq!(new_york.local(utc_ms("2026-07-05 13:00")), at("2026-07-05 09:00"));
        let tokyo = Zone::named("Asia/Tokyo");
        assert_eq!(tokyo.instant(at("2026-12-05 09:00")), utc_ms("2026-12-05 00:00"));
    }

    #[test]
    fn unknown_or_unsafe_names_are_utc() {
        assert_eq!(Zone::named("Mars/Olympus_Mons"), Zone::utc());
        assert_eq!(Zone::named("../../etc/passwd"), Zone::utc());
        assert_eq!(Zone::named(""), Zone::utc());
        assert_eq!(Zone::utc().instant(at("2026-12-05 09:00")), utc_ms("2026-12-05 09:00"));
    }

    #[test]
    fn presets_wake_in_the_locations_morning() {
        let utc = Zone::utc();
        // Friday 4 December 2026, 17:30 UTC.
        let now = utc_ms("2026-12-04 17:30");
        assert_eq!(SnoozePreset::OneHour.until(&utc, now), utc_ms("2026-12-04 18:30"));
        assert_eq!(SnoozePreset::Tomorrow.until(&utc, now), utc_ms("2026-12-05 09:00"));
        assert_eq!(SnoozePreset::NextWeek.until(&utc, now), utc_ms("2026-12-07 09:00"));
        // In Tokyo it is already Saturday 02:30: tomorrow is Sunday there.
        if std::path::Path::new(ZONEINFO).join("Asia/Tokyo").exists() {
            let tokyo = Zone::named("Asia/Tokyo");
            assert_eq!(SnoozePreset::Tomorrow.until(&tokyo, now), utc_ms("2026-12-06 00:00"));
            assert_eq!(SnoozePreset::NextWeek.until(&tokyo, now), utc_ms("2026-12-07 00:00"));
        }
        assert_eq!("next-week".parse::<SnoozePreset>().ok(), Some(SnoozePreset::NextWeek));
        assert_eq!(SnoozePreset::OneHour.as_str(), "1h");
        assert!("someday".parse::<SnoozePreset>().is_err());
    }
}
