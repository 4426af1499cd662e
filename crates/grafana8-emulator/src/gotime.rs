//! Go `time.Time` as the Alertmanager API reads and writes it: go-openapi/strfmt v0.20.2
//! `ParseDateTime` (its `DateTimeFormats`, tried in order with Go 1.17's `time.Parse`) and
//! `DateTime.String()` (`RFC3339Millis`, `2006-01-02T15:04:05.000Z07:00`).
//!
//! A time keeps the UTC offset it was parsed with, as a Go `time.Time` keeps its location, so
//! that an answer writes it back in the same offset.

use crate::util::{civil_from_days, days_from_civil, is_leap};
use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant with the UTC offset it is shown in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GoTime {
    /// Seconds since the Unix epoch.
    secs: i64,
    /// Nanoseconds within the second.
    nanos: u32,
    /// Seconds east of UTC.
    offset: i32,
}

impl PartialEq for GoTime {
    /// `time.Time.Equal`: the same instant, whatever the offset.
    fn eq(&self, other: &GoTime) -> bool {
        (self.secs, self.nanos) == (other.secs, other.nanos)
    }
}

impl Eq for GoTime {}

impl PartialOrd for GoTime {
    fn partial_cmp(&self, other: &GoTime) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GoTime {
    /// `Before`/`After`: by instant.
    fn cmp(&self, other: &GoTime) -> Ordering {
        (self.secs, self.nanos).cmp(&(other.secs, other.nanos))
    }
}

impl GoTime {
    /// `time.Now().UTC()`.
    pub(crate) fn now() -> GoTime {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        GoTime { secs: d.as_secs() as i64, nanos: d.subsec_nanos(), offset: 0 }
    }

    /// This instant plus `secs` seconds, in the same offset.
    pub(crate) fn add_secs(self, secs: i64) -> GoTime {
        GoTime { secs: self.secs.saturating_add(secs), ..self }
    }

