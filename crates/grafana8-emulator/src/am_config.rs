//! The `alertmanager_config` part of the Alertmanager configuration document that is not
//! receivers, decoded, checked and re-marshalled as Grafana 8.5.4 does when it binds
//! `PostableUserConfig` (pkg/services/ngalert/api/tooling/definitions/alertmanager.go
//! `Config.UnmarshalJSON`, `PostableApiAlertingConfig.validate`, alertmanager_validation.go
//! `Route.Validate`/`validateChild`, `ObjectMatchers.UnmarshalJSON`) with the vendored
//! Alertmanager's types (config/config.go `Matchers`, `MatchRegexps`, `InhibitRule`,
//! `GlobalConfig`; pkg/labels/parse.go `ParseMatchers`). Grafana stores `json.Marshal` of the
//! decoded structs, so what GET returns is the normal form built here.
//!
//! All of these failures happen while `web.Bind` decodes the body, so Grafana answers them
//! with 400 `bad request data`; a few inputs make the decoding code dereference nil or index
//! an empty string, which the recovery middleware answers with a 500.
//!
//! The default document a new org starts with (and a DELETE restores) is here too, for the
//! seed, the users API (which may create an org) and the alerting API alike.

use crate::http::go_quote;
use crate::time_intervals;
use crate::util::{format_prom_duration, parse_prom_duration};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// pkg/setting/setting_unified_alerting.go `alertmanagerDefaultConfiguration` (8.x: no
/// `group_by`), stored as is, so the receiver uid is empty.
pub(crate) fn default_am_config() -> Value {
    json!({
        "template_files": null,
        "alertmanager_config": {
            "route": {"receiver": "grafana-default-email"},
            "templates": null,
            "receivers": [{"name": "grafana-default-email", "grafana_managed_receiver_configs": [
                {"uid": "", "name": "email receiver", "type": "email", "disableResolveMessage": false,
                 "settings": {"addresses": "<example@email.com>"}, "secureSettings": {}}]}]
        }
    })
}

/// Why a document was refused.
#[derive(Debug, PartialEq)]
pub(crate) enum Invalid {
    /// A decoding or validation error (its Go text, for tests and debugging).
    Decode(String),
    /// A nil dereference or out-of-range index in the decoding code.
    Panic,
}

type Res<T> = Result<T, Invalid>;

fn bad<T>(msg: impl Into<String>) -> Res<T> {
    Err(Invalid::Decode(msg.into()))
}

/// The decoded non-receiver configuration.
pub(crate) struct Decoded {
    /// `global`, `route`, `inhibit_rules`, `mute_time_intervals`, `templates` in `Config`'s
    /// field order, as Grafana marshals them.
    pub config: Map<String, Value>,
    /// `AllReceivers` of the route tree (non-empty receiver names).
    pub route_receivers: BTreeSet<String>,
    /// Whether the root route has `continue` (refused when Grafana receivers are present and
    /// always by `PostableUserConfig.validate`).
    pub root_continue: bool,
}

