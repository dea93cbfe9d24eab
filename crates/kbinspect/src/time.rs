//! Calendar timestamps (cabinet DOS times, file mtimes, FILETIMEs, ASN.1
//! times) and their conversions, all in UTC. The calendar arithmetic is
//! jiff's; this module only maps our formats onto it.

use jiff::civil;
use jiff::tz::Offset;
use serde::Serialize;

/// A calendar timestamp as stored (DOS date/time for cabinets, mtime for
/// files), without a zone; kbinspect reads it as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const SECS_1601_TO_1970: i64 = 11_644_473_600;

impl Timestamp {
    /// Unix seconds (UTC) as a calendar timestamp; `None` outside the years
    /// 0–9999 (jiff's range, wider than any format kbinspect reads).
    pub fn from_unix(secs: i64) -> Option<Timestamp> {
        let dt = Offset::UTC.to_datetime(jiff::Timestamp::from_second(secs).ok()?);
        Some(Timestamp {
            year: u16::try_from(dt.year()).ok()?,
            month: dt.month() as u8,
            day: dt.day() as u8,
            hour: dt.hour() as u8,
            minute: dt.minute() as u8,
            second: dt.second() as u8,
        })
    }

    /// A FILETIME (100 ns ticks since 1601-01-01, UTC).
    pub fn from_filetime(ft: u64) -> Option<Timestamp> {
        let secs = i64::try_from(ft / 10_000_000).ok()? - SECS_1601_TO_1970;
        Self::from_unix(secs)
    }

    /// A DOS date and time (cabinet members); `None` when a field is out of
    /// range (month 13, day 0, hour 24, …). A day past the month's end
    /// (30 February) is kept as stored: it is what the cabinet says, and
    /// [`Timestamp::to_unix`] gives `None` for it.
    pub fn from_dos(date: u16, time: u16) -> Option<Timestamp> {
        let t = Timestamp {
            year: 1980 + (date >> 9),
            month: ((date >> 5) & 0xF) as u8,
            day: (date & 0x1F) as u8,
            hour: (time >> 11) as u8,
            minute: ((time >> 5) & 0x3F) as u8,
            second: ((time & 0x1F) * 2) as u8,
        };
        let fields_in_range = (1..=12).contains(&t.month)
            && t.day != 0
            && t.hour <= 23
            && t.minute <= 59
            && t.second <= 59;
        fields_in_range.then_some(t)
    }

    /// From calendar fields, checked (`None` for 2023-02-30).
    pub fn new(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Option<Self> {
        let t = Timestamp {
            year: u16::try_from(year).ok()?,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
            hour: u8::try_from(hour).ok()?,
            minute: u8::try_from(minute).ok()?,
            second: u8::try_from(second).ok()?,
        };
        t.civil()?;
        Some(t)
    }

    fn civil(&self) -> Option<civil::DateTime> {
        civil::DateTime::new(
            i16::try_from(self.year).ok()?,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            // A leap second (ASN.1 allows :60) is read as :59.
            self.second.min(59) as i8,
            0,
        )
        .ok()
    }

    /// Seconds since 1970-01-01 (UTC); `None` for an impossible date.
    pub fn to_unix(&self) -> Option<i64> {
        Some(Offset::UTC.to_timestamp(self.civil()?).ok()?.as_second())
    }

    /// As a [`std::time::SystemTime`] (for setting an extracted file's mtime).
    pub fn to_system_time(&self) -> Option<std::time::SystemTime> {
        let secs = u64::try_from(self.to_unix()?).ok()?;
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds, or the number itself when out of
/// range (certificate validity times are printed with it).
pub fn format_unix(secs: i64) -> String {
    match Timestamp::from_unix(secs) {
        Some(t) => format!("{t}Z"),
        None => format!("{secs} s since 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip() {
        for secs in [0i64, 951_782_400, 1_254_721_860, 4_102_444_799, -86_400] {
            let t = Timestamp::from_unix(secs).unwrap();
            assert_eq!(t.to_unix(), Some(secs), "{t}");
        }
        assert_eq!(
            Timestamp::from_unix(0).unwrap().to_string(),
            "1970-01-01T00:00:00"
        );
        assert_eq!(
            Timestamp::from_unix(951_782_400).unwrap().to_string(),
            "2000-02-29T00:00:00"
        );
        assert_eq!(
            Timestamp::from_unix(1_254_721_860).unwrap().to_string(),
            "2009-10-05T05:51:00"
        );
    }

    #[test]
    fn dos_fields_are_checked() {
        // 2009-10-05 05:51:00
        let date = (29 << 9) | (10 << 5) | 5;
        let time = (5 << 11) | (51 << 5);
        assert_eq!(
            Timestamp::from_dos(date, time).unwrap().to_string(),
            "2009-10-05T05:51:00"
        );
        let feb30 = Timestamp::from_dos((29 << 9) | (2 << 5) | 30, 0).unwrap();
        assert_eq!(feb30.to_string(), "2009-02-30T00:00:00");
        assert_eq!(feb30.to_unix(), None);
        assert!(
            Timestamp::from_dos((29 << 9) | (13 << 5) | 1, 0).is_none(),
            "month 13"
        );
        assert!(Timestamp::from_dos(date, 24 << 11).is_none(), "hour 24");
    }

    #[test]
    fn filetime() {
        // 2009-07-14T01:14:32 is the classic Windows 7 RTM FILETIME.
        let ft = (1_247_534_072 + SECS_1601_TO_1970) as u64 * 10_000_000;
        assert_eq!(
            Timestamp::from_filetime(ft).unwrap().to_string(),
            "2009-07-14T01:14:32"
        );
        assert!(Timestamp::from_filetime(u64::MAX).is_none());
    }

    #[test]
    fn formats_out_of_range_numbers_plainly() {
        assert_eq!(format_unix(1_588_394_756), "2020-05-02T04:45:56Z");
        assert_eq!(format_unix(i64::MAX), format!("{} s since 1970", i64::MAX));
    }
}
