//! Dates and times as a page in each language writes them, for pages the
//! server renders whole (the admin page, the audit log, the security
//! page's passkeys): `Nov 26, 2026, 2:05 PM` or `Nov 26, 2026, 14:05` in
//! English, `2026年11月26日 14:05` or `2026年11月26日 下午2:05` in Chinese,
//! the clock as the settings say.
//!
//! Times stay in UTC: the server does not know the visitor's time zone, and
//! the pages say so in their column headings. Templates call this through
//! the `when` filter (`{{ e.at | when(prefs=prefs) }}`, see `assets`); the
//! `datetime` attribute beside it keeps the exact RFC 3339 time.

use time::OffsetDateTime;

use super::{Clock, Lang};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `at` (shown in UTC) as `lang` writes a date and a time on `clock`.
pub fn date_time(lang: Lang, clock: Clock, at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (year, day, hour, minute) = (at.year(), at.day(), at.hour(), at.minute());
    let month = u8::from(at.month());
    // 12-hour clocks: 0 → 12 AM, 12 → 12 PM.
    let twelve = if hour % 12 == 0 { 12 } else { hour % 12 };
    match (lang, clock) {
        (Lang::En, Clock::Twelve) => {
            let half = if hour < 12 { "AM" } else { "PM" };
            format!("{} {day}, {year}, {twelve}:{minute:02} {half}", MONTHS[usize::from(month - 1)])
        }
        (Lang::En, Clock::TwentyFour) => {
            format!("{} {day}, {year}, {hour:02}:{minute:02}", MONTHS[usize::from(month - 1)])
        }
        (Lang::Zh, Clock::Twelve) => {
            let half = if hour < 12 { "上午" } else { "下午" };
            format!("{year}年{month}月{day}日 {half}{twelve}:{minute:02}")
        }
        (Lang::Zh, Clock::TwentyFour) => format!("{year}年{month}月{day}日 {hour:02}:{minute:02}"),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn each_language_writes_the_date_its_way_on_either_clock() {
        let afternoon = datetime!(2026-11-26 14:05:09 UTC);
        assert_eq!(date_time(Lang::En, Clock::Twelve, afternoon), "Nov 26, 2026, 2:05 PM");
        assert_eq!(date_time(Lang::En, Clock::TwentyFour, afternoon), "Nov 26, 2026, 14:05");
        assert_eq!(date_time(Lang::Zh, Clock::TwentyFour, afternoon), "2026年11月26日 14:05");
        assert_eq!(date_time(Lang::Zh, Clock::Twelve, afternoon), "2026年11月26日 下午2:05");
    }

    #[test]
    fn midnight_and_noon_are_twelve_on_a_twelve_hour_clock_and_times_are_utc() {
        assert_eq!(date_time(Lang::En, Clock::Twelve, datetime!(2027-01-02 00:07 UTC)), "Jan 2, 2027, 12:07 AM");
        assert_eq!(date_time(Lang::En, Clock::Twelve, datetime!(2027-01-02 12:00 UTC)), "Jan 2, 2027, 12:00 PM");
        assert_eq!(date_time(Lang::Zh, Clock::Twelve, datetime!(2027-01-02 00:07 UTC)), "2027年1月2日 上午12:07");
        assert_eq!(date_time(Lang::En, Clock::TwentyFour, datetime!(2027-01-02 00:07 UTC)), "Jan 2, 2027, 00:07");
        let east = datetime!(2026-11-27 01:30 +8);
        assert_eq!(date_time(Lang::Zh, Clock::TwentyFour, east), "2026年11月26日 17:30");
    }
}