/// `Config.UnmarshalJSON` on the `alertmanager_config` object.
pub(crate) fn decode(amc: &Map<String, Value>) -> Res<Decoded> {
    let mut config = Map::new();
    // `global`: decoded, then reset to DefaultGlobalConfig() by
    // `GlobalConfig.UnmarshalYAML(noopUnmarshal)`: whatever was posted is dropped.
    match amc.get("global") {
        None | Some(Value::Null) => {}
        Some(Value::Object(g)) => {
            check_global(g)?;
            config.insert("global".into(), default_global());
        }
        Some(_) => return bad("json: cannot unmarshal into config.GlobalConfig"),
    }
    let route = match amc.get("route") {
        None | Some(Value::Null) => return bad("no routes provided"),
        Some(r) => r,
    };
    let mut route_receivers = BTreeSet::new();
    let mut mute_refs = vec![];
    let route_out = decode_route(route, &mut route_receivers, &mut mute_refs)?;
    let root = route_out.as_object().cloned().unwrap_or_default();
    // Route.Validate.
    if root.get("receiver").is_none() {
        return bad("root route must specify a default receiver");
    }
    if root.contains_key("match") || root.contains_key("match_re") {
        return bad("root route must not have any matchers");
    }
    if root.contains_key("mute_time_intervals") {
        return bad("root route must not have any mute time intervals");
    }
    let root_continue = root.get("continue") == Some(&Value::Bool(true));
    config.insert("route".into(), route_out);
    if let Some(rules) = decode_inhibit_rules(amc.get("inhibit_rules"))? {
        config.insert("inhibit_rules".into(), rules);
    }
    let mut names = BTreeSet::new();
    match amc.get("mute_time_intervals") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let mut out = vec![];
            for item in list {
                let mt = time_intervals::decode(item).map_err(Invalid::Decode)?;
                out.push(mt.json);
                if mt.name.is_empty() {
                    return bad("missing name in mute time interval");
                }
                if !names.insert(mt.name.clone()) {
                    return bad(format!("mute time interval {} is not unique", go_quote(&mt.name)));
                }
            }
            if !out.is_empty() {
                config.insert("mute_time_intervals".into(), Value::Array(out));
            }
        }
        Some(_) => return bad("json: cannot unmarshal into []config.MuteTimeInterval"),
    }
    // checkTimeInterval (children first, then the route's own).
    if let Some(undefined) = mute_refs.iter().find(|n| !names.contains(*n)) {
        return bad(format!("undefined time interval {} used in route", go_quote(undefined)));
    }
    // `templates` is not omitempty.
    let templates = match amc.get("templates") {
        None | Some(Value::Null) => Value::Null,
        Some(v) => Value::Array(string_list(v)?.into_iter().map(Value::String).collect()),
    };
    config.insert("templates".into(), templates);
    Ok(Decoded { config, route_receivers, root_continue })
}

/// DefaultGlobalConfig() as json.Marshal writes it (tests/fixtures/default_global_config.json,
/// from tests/fixtures/gen `go run . global`).
fn default_global() -> Value {
    static GLOBAL: OnceLock<Value> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let v: Value =
                serde_json::from_str(include_str!("../tests/fixtures/default_global_config.json")).unwrap_or_default();
            v["vectors"].clone()
        })
        .clone()
}

/// The decoding of `config.GlobalConfig` that precedes the reset to the defaults: its
/// scalar fields' types, `resolve_timeout` (a non-pointer model.Duration), the URL fields
/// (`parseURL`: http or https with a host; `SecretURL` also takes the raw bytes
/// `"\u003csecret\u003e"`, which a decoded body cannot tell from `"<secret>"`, refused) and
/// `smtp_smarthost` (net.SplitHostPort, with a port). `http_config` must be an object; its
/// own `Validate` is not emulated.
fn check_global(g: &Map<String, Value>) -> Res<()> {
    for (k, v) in g {
        match k.as_str() {
            "resolve_timeout" => {
                let s = match v {
                    Value::String(s) => s.as_str(),
                    Value::Null => "",
                    _ => return bad("json: cannot unmarshal into model.Duration"),
                };
                parse_prom_duration(s).or_else(bad)?;
            }
            "http_config" if !matches!(v, Value::Null | Value::Object(_)) => {
                return bad("json: cannot unmarshal into config.HTTPClientConfig");
            }
            "smtp_require_tls" if !matches!(v, Value::Null | Value::Bool(_)) => {
                return bad("json: cannot unmarshal into bool");
            }
            "smtp_smarthost" => {
                let s = string_of(v)?;
                if !s.is_empty() {
                    let port = split_host_port(&s).or_else(bad)?;
                    if port.is_empty() {
                        return bad(format!("address {}: port cannot be empty", go_quote(&s)));
                    }
                }
            }
            "slack_api_url" | "pagerduty_url" | "opsgenie_api_url" | "wechat_api_url" | "victorops_api_url" => {
                match v {
                    Value::Null => {}
                    Value::String(u) => check_http_url(u)?,
                    _ => return bad("json: cannot unmarshal into string"),
                }
            }
            "smtp_from"
            | "smtp_hello"
            | "smtp_auth_username"
            | "smtp_auth_password"
            | "smtp_auth_secret"
            | "smtp_auth_identity"
            | "slack_api_url_file"
            | "opsgenie_api_key"
            | "opsgenie_api_key_file"
            | "wechat_api_secret"
            | "wechat_api_corp_id"
            | "victorops_api_key" => {
                string_of(v)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// config.go `parseURL`.
fn check_http_url(u: &str) -> Res<()> {
    let normal = crate::notifier_settings::go_url_parse(u).or_else(bad)?;
    let (scheme, rest) = normal.split_once(':').unwrap_or(("", &normal));
    if scheme != "http" && scheme != "https" {
        return bad(format!("unsupported scheme {} for URL", go_quote(scheme)));
    }
    let host = rest.strip_prefix("//").map(|r| r.split(['/', '?']).next().unwrap_or("")).unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    if host.is_empty() {
        return bad("missing host for URL");
    }
    Ok(())
}

/// net.SplitHostPort's checks; the port.
fn split_host_port(hp: &str) -> Result<&str, String> {
    let err = |why: &str| format!("address {hp}: {why}");
    let Some(i) = hp.rfind(':') else { return Err(err("missing port in address")) };
    let (mut j, mut k) = (0, 0);
    if hp.starts_with('[') {
        let Some(end) = hp.find(']') else { return Err(err("missing ']' in address")) };
        if end + 1 == hp.len() {
            return Err(err("missing port in address"));
        } else if end + 1 != i {
            return Err(err(if hp.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                "missing port in address"
            }));
        }
        j = 1;
        k = end + 1;
    } else if hp[..i].contains(':') {
        return Err(err("too many colons in address"));
    }
    if hp[j..].contains('[') {
        return Err(err("unexpected '[' in address"));
    }
    if hp[k..].contains(']') {
        return Err(err("unexpected ']' in address"));
    }
    Ok(&hp[i + 1..])
}

/// A JSON string for a Go `string`: null leaves "".
fn string_of(v: &Value) -> Res<String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => bad("json: cannot unmarshal into string"),
    }
}

/// A `[]string`.
fn string_list(v: &Value) -> Res<Vec<String>> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(a) => a.iter().map(string_of).collect(),
        _ => bad("json: cannot unmarshal into []string"),
    }
}

