//! Durations as the Prometheus ecosystem reads and writes them: `model.Duration` of
//! prometheus/common (`ParseDuration` and `String`; v0.32.1 is what Grafana v8.5.4 pins).
//! `60s` and `1m` are the same duration and servers print the canonical form (largest units
//! first), so providers compare definitions and server answers in that form. Shared here
//! because Grafana, Prometheus and Alertmanager all speak it.

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// A regular expression (JSON Schema `pattern`) of the text [`parse`] takes, but for the
/// order of units, which it does not check.
pub const PATTERN: &str = "^(0|([0-9]+(ms|y|w|d|h|m|s))+)$";

/// Parses `1h30m`, `90s`, `0`, … into milliseconds. Units must come in the order
/// y w d h m s ms, each at most once, with whole numbers, as Prometheus requires.
pub fn parse(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    const UNITS: [(&str, u64); 7] =
        [("y", YEAR), ("w", WEEK), ("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", 1)];
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let position = UNITS.iter().position(|(name, _)| *name == unit)?;
        if position < next_unit {
            return None;
        }
        next_unit = position + 1;
        total = total.checked_add(number.checked_mul(UNITS[position].1)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Formats milliseconds as Prometheus and Grafana print them: years and weeks only when exact.
pub fn format(milliseconds: u64) -> String {
    if milliseconds == 0 {
        return "0s".to_owned();
    }
    let mut rest = milliseconds;
    let mut text = String::new();
    for (unit, size, exact) in [
        ("y", YEAR, true),
        ("w", WEEK, true),
        ("d", DAY, false),
        ("h", HOUR, false),
        ("m", MINUTE, false),
        ("s", SECOND, false),
        ("ms", 1, false),
    ] {
        if exact && !rest.is_multiple_of(size) {
            continue;
        }
        let count = rest / size;
        if count > 0 {
            text.push_str(&format!("{count}{unit}"));
            rest -= count * size;
        }
    }
    text
}

/// The canonical spelling of a duration string, or `None` if it is not one.
pub fn canonical(text: &str) -> Option<String> {
    parse(text).map(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_match_prometheus() {
        for (input, expected) in [
            ("60s", "1m"),
            ("90s", "1m30s"),
            ("3600s", "1h"),
            ("86400s", "1d"),
            ("604800s", "1w"),
            ("10d", "10d"),
            ("0", "0s"),
            ("1h30m", "1h30m"),
            ("1500ms", "1s500ms"),
            ("365d", "1y"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn invalid_durations_are_rejected() {
        for input in ["", "5", "1.5m", "m", "1m1h", "1m1m", "-1m", "1x", "5 m"] {
            assert_eq!(parse(input), None, "{input}");
        }
    }
}
