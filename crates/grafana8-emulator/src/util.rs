//! Identifier, duration and timestamp helpers shared by the handlers.

use md5::{Digest, Md5};
use rand::Rng;
use std::time::{Duration, SystemTime};

/// pkg/util/shortid_generator.go: 8.x generates uids with teris-io/shortid, whose alphabet is
/// `0-9a-zA-Z_-`; they are typically 9-10 characters long.
pub(crate) fn generate_short_uid() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
    let mut rng = rand::rng();
    // A leading letter keeps generated uids safe in paths and shells; Grafana's may start with
    // any alphabet character, and clients must not rely on either.
    let mut s = String::with_capacity(9);
    s.push(ALPHABET[rng.random_range(10..62)] as char);
    for _ in 0..8 {
        s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    s
}

/// pkg/util/shortid_generator.go `IsValidShortUID`: `^[a-zA-Z0-9\-\_]*$`.
pub(crate) fn is_valid_short_uid(uid: &str) -> bool {
    uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// pkg/util/shortid_generator.go `IsShortUIDTooLong`: more than 40 characters.
pub(crate) fn is_short_uid_too_long(uid: &str) -> bool {
    uid.len() > 40
}

/// pkg/api/dtos/models.go `GetGravatarUrlWithDefault`: without an email, the default text
/// stripped of non-alphanumerics, at `localhost`.
pub(crate) fn avatar_url_with_default(email: &str, default: &str) -> String {
    if !email.is_empty() {
        return avatar_url(email);
    }
    let stripped: String = default.chars().filter(char::is_ascii_alphanumeric).collect();
    avatar_url(&format!("{stripped}@localhost"))
}

/// RFC 3339 with seconds precision, as Grafana reads timestamps back from its database.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// One instant twice: as Go marshals a `time.Now()` (RFC 3339 with nanoseconds, trailing zeros
/// dropped), which Grafana answers for an object it has just inserted and not read back, and at
/// the seconds precision its database gives back on later reads.
pub(crate) fn now_go_and_db() -> (String, String) {
    let now = SystemTime::now();
    let nanos = humantime::format_rfc3339_nanos(now).to_string();
    let go = match nanos.strip_suffix('Z').and_then(|t| t.split_once('.')) {
        Some((secs, frac)) if frac.trim_end_matches('0').is_empty() => format!("{secs}Z"),
        Some((secs, frac)) => format!("{secs}.{}Z", frac.trim_end_matches('0')),
        None => nanos,
    };
    (go, humantime::format_rfc3339_seconds(now).to_string())
}

/// pkg/api/dtos/models.go `GetGravatarUrl`: `/avatar/<md5 of the lower-cased text>`, or `""`
/// for empty text.
pub(crate) fn avatar_url(email: &str) -> String {
    if email.is_empty() {
        return String::new();
    }
    let mut h = Md5::new();
    h.update(email.to_lowercase().as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("/avatar/{hex}")
}

/// prometheus/common v0.32.1 `model.ParseDuration`:
/// `^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`,
/// with `"0"` allowed.
pub(crate) fn parse_prom_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1000),
        ("w", 7 * 24 * 3600 * 1000),
        ("d", 24 * 3600 * 1000),
        ("h", 3600 * 1000),
        ("m", 60 * 1000),
        ("s", 1000),
        ("ms", 1),
    ];
    let bad = || format!("not a valid duration string: {s:?}");
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if idx < next_unit {
            return Err(bad());
        }
        next_unit = idx + 1;
        total = n.checked_mul(UNITS[idx].1).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if total > i64::MAX as u64 / 1_000_000 {
        return Err(bad());
    }
    Ok(Duration::from_millis(total))
}

/// prometheus/common v0.32.1 `model.Duration.String()`: `0s` for zero; `y` and `w` only when
/// they divide the value exactly.
pub(crate) fn format_prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut f = |unit: &str, mult: u64, exact: bool, out: &mut String| {
        if exact && !ms.is_multiple_of(mult) {
            return;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    };
    f("y", 365 * 24 * 3600 * 1000, true, &mut out);
    f("w", 7 * 24 * 3600 * 1000, true, &mut out);
    f("d", 24 * 3600 * 1000, false, &mut out);
    f("h", 3600 * 1000, false, &mut out);
    f("m", 60 * 1000, false, &mut out);
    f("s", 1000, false, &mut out);
    f("ms", 1, false, &mut out);
    out
}

/// Go's `time.ParseDuration` in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with the units
/// ns, us, µs, μs, ms, s, m and h, or "0"; `None` where Go returns an error (including
/// overflow of an int64). A fraction is added as Go does, through a float64
/// (`float64(f) * (float64(unit) / scale)`).
pub(crate) fn go_parse_duration_nanos(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int: u128 = if int_len == 0 { 0 } else { rest[..int_len].parse().ok()? };
        rest = &rest[int_len..];
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac = &r[..n];
            rest = &r[n..];
            if int_len == 0 && n == 0 {
                return None;
            }
        } else if int_len == 0 {
            return None;
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let mut v = int.checked_mul(unit)?;
        if !frac.is_empty() {
            let scale = 10u128.checked_pow(frac.len() as u32).unwrap_or(u128::MAX);
            let f: u128 = frac.parse().ok()?;
            v += (f as f64 * (unit as f64 / scale as f64)) as u128;
        }
        total = total.checked_add(v)?;
        if total > 1 << 63 {
            return None;
        }
    }
    if !neg && total > (1 << 63) - 1 {
        return None;
    }
    let total = total as i128;
    Some(if neg { -total } else { total })
}