/// A `map[string]string`, keys sorted as Go marshals maps.
fn string_map(v: &Value) -> Res<Map<String, Value>> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| Ok((k.clone(), Value::String(string_of(&o[k])?)))).collect()
        }
        _ => bad("json: cannot unmarshal into map[string]string"),
    }
}

/// `regexp.Compile("^(?:" + v + ")$")`. The regex crate checks the syntax once the
/// differences from Go's regexp/syntax (Go 1.17) that a pattern can hit are bridged by
/// [`re2_translate`].
fn compile_anchored(v: &str) -> Res<()> {
    // The whole anchored text is translated: an unterminated `\Q` quotes the closing `)$`.
    let re = re2_translate(&format!("^(?:{v})$")).or_else(|e| bad(format!("error parsing regexp: {e}")))?;
    regex::Regex::new(&re).map(|_| ()).or_else(|e| bad(format!("error parsing regexp: {e}")))
}

/// The POSIX classes Go accepts inside brackets.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word",
    "xdigit",
];

/// Copies the escape at the start of `s` (a backslash and what follows) into `out` in the
/// regex crate's dialect; the length consumed. Go's octal escapes (`\0`, `\012`, `\101`;
/// a lone `\1`-`\7` is a back-reference both refuse) become `\x{..}`.
fn copy_escape(s: &str, out: &mut String) -> Result<usize, &'static str> {
    let after = &s[1..];
    let Some(e) = after.chars().next() else {
        out.push('\\');
        return Ok(1);
    };
    let octal = |c: Option<&u8>| c.is_some_and(|c| (b'0'..=b'7').contains(c));
    let ab = after.as_bytes();
    if e == '0' || ('1'..='7').contains(&e) && octal(ab.get(1)) {
        let mut n = 1;
        while n < 3 && octal(ab.get(n)) {
            n += 1;
        }
        let v = u32::from_str_radix(&after[..n], 8).unwrap_or(0);
        out.push_str(&format!("\\x{{{v:x}}}"));
        return Ok(1 + n);
    }
    // `\xHH` needs both digits (the crate would read on into what follows).
    if e == 'x' && !after[1..].starts_with('{') && !(ab.len() >= 3 && ab[1..3].iter().all(u8::is_ascii_hexdigit)) {
        return Err("invalid escape sequence");
    }
    let mut len = 1 + e.len_utf8();
    if matches!(e, 'p' | 'P' | 'x') && after[1..].starts_with('{') {
        len = 2 + after[1..].find('}').map_or(after.len() - 1, |j| j + 1);
    } else if matches!(e, 'p' | 'P') {
        // A one-letter class name: `\pL`.
        len += after[1..].chars().next().map_or(0, char::len_utf8);
    }
    let len = len.min(s.len());
    out.push_str(&s[..len]);
    Ok(len)
}

