//! Mute time intervals as Grafana 8.5.4 decodes, checks and stores them: the vendored
//! Alertmanager's config.MuteTimeInterval and timeinterval.TimeInterval
//! (prometheus/alertmanager v0.23.1-0.20211116083607-e2a10119aaf7, timeinterval/timeinterval.go),
//! whose ranges `UnmarshalJSON` by handing the element to yaml.v2 and validating, and whose
//! `MarshalJSON`/`MarshalText` give the form Grafana stores and returns.
//!
//! Every failure here is a JSON decoding error of `PostableUserConfig`, which Grafana answers
//! with 400 `bad request data` (the message is only visible in development mode); the texts
//! are kept so the unit tests can hold them against the Go-generated vectors in
//! tests/fixtures/time_interval_vectors.json.

use serde_json::{Map, Value, json};

const WEEKDAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A decoded `config.MuteTimeInterval`: its name and its JSON as Grafana marshals it.
pub(crate) struct MuteTimeInterval {
    /// `Config.UnmarshalJSON` requires it and keeps it unique.
    pub name: String,
    pub json: Value,
}

/// `json.Unmarshal` into `config.MuteTimeInterval`.
pub(crate) fn decode(v: &Value) -> Result<MuteTimeInterval, String> {
    let obj = match v {
        Value::Null => {
            return Ok(MuteTimeInterval { name: String::new(), json: json!({"name": "", "time_intervals": null}) });
        }
        Value::Object(o) => o,
        other => return Err(json_type_error(other, None, "config.MuteTimeInterval")),
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(json_type_error(other, Some("MuteTimeInterval.name"), "string")),
    };
    let intervals = match obj.get("time_intervals") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Array(list)) => Value::Array(list.iter().map(decode_interval).collect::<Result<_, _>>()?),
        Some(other) => {
            return Err(json_type_error(other, Some("MuteTimeInterval.time_intervals"), "[]timeinterval.TimeInterval"));
        }
    };
    Ok(MuteTimeInterval { name: name.clone(), json: json!({"name": name, "time_intervals": intervals}) })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// encoding/json's `UnmarshalTypeError`; `field` is the struct field path when there is one
/// (in the form the generating Go version writes it).
fn json_type_error(v: &Value, field: Option<&str>, go_type: &str) -> String {
    match field {
        Some(f) => format!("json: cannot unmarshal {} into Go struct field {f} of type {go_type}", json_kind(v)),
        None => format!("json: cannot unmarshal {} into Go value of type {go_type}", json_kind(v)),
    }
}

/// yaml.v2's error for a node that cannot go into `target`.
fn yaml_error(v: &Value, target: &str) -> String {
    let node = match v {
        Value::Array(_) => "!!seq".to_string(),
        Value::Object(_) => "!!map".to_string(),
        scalar => {
            let (tag, text) = match scalar {
                Value::String(s) => ("!!str", s.clone()),
                Value::Bool(b) => ("!!bool", b.to_string()),
                Value::Number(n) if n.is_f64() => ("!!float", n.to_string()),
                other => ("!!int", other.to_string()),
            };
            let text = if text.chars().count() > 10 {
                format!("{}...", text.chars().take(7).collect::<String>())
            } else {
                text
            };
            format!("{tag} `{text}`")
        }
    };
    format!("yaml: unmarshal errors:\n  line 1: cannot unmarshal {node} into {target}")
}

/// A scalar decoded by yaml.v2 into a Go string: its text; `None` for null (nothing set).
fn yaml_string(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(yaml_error(other, "string")),
    }
}

/// `timeinterval.TimeInterval`: every field is omitempty.
fn decode_interval(v: &Value) -> Result<Value, String> {
    let obj = match v {
        Value::Null => return Ok(json!({})),
        Value::Object(o) => o,
        other => {
            return Err(json_type_error(other, Some("MuteTimeInterval.time_intervals"), "timeinterval.TimeInterval"));
        }
    };
    let mut out = Map::new();
    type Element = fn(&Value) -> Result<Value, String>;
    let fields: [(&str, &str, Element); 5] = [
        ("times", "[]timeinterval.TimeRange", time_range),
        ("weekdays", "[]timeinterval.WeekdayRange", weekday_range),
        ("days_of_month", "[]timeinterval.DayOfMonthRange", day_of_month_range),
        ("months", "[]timeinterval.MonthRange", month_range),
        ("years", "[]timeinterval.YearRange", year_range),
    ];
    for (key, go_type, element) in fields {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let items: Vec<Value> = list.iter().map(element).collect::<Result<_, _>>()?;
                if !items.is_empty() {
                    out.insert(key.into(), Value::Array(items));
                }
            }
            Some(other) => {
                return Err(json_type_error(other, Some(&format!("TimeInterval.time_intervals.{key}")), go_type));
            }
        }
    }
    Ok(Value::Object(out))
}

/// `TimeRange.UnmarshalYAML` and `MarshalJSON`.
fn time_range(v: &Value) -> Result<Value, String> {
    let (start, end) = match v {
        // yaml.v2 leaves the zero range for null without calling UnmarshalYAML.
        Value::Null => (0, 0),
        Value::Object(o) => {
            let get = |k: &str| -> Result<String, String> {
                Ok(o.get(k).map(yaml_string).transpose()?.flatten().unwrap_or_default())
            };
            let (s, e) = (get("start_time")?, get("end_time")?);
            if s.is_empty() || e.is_empty() {
                return Err("both start and end times must be provided".into());
            }
            let (start, end) = (parse_time(&s)?, parse_time(&e)?);
            if start >= end {
                return Err("start time cannot be equal or greater than end time".into());
            }
            (start, end)
        }
        other => return Err(yaml_error(other, "timeinterval.yamlTimeRange")),
    };
    let hm = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
    Ok(json!({"start_time": hm(start), "end_time": hm(end)}))
}

