//! When an access flow takes requests: days of the week and a time of day
//! in a time zone (the seed's `timeframe`). Outside it a request is refused
//! with the next window. Pure: `now` is a parameter.

use crate::time::Timestamp;
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeframe {
    /// The days a window starts on; all seven when the flow names none.
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    /// Before `start`: the window runs past midnight into the next day.
    /// Equal to `start`: the whole day.
    pub end: NaiveTime,
    pub time_zone: Tz,
}

/// A window of a timeframe, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens: Timestamp,
    pub closes: Timestamp,
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("MONDAY", Weekday::Mon),
    ("TUESDAY", Weekday::Tue),
    ("WEDNESDAY", Weekday::Wed),
    ("THURSDAY", Weekday::Thu),
    ("FRIDAY", Weekday::Fri),
    ("SATURDAY", Weekday::Sat),
    ("SUNDAY", Weekday::Sun),
];

impl Timeframe {
    /// From the seed's spelling: day names (`MONDAY`, any case), times
    /// `HH:MM` or `HH:MM:SS`, an IANA time zone (`Europe/London`). The error
    /// says what to write.
    pub fn parse(days: &[String], start: &str, end: &str, time_zone: &str) -> Result<Timeframe, String> {
        let days = days
            .iter()
            .map(|d| {
                DAY_NAMES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(d.trim()))
                    .map(|(_, w)| *w)
                    .ok_or_else(|| format!("`{d}` is not a day of the week: write MONDAY .. SUNDAY"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time = |t: &str, what: &str| {
            NaiveTime::parse_from_str(t, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .map_err(|_| format!("`{what}` `{t}` is not a time of day: write HH:MM or HH:MM:SS, e.g. 09:00"))
        };
        let time_zone: Tz = time_zone.parse().map_err(|_| format!("`{time_zone}` is not a time zone: write an IANA name such as `UTC` or `Europe/London`"))?;
        Ok(Timeframe { days, start: time(start, "start_time")?, end: time(end, "end_time")?, time_zone })
    }

    fn starts_on(&self, d: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&d)
    }

    /// The local moment as UTC; a moment skipped by a clock change is read
    /// an hour later.
    fn at(&self, date: NaiveDate, t: NaiveTime) -> Timestamp {
        let naive = date.and_time(t);
        let local = self.time_zone.from_local_datetime(&naive).earliest().or_else(|| self.time_zone.from_local_datetime(&(naive + Days::hours(1))).earliest());
        Timestamp(local.map_or(i64::MAX, |l| l.with_timezone(&Utc).timestamp_millis()))
    }

    fn window_on(&self, date: NaiveDate) -> Window {
        let end_date = if self.end <= self.start { date + Days::days(1) } else { date };
        Window { opens: self.at(date, self.start), closes: self.at(end_date, self.end) }
    }

    /// The window open at `now`, or the next one (none only for a
    /// timeframe without days, which `parse` never makes).
    pub fn window(&self, now: Timestamp) -> Option<Window> {
        let today = DateTime::from_timestamp_millis(now.0)?.with_timezone(&self.time_zone).date_naive();
        (-1..=8)
            .map(|i| today + Days::days(i))
            .filter(|d| self.starts_on(d.weekday()))
            .map(|d| self.window_on(d))
            .find(|w| w.closes > now)
    }

    /// Whether requests are taken at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.window(now).is_some_and(|w| w.opens <= now)
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = if self.days.is_empty() {
            vec!["every day"]
        } else {
            DAY_NAMES.iter().filter(|(_, w)| self.days.contains(w)).map(|(n, _)| *n).collect()
        };
        write!(f, "{} {}-{} {}", days.join(","), self.start.format("%H:%M"), self.end.format("%H:%M"), self.time_zone.name())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(rfc3339: &str) -> Timestamp {
        Timestamp(DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis())
    }

    fn tf(days: &[&str], start: &str, end: &str, tz: &str) -> Timeframe {
        Timeframe::parse(&days.iter().map(|d| d.to_string()).collect::<Vec<_>>(), start, end, tz).unwrap()
    }

    #[test]
    fn office_hours_in_a_time_zone() {
        let t = tf(&["monday", "TUESDAY", "Wednesday", "THURSDAY", "FRIDAY"], "09:00", "17:00:00", "Europe/London");
        // Monday 2026-11-30, London is on UTC in winter.
        assert!(t.is_open(ts("2026-11-30T09:00:00Z")));
        assert!(!t.is_open(ts("2026-11-30T17:00:00Z")), "the end is excluded");
        assert!(!t.is_open(ts("2026-11-30T08:59:59Z")));
        // Friday evening: the next window is Monday 09:00.
        let w = t.window(ts("2026-12-04T18:00:00Z")).unwrap();
        assert_eq!((w.opens, w.closes), (ts("2026-12-07T09:00:00Z"), ts("2026-12-07T17:00:00Z")));
        // In summer London is UTC+1.
        assert!(t.is_open(ts("2026-07-01T08:30:00Z")));
        assert!(!t.is_open(ts("2026-07-01T16:30:00Z")));
        assert_eq!(t.to_string(), "MONDAY,TUESDAY,WEDNESDAY,THURSDAY,FRIDAY 09:00-17:00 Europe/London");
    }

    #[test]
    fn a_night_shift_runs_past_midnight_from_the_day_it_starts() {
        let t = tf(&["SUNDAY"], "22:00", "06:00", "UTC");
        assert!(t.is_open(ts("2026-11-29T23:00:00Z")), "Sunday night");
        assert!(t.is_open(ts("2026-11-30T05:59:00Z")), "Monday morning, still Sunday's shift");
        assert!(!t.is_open(ts("2026-11-30T22:30:00Z")), "Monday night is not a start day");
        let w = t.window(ts("2026-11-30T06:00:00Z")).unwrap();
        assert_eq!(w.opens, ts("2026-12-06T22:00:00Z"));
    }

    #[test]
    fn the_whole_day_and_every_day() {
        let t = tf(&[], "00:00", "00:00", "America/New_York");
        assert!(t.is_open(ts("2026-11-30T04:59:00Z")) && t.is_open(ts("2026-11-30T05:00:00Z")));
    }

    #[test]
    fn a_time_skipped_by_the_clock_change_opens_an_hour_later() {
        // 2026-03-29 01:30 does not exist in London (clocks go 01:00 -> 02:00).
        let t = tf(&["SUNDAY"], "01:30", "03:00", "Europe/London");
        let w = t.window(ts("2026-03-29T00:00:00Z")).unwrap();
        assert_eq!(w.opens, ts("2026-03-29T01:30:00Z"), "02:30 BST");
    }

    #[test]
    fn bad_spellings_say_what_to_write() {
        let e = |d: &[&str], s: &str, en: &str, z: &str| Timeframe::parse(&d.iter().map(|x| x.to_string()).collect::<Vec<_>>(), s, en, z).unwrap_err();
        assert!(e(&["MON"], "09:00", "17:00", "UTC").contains("MONDAY .. SUNDAY"));
        assert!(e(&[], "9am", "17:00", "UTC").contains("`start_time` `9am`"));
        assert!(e(&[], "09:00", "25:00", "UTC").contains("`end_time`"));
        assert!(e(&[], "09:00", "17:00", "Mars/Olympus").contains("IANA"));
    }
}