/// Rewrites a Go regular expression into the regex crate's dialect, or refuses what Go
/// refuses and the crate would accept: `\Q…\E` is quoted; a `{` that starts no valid
/// repetition is a literal; repeat counts over 1000, stacked repetition operators (`a**`;
/// a single `?` after one makes it lazy), unknown `[:name:]` classes and `(?<name>` (added
/// in Go 1.22) are errors.
fn re2_translate(v: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(v.len() + 8);
    let mut rest = v;
    // Whether the previous item was a repetition operator (Go's `lastRepeat`), and whether
    // there is anything to repeat.
    let (mut last_repeat, mut have_operand) = (false, false);
    while let Some(c) = rest.chars().next() {
        let mut repeat = false;
        match c {
            '\\' => {
                let after = &rest[1..];
                if let Some(q) = after.strip_prefix('Q') {
                    let (lit, tail) = match q.find("\\E") {
                        Some(e) => (&q[..e], &q[e + 2..]),
                        None => (q, ""),
                    };
                    out.push_str(&regex::escape(lit));
                    rest = tail;
                    have_operand = !lit.is_empty() || have_operand;
                    last_repeat = false;
                    continue;
                }
                if after.is_empty() {
                    return Err("trailing backslash at end of expression");
                }
                let len = copy_escape(rest, &mut out)?;
                rest = &rest[len..];
                have_operand = true;
            }
            '[' => {
                // The class, checking `[:name:]` items; a `]` right after `[` or `[^` is a
                // literal, and so are `[`, `&` and `~` (which the regex crate reads as a nested
                // class or a set operation), escaped on the way.
                let b = rest.as_bytes();
                out.push('[');
                let mut i = 1;
                if b.get(i) == Some(&b'^') {
                    out.push('^');
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    out.push_str("\\]");
                    i += 1;
                }
                let mut closed = false;
                // Whether the last item was a class (`\d`, `\pL`, `[:alpha:]`), after which
                // Go reads `-` as a literal and the crate as a bad range.
                let mut after_class = false;
                while i < b.len() {
                    let was_class = std::mem::take(&mut after_class);
                    match b[i] {
                        b'-' if was_class => {
                            out.push_str("\\-");
                            i += 1;
                        }
                        b'\\' => {
                            if i + 1 >= b.len() {
                                break;
                            }
                            after_class = matches!(b[i + 1], b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'p' | b'P');
                            i += copy_escape(&rest[i..], &mut out)?;
                        }
                        b'[' if b.get(i + 1) == Some(&b':') && rest[i + 2..].contains(":]") => {
                            let body = &rest[i + 2..];
                            let e = body.find(":]").unwrap_or(0);
                            let name = body[..e].trim_start_matches('^');
                            if !POSIX_CLASSES.contains(&name) {
                                return Err("invalid character class range");
                            }
                            out.push_str(&rest[i..i + 2 + e + 2]);
                            i += 2 + e + 2;
                            after_class = true;
                        }
                        b'[' | b'&' | b'~' => {
                            out.push('\\');
                            out.push(b[i] as char);
                            i += 1;
                        }
                        b']' => {
                            closed = true;
                            out.push(']');
                            i += 1;
                            break;
                        }
                        _ => {
                            let ch = rest[i..].chars().next().map_or(1, char::len_utf8);
                            out.push_str(&rest[i..i + ch]);
                            i += ch;
                        }
                    }
                }
                if !closed {
                    return Err("missing closing ]");
                }
                rest = &rest[i..];
                have_operand = true;
            }
            '(' => {
                if rest.starts_with("(?<") && !rest.starts_with("(?<=") && !rest.starts_with("(?<!") {
                    return Err("invalid or unsupported Perl syntax");
                }
                if let Some(spec) = rest.strip_prefix("(?") {
                    if let Some(named) = spec.strip_prefix("P<") {
                        let Some(e) = named.find('>') else { return Err("invalid named capture") };
                        out.push_str(&rest[..4 + e + 1]);
                        rest = &rest[4 + e + 1..];
                        have_operand = false;
                        last_repeat = false;
                        continue;
                    }
                    // parsePerlFlags: `[imsU]*`, then optionally `-` and at least one more,
                    // ended by `:` (a group) or `)` (flags alone, nothing to repeat). Flags
                    // change no syntax, so the group is passed on without them.
                    let (mut negated, mut saw) = (false, false);
                    let mut end = None;
                    for (j, f) in spec.char_indices() {
                        match f {
                            'i' | 'm' | 's' | 'U' => saw = true,
                            '-' if !negated => {
                                negated = true;
                                saw = false;
                            }
                            ':' | ')' if !negated || saw => {
                                end = Some((j, f));
                                break;
                            }
                            _ => break,
                        }
                    }
                    let Some((j, f)) = end else { return Err("invalid or unsupported Perl syntax") };
                    rest = &spec[j + 1..];
                    if f == ':' {
                        out.push_str("(?:");
                        have_operand = false;
                    }
                    last_repeat = false;
                    continue;
                }
                out.push('(');
                rest = &rest[1..];
                have_operand = false;
            }
            '|' => {
                out.push('|');
                rest = &rest[1..];
                have_operand = false;
            }
            '*' | '+' | '?' | '{' => {
                let mut len = 1;
                if c == '{' {
                    let body = rest[1..].find('}').map(|e| &rest[1..1 + e]).filter(|body| {
                        let (n, m) = body.split_once(',').unwrap_or((body, "0"));
                        !n.is_empty() && n.bytes().all(|d| d.is_ascii_digit()) && m.bytes().all(|d| d.is_ascii_digit())
                    });
                    match body {
                        None => {
                            // Not a repetition: a literal brace.
                            out.push_str("\\{");
                            rest = &rest[1..];
                            have_operand = true;
                            last_repeat = false;
                            continue;
                        }
                        Some(body) => {
                            let nums: Vec<Option<u64>> = body
                                .split(',')
                                .map(|n| if n.is_empty() { None } else { n.parse().ok().or(Some(u64::MAX)) })
                                .collect();
                            let (min, max) = (nums[0].unwrap_or(0), nums.get(1).copied().flatten());
                            if min > 1000 || max.is_some_and(|m| m > 1000 || min > m) {
                                return Err("invalid repeat count");
                            }
                            len = body.len() + 2;
                        }
                    }
                }
                let lazy = rest[len..].starts_with('?');
                if last_repeat {
                    return Err("invalid nested repetition operator");
                }
                if !have_operand {
                    return Err("missing argument to repetition operator");
                }
                let len = if lazy { len + 1 } else { len };
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                repeat = true;
            }
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
                have_operand = c != ')' || have_operand;
                if c == ')' {
                    have_operand = true;
                }
            }
        }
        last_repeat = repeat;
    }
    Ok(out)
}