/// Go's `time.Duration.String()` for whole seconds (used in error texts such as
/// `{From:0s To:10m0s}`).
pub(crate) fn format_go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let neg = secs < 0;
    let s = secs.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let body = if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    };
    if neg { format!("-{body}") } else { body }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// RFC 3339 with seconds precision for a Unix time.
pub(crate) fn format_unix(secs: i64) -> String {
    let t = if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Go's `t.AddDate(-10, 0, 0)` in UTC: the same clock time ten calendar years back, with a
/// 29 February that does not exist normalised to 1 March.
pub(crate) fn ten_years_ago(secs: i64) -> i64 {
    let (days, tod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (y, m, d) = (y - 10, m, d);
    let (m, d) = if m == 2 && d == 29 && !is_leap(y) { (3, 1) } else { (m, d) };
    days_from_civil(y, m, d) * 86_400 + tod
}

/// Whether a year of the proleptic Gregorian calendar has a 29 February.
pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year, month 1-12, day), by Howard
/// Hinnant's civil-date algorithm.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date (year, month 1-12, day) of a count of days since 1970-01-01,
/// by Howard Hinnant's civil-date algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// pkg/util/strings.go `GetAgeString`: the largest whole unit (a year is 525600 minutes, a
/// month 43800), or `< 1 minute`.
pub(crate) fn age_string(then: i64, now: i64) -> String {
    let minutes = (now - then) as f64 / 60.0;
    let units = [(525_600.0, "year"), (43_800.0, "month"), (1_440.0, "day"), (60.0, "hour"), (1.0, "minute")];
    for (size, unit) in units {
        let n = (minutes / size).floor() as i64;
        if n > 0 {
            return if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
        }
    }
    "< 1 minute".into()
}

/// SQLite's `LIKE` (Grafana's default database): `%` matches any run, `_` any one character,
/// and ASCII letters match without regard to case.
pub(crate) fn sql_like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && go(rest, &t[1..]),
        }
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prom_durations_round_trip_canonically() {
        let cases = [
            ("60s", "1m"),
            ("90s", "1m30s"),
            ("3600s", "1h"),
            ("1d", "1d"),
            ("7d", "1w"),
            ("10d", "10d"),
            ("0", "0s"),
            ("1h30m", "1h30m"),
            ("1500ms", "1s500ms"),
            ("365d", "1y"),
        ];
        for (input, want) in cases {
            let d = parse_prom_duration(input).expect("valid duration");
            assert_eq!(format_prom_duration(d), want, "{input}");
        }
        for bad in ["", "1.5m", "-1m", "1m1h", "5", "1us", "m"] {
            assert!(parse_prom_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_parse_duration() {
        assert_eq!(go_parse_duration_nanos("5s"), Some(5_000_000_000));
        assert_eq!(go_parse_duration_nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(go_parse_duration_nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(go_parse_duration_nanos("-1s"), Some(-1_000_000_000));
        assert_eq!(go_parse_duration_nanos("0"), Some(0));
        assert_eq!(go_parse_duration_nanos(".5m"), Some(30_000_000_000));
        for bad in ["", "5", "5 s", "1d", ".s", "s", "9999999999h"] {
            assert_eq!(go_parse_duration_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_ages_and_like() {
        // 2024-02-29T12:00:00Z: ten years back there is no 29 February, Go gives 1 March 2014.
        assert_eq!(format_unix(ten_years_ago(1_709_208_000)), "2014-03-01T12:00:00Z");
        assert_eq!(format_unix(ten_years_ago(1_653_918_903)), "2012-05-30T13:55:03Z");
        let now = 1_653_918_903;
        assert_eq!(age_string(ten_years_ago(now), now), "10 years");
        assert_eq!(age_string(now - 59, now), "< 1 minute");
        assert_eq!(age_string(now - 3 * 3600, now), "3 hours");
        assert_eq!(age_string(now - 86_400, now), "1 day");
        assert!(sql_like("%adm%", "xADMINx"));
        assert!(sql_like("a_c", "abc") && !sql_like("a_c", "ac"));
        assert!(sql_like("Main%", "main org.") && !sql_like("Main%", "The Main"));
        assert!(sql_like("%ENV%", "Environment"));
        assert!(sql_like("%_%", "a_b"));
        assert!(!sql_like("%dev%", "prod"));
        assert!(sql_like("%%", ""));
    }

    #[test]
    fn go_durations() {
        assert_eq!(format_go_duration(600), "10m0s");
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(3661), "1h1m1s");
    }
}