    /// strfmt `DateTime.String()`: `RFC3339Millis` (milliseconds truncated, `Z` for a zero
    /// offset).
    pub(crate) fn to_millis_string(self) -> String {
        let local = self.secs + i64::from(self.offset);
        let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60,
            self.nanos / 1_000_000
        );
        if self.offset == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let o = self.offset.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", o / 3600, (o % 3600) / 60));
        }
        out
    }

    /// strfmt v0.20.2 `ParseDateTime`: the empty string is the Unix epoch; otherwise the first
    /// of `DateTimeFormats` that parses (`RFC3339Micro`, `RFC3339MicroNoColon`,
    /// `RFC3339Millis`, `RFC3339MillisNoColon`, `time.RFC3339`, `time.RFC3339Nano`,
    /// `ISO8601LocalTime`, `ISO8601TimeWithReducedPrecision`,
    /// `ISO8601TimeWithReducedPrecisionLocaltime`, `ISO8601TimeUniversalSortableDateTimePattern`).
    /// Together they accept `YYYY-MM-DD`, then `T` and `hh:mm[:ss[.fraction]]` with a `Z`,
    /// `±hh:mm` or no zone (no zone is UTC; without seconds only `Z` or nothing), `±hhmm`
    /// after exactly 3 or 6 fraction digits, or a space and `hh:mm:ss[.fraction]` without a
    /// zone.
    pub(crate) fn parse_strfmt(s: &str) -> Option<GoTime> {
        if s.is_empty() {
            return Some(GoTime { secs: 0, nanos: 0, offset: 0 });
        }
        let b = s.as_bytes();
        let mut p = Cursor { b, i: 0 };
        let year = p.digits(4, 4)?;
        p.lit(b'-')?;
        let month = p.digits(2, 2)?;
        p.lit(b'-')?;
        let day = p.digits(2, 2)?;
        let space = match p.next()? {
            b'T' => false,
            b' ' => true,
            _ => return None,
        };
        // Go's `15` takes one or two digits; `04` and `05` exactly two.
        let hour = p.digits(1, 2)?;
        p.lit(b':')?;
        let minute = p.digits(2, 2)?;
        let (mut second, mut nanos, mut frac_digits, mut offset) = (0, 0, None, 0);
        if p.peek() == Some(b':') {
            p.i += 1;
            second = p.digits(2, 2)?;
            // Go 1.17 accepts `.` or `,` before a fraction, even where the layout has none.
            if matches!(p.peek(), Some(b'.' | b',')) && p.b.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
                let start = p.i;
                while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                    p.i += 1;
                }
                let digits = &s[start..p.i];
                frac_digits = Some(digits.len());
                let nine: String = digits.chars().chain(std::iter::repeat('0')).take(9).collect();
                nanos = nine.parse().ok()?;
            }
            match p.peek() {
                None => {}
                Some(_) if space => return None,
                Some(b'Z') => {
                    p.i += 1;
                }
                Some(sign @ (b'+' | b'-')) => {
                    p.i += 1;
                    let h = p.digits(2, 2)?;
                    let colon = p.peek() == Some(b':');
                    if colon {
                        p.i += 1;
                    } else if !matches!(frac_digits, Some(3 | 6)) {
                        // `Z0700` appears only in the NoColon layouts, after `.000`/`.000000`.
                        return None;
                    }
                    let m = p.digits(2, 2)?;
                    offset = (h * 3600 + m * 60) as i32;
                    if sign == b'-' {
                        offset = -offset;
                    }
                }
                Some(_) => return None,
            }
        } else {
            if space {
                return None;
            }
            if p.peek() == Some(b'Z') {
                p.i += 1;
            }
        }
        if p.i != b.len() {
            return None;
        }
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 {
            return None;
        }
        if second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let local = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(GoTime { secs: local - i64::from(offset), nanos, offset })
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// Between `min` and `max` ASCII digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i]).ok()?.parse().ok()
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::GoTime;

    fn round(s: &str) -> Option<String> {
        GoTime::parse_strfmt(s).map(GoTime::to_millis_string)
    }

    #[test]
    fn strfmt_layouts_parse_and_print_as_rfc3339_millis() {
        let cases = [
            ("2029-07-29T08:45:45.000Z", "2029-07-29T08:45:45.000Z"),
            ("2029-07-29T08:45:45Z", "2029-07-29T08:45:45.000Z"),
            ("2029-07-29T08:45:45.123456789Z", "2029-07-29T08:45:45.123Z"),
            ("2029-07-29T08:45:45.9+02:00", "2029-07-29T08:45:45.900+02:00"),
            ("2029-07-29T08:45:45.000+0200", "2029-07-29T08:45:45.000+02:00"),
            ("2029-07-29T08:45:45-00:30", "2029-07-29T08:45:45.000-00:30"),
            ("2029-07-29T08:45:45+00:00", "2029-07-29T08:45:45.000Z"),
            ("2029-07-29T08:45:45", "2029-07-29T08:45:45.000Z"),
            ("2029-07-29T08:45Z", "2029-07-29T08:45:00.000Z"),
            ("2029-07-29T08:45", "2029-07-29T08:45:00.000Z"),
            ("2029-07-29 08:45:45", "2029-07-29T08:45:45.000Z"),
            ("2029-07-29T8:45:45Z", "2029-07-29T08:45:45.000Z"),
            ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"),
            ("", "1970-01-01T00:00:00.000Z"),
            ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500Z"),
        ];
        for (input, want) in cases {
            assert_eq!(round(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "2029-07-29",
            "2029-7-29T08:45:45Z",
            "2029-07-29T08:45:45+0200",
            "2029-07-29T08:45:45z",
            "2029-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2029-07-29T24:00:00Z",
            "2029-07-29 08:45:45Z",
            "2029-07-29T08:45+02:00",
            "tomorrow",
        ] {
            assert_eq!(round(bad), None, "{bad}");
        }
    }

    #[test]
    fn comparisons_are_by_instant() {
        let a = GoTime::parse_strfmt("2029-07-29T10:00:00+02:00");
        let b = GoTime::parse_strfmt("2029-07-29T08:00:00Z");
        assert_eq!(a, b);
        assert!(GoTime::parse_strfmt("2029-07-29T08:00:01Z") > b);
    }
}