/// `config.MatchRegexps` (`map[string]Regexp`): each value compiles; `Regexp.MarshalJSON`
/// writes the original text, or null for "".
fn match_regexps(v: &Value) -> Res<Map<String, Value>> {
    let m = string_map(v)?;
    let mut out = Map::new();
    for (k, v) in m {
        let s = v.as_str().unwrap_or_default().to_string();
        compile_anchored(&s)?;
        out.insert(k, if s.is_empty() { Value::Null } else { Value::String(s) });
    }
    Ok(out)
}

/// `model.LabelName.IsValid` / `LabelNameRE`.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().enumerate().all(|(i, c)| c.is_ascii_alphabetic() || *c == b'_' || (i > 0 && c.is_ascii_digit()))
}

/// A `labels.Matcher`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub name: String,
    pub op: &'static str,
    pub value: String,
}

impl Matcher {
    /// `labels.NewMatcher`: regular expressions must compile.
    fn new(op: &'static str, name: &str, value: &str) -> Res<Matcher> {
        if op == "=~" || op == "!~" {
            compile_anchored(value)?;
        }
        Ok(Matcher { name: name.to_string(), op, value: value.to_string() })
    }

    /// `Matcher.String()`: `name<op>"value"` with OpenMetrics escaping.
    fn string(&self) -> String {
        let v = self.value.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"");
        format!("{}{}\"{v}\"", self.name, self.op)
    }

    fn type_rank(&self) -> u8 {
        match self.op {
            "=" => 0,
            "!=" => 1,
            "=~" => 2,
            _ => 3,
        }
    }
}

/// `labels.Matchers.Less`: by name, then value, then type.
fn sort_matchers(ms: &mut [Matcher]) {
    ms.sort_by(|a, b| (&a.name, &a.value, a.type_rank()).cmp(&(&b.name, &b.value, b.type_rank())));
}