/// `parseTime`: `^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)`, in minutes.
fn parse_time(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let ok = s == "24:00"
        || b.len() == 5
            && b[2] == b':'
            && (matches!(b[0], b'0' | b'1') && b[1].is_ascii_digit() || b[0] == b'2' && (b'0'..=b'3').contains(&b[1]))
            && (b'0'..=b'5').contains(&b[3])
            && b[4].is_ascii_digit();
    if !ok {
        return Err(format!("couldn't parse timestamp {s}, invalid format"));
    }
    let h = i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0');
    let m = i64::from(b[3] - b'0') * 10 + i64::from(b[4] - b'0');
    Ok(h * 60 + m)
}

/// `strconv.Atoi`, with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {}: {reason}", crate::http::go_quote(s))
    })
}

/// `stringableRangeFromString`: lower-cased, `a` or `a:b`, each side through `member`.
fn range_from_string(input: &str, member: impl Fn(&str) -> Result<i64, String>) -> Result<(i64, i64), String> {
    let input = input.to_lowercase();
    if input.contains(':') {
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {input}, invalid format"));
        }
        return Ok((member(parts[0])?, member(parts[1])?));
    }
    let v = member(&input)?;
    Ok((v, v))
}

/// A range element: `None` for a JSON null (the zero range, unchecked).
fn range_element(v: &Value, member: impl Fn(&str) -> Result<i64, String>) -> Result<Option<(i64, i64)>, String> {
    match yaml_string(v)? {
        None => Ok(None),
        Some(s) => range_from_string(&s, member).map(Some),
    }
}

/// `InclusiveRange.MarshalText`.
fn inclusive_text(begin: i64, end: i64) -> Value {
    if begin == end { json!(begin.to_string()) } else { json!(format!("{begin}:{end}")) }
}

fn weekday_range(v: &Value) -> Result<Value, String> {
    let member = |s: &str| {
        WEEKDAYS.iter().position(|d| *d == s).map(|i| i as i64).ok_or_else(|| format!("{s} is not a valid weekday"))
    };
    let (b, e) = range_element(v, member)?.unwrap_or((0, 0));
    if b > e {
        return Err("start day cannot be before end day".into());
    }
    // WeekdayRange.MarshalText.
    let name = |i: i64| WEEKDAYS[i.clamp(0, 6) as usize];
    Ok(if b == e { json!(name(b)) } else { json!(format!("{}:{}", name(b), name(e))) })
}

fn day_of_month_range(v: &Value) -> Result<Value, String> {
    let Some((b, e)) = range_element(v, atoi)? else { return Ok(inclusive_text(0, 0)) };
    for d in [b, e] {
        if d == 0 || !(-31..=31).contains(&d) {
            return Err(format!("{d} is not a valid day of the month: out of range"));
        }
    }
    if b < 0 && e > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    let check = |d: i64| if d < 0 { 28 + d } else { d };
    if check(b) > check(e) {
        return Err(format!("end day {e} is always before start day {b}"));
    }
    Ok(inclusive_text(b, e))
}

fn month_range(v: &Value) -> Result<Value, String> {
    let member = |s: &str| match MONTHS.iter().position(|m| *m == s) {
        Some(i) => Ok(i as i64 + 1),
        None => atoi(s).map_err(|_| format!("{s} is not a valid month")),
    };
    let Some((b, e)) = range_element(v, member)? else { return Ok(inclusive_text(0, 0)) };
    if b > e {
        let name = |i: i64| if (1..=12).contains(&i) { MONTHS[(i - 1) as usize] } else { "" };
        return Err(format!("end month {} is before start month {}", name(e), name(b)));
    }
    Ok(inclusive_text(b, e))
}

fn year_range(v: &Value) -> Result<Value, String> {
    let Some((b, e)) = range_element(v, atoi)? else { return Ok(inclusive_text(0, 0)) };
    if b > e {
        return Err(format!("end year {e} is before start year {b}"));
    }
    Ok(inclusive_text(b, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        input: Value,
        error: Option<String>,
        output: Option<Value>,
    }

    /// Every vector of tests/fixtures/time_interval_vectors.json, generated by
    /// tests/fixtures/gen (`go run . timeintervals`): encoding/json into the vendored
    /// config.MuteTimeInterval, then json.Marshal.
    #[test]
    fn decoding_matches_go() {
        let v: Vectors =
            serde_json::from_str(include_str!("../tests/fixtures/time_interval_vectors.json")).expect("vectors parse");
        let mut failures = vec![];
        for case in &v.vectors {
            let got = decode(&case.input).map(|m| m.json);
            let want = match (&case.error, &case.output) {
                (Some(e), _) => Err(e.clone()),
                (None, Some(o)) => Ok(o.clone()),
                (None, None) => Err("vector without output".into()),
            };
            if got != want {
                failures.push(format!("{}: got {got:?}, want {want:?}", case.input));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