/// pkg/labels/parse.go `ParseMatchers`: an optional `{`/`}`, then matchers separated by
/// commas outside double quotes.
pub(crate) fn parse_matchers(s: &str) -> Res<Vec<Matcher>> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let (mut inside, mut escaped) = (false, false);
    let mut token = String::new();
    let mut tokens = vec![];
    for r in s.chars() {
        match r {
            ',' if !inside => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if !escaped {
                    inside = !inside;
                } else {
                    escaped = false;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(r);
    }
    let last = token.trim_matches(|c: char| c.is_whitespace());
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// pkg/labels/parse.go `ParseMatcher`.
fn parse_matcher(s: &str) -> Res<Matcher> {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    // Go's `\s` is [\t\n\f\r ].
    let re = RE
        .get_or_init(|| {
            regex::Regex::new(r"^[\t\n\x0C\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\x0C\r ]*(=~|=|!=|!~)[\t\n\x0C\r ]*((?s).*?)[\t\n\x0C\r ]*$")
                .ok()
        })
        .as_ref()
        .ok_or(Invalid::Panic)?;
    let Some(caps) = re.captures(s) else { return bad(format!("bad matcher format: {s}")) };
    let (name, op, raw) = (&caps[1], &caps[2], &caps[3]);
    // `rawValue[0]` on an empty value: index out of range.
    let mut raw_value = raw;
    let Some(first) = raw_value.chars().next() else { return Err(Invalid::Panic) };
    let mut expect_trailing_quote = false;
    if first == '"' {
        raw_value = &raw_value[1..];
        expect_trailing_quote = true;
    }
    let mut value = String::new();
    let mut escaped = false;
    let chars: Vec<(usize, char)> = raw_value.char_indices().collect();
    for (i, r) in chars {
        if escaped {
            escaped = false;
            match r {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(r),
                _ => {
                    value.push('\\');
                    value.push(r);
                }
            }
            continue;
        }
        match r {
            '\\' => {
                if i < raw_value.len() - 1 {
                    escaped = true;
                    continue;
                }
                value.push('\\');
            }
            '"' => {
                if !expect_trailing_quote || i < raw_value.len() - 1 {
                    return bad(format!("matcher value contains unescaped double quote: {raw}"));
                }
                expect_trailing_quote = false;
            }
            _ => value.push(r),
        }
    }
    if expect_trailing_quote {
        return bad(format!("matcher value contains unescaped double quote: {raw}"));
    }
    let op = match op {
        "=" => "=",
        "!=" => "!=",
        "=~" => "=~",
        _ => "!~",
    };
    Matcher::new(op, name, &value)
}

/// `config.Matchers.UnmarshalJSON` (every string parsed, all sorted) and `MarshalJSON`.
fn matchers_field(v: &Value) -> Res<Vec<Value>> {
    let mut ms = vec![];
    for line in string_list(v)? {
        ms.extend(parse_matchers(&line)?);
    }
    sort_matchers(&mut ms);
    Ok(ms.iter().map(|m| Value::String(m.string())).collect())
}

/// definitions `ObjectMatchers.UnmarshalJSON` (`[][3]string`, missing elements "", extra
/// ones ignored; sorted) and `MarshalJSON`.
fn object_matchers(v: &Value) -> Res<Vec<Value>> {
    let rows = match v {
        Value::Null => return Ok(vec![]),
        Value::Array(a) => a,
        _ => return bad("json: cannot unmarshal into [][3]string"),
    };
    let mut ms = vec![];
    for row in rows {
        let cells = match row {
            Value::Null => vec![],
            Value::Array(a) => a.iter().take(3).map(string_of).collect::<Res<Vec<_>>>()?,
            _ => return bad("json: cannot unmarshal into [3]string"),
        };
        let cell = |i: usize| cells.get(i).cloned().unwrap_or_default();
        let op = match cell(1).as_str() {
            "=" => "=",
            "!=" => "!=",
            "=~" => "=~",
            "!~" => "!~",
            other => return bad(format!("unsupported match type {} in matcher", go_quote(other))),
        };
        ms.push(Matcher::new(op, &cell(0), &cell(2))?);
    }
    sort_matchers(&mut ms);
    Ok(ms.into_iter().map(|m| json!([m.name, m.op, m.value])).collect())
}

/// `*model.Duration`: a string in Prometheus duration syntax, written back canonically.
fn duration(v: &Value) -> Res<Option<(String, bool)>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => match parse_prom_duration(s) {
            Ok(d) => Ok(Some((format_prom_duration(d), d.is_zero()))),
            Err(e) => bad(e),
        },
        _ => bad("json: cannot unmarshal into string"),
    }
}

/// A definitions `Route` (no `UnmarshalJSON`: plain field decoding) with `validateChild`,
/// written back in struct order with the omitempty fields left out.
fn decode_route(v: &Value, receivers: &mut BTreeSet<String>, mute_refs: &mut Vec<String>) -> Res<Value> {
    let obj = match v {
        Value::Object(o) => o,
        // A null child route is a nil *Route, which validateChild dereferences.
        Value::Null => return Err(Invalid::Panic),
        _ => return bad("json: cannot unmarshal into definitions.Route"),
    };
    let get = |k: &str| obj.get(k).unwrap_or(&Value::Null);
    let mut out = Map::new();
    let receiver = string_of(get("receiver"))?;
    if !receiver.is_empty() {
        receivers.insert(receiver.clone());
        out.insert("receiver".into(), json!(receiver));
    }
    let group_by = string_list(get("group_by"))?;
    let labels: Vec<&String> = group_by.iter().filter(|l| *l != "...").collect();
    if !labels.is_empty() && labels.len() != group_by.len() {
        return bad("cannot have wildcard group_by (`...`) and other other labels at the same time");
    }
    let mut seen = BTreeSet::new();
    for l in &labels {
        if !seen.insert(*l) {
            return bad(format!("duplicated label {} in group_by", go_quote(l)));
        }
    }
    if !group_by.is_empty() {
        out.insert("group_by".into(), json!(group_by));
    }
    let m = string_map(get("match"))?;
    if !m.is_empty() {
        out.insert("match".into(), Value::Object(m));
    }
    let m = match_regexps(get("match_re"))?;
    if !m.is_empty() {
        out.insert("match_re".into(), Value::Object(m));
    }
    let m = matchers_field(get("matchers"))?;
    if !m.is_empty() {
        out.insert("matchers".into(), Value::Array(m));
    }
    let m = object_matchers(get("object_matchers"))?;
    if !m.is_empty() {
        out.insert("object_matchers".into(), Value::Array(m));
    }
    let mute = string_list(get("mute_time_intervals"))?;
    let cont = match get("continue") {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return bad("json: cannot unmarshal into bool"),
    };
    let children = match get("routes") {
        Value::Null => vec![],
        Value::Array(a) => a.clone(),
        _ => return bad("json: cannot unmarshal into []*definitions.Route"),
    };
    let mut routes = vec![];
    for child in &children {
        routes.push(decode_route(child, receivers, mute_refs)?);
    }
    // checkTimeInterval visits the children before the route's own names.
    mute_refs.extend(mute.iter().cloned());
    if !mute.is_empty() {
        out.insert("mute_time_intervals".into(), json!(mute));
    }
    if cont {
        out.insert("continue".into(), json!(true));
    }
    if !routes.is_empty() {
        out.insert("routes".into(), Value::Array(routes));
    }
    for key in ["group_wait", "group_interval", "repeat_interval"] {
        if let Some((text, zero)) = duration(get(key))? {
            if zero && key != "group_wait" {
                return bad(format!("{key} cannot be zero"));
            }
            out.insert(key.into(), json!(text));
        }
    }
    let provenance = string_of(get("provenance"))?;
    if !provenance.is_empty() {
        out.insert("provenance".into(), json!(provenance));
    }
    Ok(Value::Object(out))
}

/// `[]*config.InhibitRule`, each checked by `InhibitRule.UnmarshalYAML(noopUnmarshal)`.
fn decode_inhibit_rules(v: Option<&Value>) -> Res<Option<Value>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return bad("json: cannot unmarshal into []*config.InhibitRule"),
    };
    let mut out = vec![];
    for rule in list {
        let obj = match rule {
            Value::Object(o) => o,
            // A nil *InhibitRule, whose SourceMatch the check then reads.
            Value::Null => return Err(Invalid::Panic),
            _ => return bad("json: cannot unmarshal into config.InhibitRule"),
        };
        let get = |k: &str| obj.get(k).unwrap_or(&Value::Null);
        let mut r = Map::new();
        for side in ["source", "target"] {
            let m = string_map(get(&format!("{side}_match")))?;
            let re = match_regexps(get(&format!("{side}_match_re")))?;
            let ms = matchers_field(get(&format!("{side}_matchers")))?;
            if !m.is_empty() {
                r.insert(format!("{side}_match"), Value::Object(m));
            }
            if !re.is_empty() {
                r.insert(format!("{side}_match_re"), Value::Object(re));
            }
            if !ms.is_empty() {
                r.insert(format!("{side}_matchers"), Value::Array(ms));
            }
        }
        let equal = string_list(get("equal"))?;
        for l in &equal {
            // model.LabelName.UnmarshalJSON.
            if !is_label_name(l) {
                return bad(format!("{} is not a valid label name", go_quote(l)));
            }
        }
        if !equal.is_empty() {
            r.insert("equal".into(), json!(equal));
        }
        // UnmarshalYAML: the keys of source_match and target_match (decoded first).
        for side in ["source_match", "target_match"] {
            if let Some(Value::Object(m)) = r.get(side)
                && let Some(k) = m.keys().find(|k| !is_label_name(k))
            {
                return bad(format!("invalid label name {}", go_quote(k)));
            }
        }
        out.push(Value::Object(r));
    }
    Ok(Some(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_as_alertmanager_does() {
        let strings = |s: &str| parse_matchers(s).map(|ms| ms.iter().map(Matcher::string).collect::<Vec<_>>());
        assert_eq!(
            strings("{foo = \"bar\", dings != \"bums\", }"),
            Ok(vec!["foo=\"bar\"".into(), "dings!=\"bums\"".into()])
        );
        assert_eq!(strings("foo=bar,dings!=bums"), Ok(vec!["foo=\"bar\"".into(), "dings!=\"bums\"".into()]));
        assert_eq!(strings("statuscode=~\"5..\""), Ok(vec!["statuscode=~\"5..\"".into()]));
        assert_eq!(
            strings("{quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"}"),
            Ok(vec!["quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"".into()])
        );
        assert_eq!(strings("a=b,,c=d"), Err(Invalid::Decode("bad matcher format: ".into())));
        assert_eq!(strings("foo="), Err(Invalid::Panic));
        assert_eq!(strings("foo=\"\""), Ok(vec!["foo=\"\"".into()]));
        assert_eq!(
            strings("foo=\"b\"ar\""),
            Err(Invalid::Decode("matcher value contains unescaped double quote: \"b\"ar\"".into()))
        );
        assert!(matches!(strings("foo=~\"(\""), Err(Invalid::Decode(_))));
        assert_eq!(strings("1foo=bar"), Err(Invalid::Decode("bad matcher format: 1foo=bar".into())));
    }

    /// Whether Go's regexp.Compile accepts `^(?:v)$` (checked with a Go program; `(?<n>` is
    /// Go 1.17's answer, later versions accept it).
    #[test]
    fn regular_expressions_follow_go() {
        let cases = [
            ("a{", true),
            ("a{,3}", true),
            ("x**", false),
            ("x+?", true),
            ("x{2}{3}", false),
            ("a{1001}", false),
            ("a{3,2}", false),
            ("\\Q(\\E", true),
            ("\\Q(", false),
            ("[[:foo:]]", false),
            ("[[:^space:]]", true),
            ("[a[]", true),
            ("[\\pL-é]", true),
            ("\\101\\0", true),
            ("\\1", false),
            ("\\x4", false),
            ("(?i)a(?s:b)", true),
            ("(?x)a", false),
            ("(?i-)a", false),
            ("a(?i)*", true),
            ("(?P<n>a)", true),
            ("(?<n>a)", false),
            ("\\p{Greek}", true),
        ];
        for (re, ok) in cases {
            assert_eq!(compile_anchored(re).is_ok(), ok, "{re}");
        }
    }

    #[test]
    fn matchers_sort_by_name_value_type() {
        let mut ms = parse_matchers("b=1,a=2,a=1,a!=1").unwrap_or_default();
        sort_matchers(&mut ms);
        let s: Vec<String> = ms.iter().map(Matcher::string).collect();
        assert_eq!(s, vec!["a=\"1\"", "a!=\"1\"", "a=\"2\"", "b=\"1\""]);
    }
}
