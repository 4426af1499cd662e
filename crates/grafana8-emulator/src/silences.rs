//! Grafana-managed Alertmanager silences at v8.5.4: the routes of
//! pkg/services/ngalert/api/generated_base_api_alertmanager.go served by
//! pkg/services/ngalert/api/api_alertmanager.go (`RouteGetSilences`, `RouteCreateSilence`,
//! `RouteGetSilence`, `RouteDeleteSilence`) over pkg/services/ngalert/notifier/silences.go,
//! which drives the vendored prometheus/alertmanager (v0.23.1-0.20211116083607-e2a10119aaf7):
//! `silence.Silences` (silence/silence.go: `Set`, `canUpdate`, `expire`, `validateSilence`,
//! `ValidateMatcher`), the API models (api/v2/models: `PostableSilence`, `Silence`,
//! `Matcher`, `GettableSilence`) and their conversions and ordering (api/v2/compat.go,
//! api/v2/api.go `SortSilences`, `CheckSilenceMatchesFilterLabels`), and
//! pkg/labels/parse.go `ParseMatcher` for the `filter` parameter.
//!
//! Each org has its own Alertmanager and so its own silences. Silences are never deleted by
//! the API, only expired; an expired one stays listed until the retention of
//! notifier/alertmanager.go (`retentionNotificationsAndSilences`, 5 days after its end) has
//! passed.

use crate::auth::Identity;
use crate::gotime::GoTime;
use crate::http::{Field, R, TRACE_ID, bad_request_data, bind_go, go_json, go_quote, json_map, parse_query, query_all};
use crate::server::App;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use rand::Rng;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

const SILENCES: &str = "/api/alertmanager/grafana/api/v2/silences";
const SILENCE: &str = "/api/alertmanager/grafana/api/v2/silence/{SilenceId}";

/// notifier/alertmanager.go `retentionNotificationsAndSilences`.
const RETENTION_SECS: i64 = 5 * 24 * 3600;

/// The routes; authorization.go gives them `ReqSignedIn` (GET) and `ReqEditorRole` (POST,
/// DELETE) while RBAC is off, as it is by default in 8.5.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(SILENCES, get(list_silences).post(create_silence))
        .route(SILENCE, get(get_silence).delete(delete_silence))
}

/// silencepb `Matcher_Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

/// A silence's matcher (silencepb `Matcher`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Matcher {
    kind: MatchType,
    name: String,
    pattern: String,
}

/// A stored silence (silencepb `Silence`).
#[derive(Clone, Debug)]
pub(crate) struct Silence {
    id: String,
    matchers: Vec<Matcher>,
    starts_at: GoTime,
    ends_at: GoTime,
    updated_at: GoTime,
    created_by: String,
    comment: String,
}

/// silence/silence.go `SilenceState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }

    /// api/v2/api.go `silenceStateOrder`.
    fn order(self) -> u8 {
        match self {
            SilenceState::Active => 1,
            SilenceState::Pending => 2,
            SilenceState::Expired => 3,
        }
    }
}

impl Silence {
    /// silence/silence.go `getState`, which `Set`, `canUpdate` and `expire` use: pending
    /// before the start, expired after the end, active at either bound.
    fn state(&self, now: GoTime) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now > self.ends_at {
            SilenceState::Expired
        } else {
            SilenceState::Active
        }
    }

    /// types/types.go `CalcSilenceState`, which the API answers: active only strictly
    /// before the end.
    fn api_state(&self, now: GoTime) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// api/v2/compat.go `GettableSilenceFromProto`, written as `GettableSilence.MarshalJSON`
    /// orders it: `id`, `status`, `updatedAt`, then the `Silence` fields.
    fn to_json(&self, now: GoTime) -> Value {
        let matchers: Vec<Value> = self
            .matchers
            .iter()
            .map(|m| {
                let (is_equal, is_regex) = match m.kind {
                    MatchType::Equal => (true, false),
                    MatchType::NotEqual => (false, false),
                    MatchType::Regexp => (true, true),
                    MatchType::NotRegexp => (false, true),
                };
                json!({"isEqual": is_equal, "isRegex": is_regex, "name": m.name, "value": m.pattern})
            })
            .collect();
        json!({
            "id": self.id,
            "status": {"state": self.api_state(now).as_str()},
            "updatedAt": self.updated_at.to_millis_string(),
            "comment": self.comment,
            "createdBy": self.created_by,
            "endsAt": self.ends_at.to_millis_string(),
            "matchers": matchers,
            "startsAt": self.starts_at.to_millis_string(),
        })
    }
}

/// One org's `silence.Silences` state.
#[derive(Debug, Default)]
pub(crate) struct OrgSilences {
    by_id: BTreeMap<String, Silence>,
}

impl OrgSilences {
    /// silence/silence.go `GC`, which the maintenance loop runs every 15 minutes: a silence
    /// goes once its end is a retention period past. Run before every read here.
    fn gc(&mut self, now: GoTime) {
        self.by_id.retain(|_, s| s.ends_at.add_secs(RETENTION_SECS) > now);
    }

    /// silence/silence.go `setSilence`: stamps `UpdatedAt`, validates, stores.
    fn set_silence(&mut self, mut sil: Silence, now: GoTime) -> Result<(), String> {
        sil.updated_at = now;
        validate_silence(&sil).map_err(|e| format!("silence invalid: {e}"))?;
        self.by_id.insert(sil.id.clone(), sil);
        Ok(())
    }

    /// silence/silence.go `Set`: an unknown id is `ErrNotFound`; a silence that `canUpdate`
    /// allows is changed in place; otherwise the previous one is expired (unless it already
    /// is) and the silence is stored under a new id, starting no earlier than now.
    fn set(&mut self, mut sil: Silence, now: GoTime) -> Result<String, SetError> {
        let prev = self.by_id.get(&sil.id).cloned();
        if !sil.id.is_empty() && prev.is_none() {
            return Err(SetError::NotFound);
        }
        if let Some(prev) = prev {
            if can_update(&prev, &sil, now) {
                let id = sil.id.clone();
                return self.set_silence(sil, now).map(|()| id).map_err(SetError::Invalid);
            }
            if prev.state(now) != SilenceState::Expired {
                self.expire(&prev.id, now).map_err(|e| SetError::Invalid(format!("expire previous silence: {e}")))?;
            }
        }
        sil.id = uuid_v4();
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        let id = sil.id.clone();
        self.set_silence(sil, now).map(|()| id).map_err(SetError::Invalid)
    }

    /// silence/silence.go `expire`: an active silence ends now, a pending one starts and ends
    /// now; an expired one cannot be expired again.
    fn expire(&mut self, id: &str, now: GoTime) -> Result<(), ExpireError> {
        let Some(mut sil) = self.by_id.get(id).cloned() else { return Err(ExpireError::NotFound) };
        match sil.state(now) {
            SilenceState::Expired => return Err(ExpireError::Other(format!("silence {id} already expired"))),
            SilenceState::Active => sil.ends_at = now,
            SilenceState::Pending => {
                sil.starts_at = now;
                sil.ends_at = now;
            }
        }
        self.set_silence(sil, now).map_err(ExpireError::Other)
    }
}

enum SetError {
    NotFound,
    Invalid(String),
}

enum ExpireError {
    NotFound,
    Other(String),
}

impl std::fmt::Display for ExpireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpireError::NotFound => f.write_str("silence not found"),
            ExpireError::Other(e) => f.write_str(e),
        }
    }
}

/// silence/silence.go `canUpdate`: the same matchers (in order), and times that keep the
/// history: an active silence keeps its start and may not end in the past; a pending one
/// may not start in the past; an expired one never changes.
fn can_update(a: &Silence, b: &Silence, now: GoTime) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match a.state(now) {
        SilenceState::Active => b.starts_at == a.starts_at && b.ends_at >= now,
        SilenceState::Pending => b.starts_at >= now,
        SilenceState::Expired => false,
    }
}

/// A random (version 4) UUID, as `uuid.NewV4()` gives silence ids.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

// ---------------------------------------------------------------------------------------------
// Validation

/// silence/silence.go `validateSilence` (the id is always set by the time `Set` calls it).
fn validate_silence(s: &Silence) -> Result<(), String> {
    if s.id.is_empty() {
        return Err("ID missing".into());
    }
    if s.matchers.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut all_match_empty = true;
    for (i, m) in s.matchers.iter().enumerate() {
        validate_matcher(m).map_err(|e| format!("invalid label matcher {i}: {e}"))?;
        all_match_empty = all_match_empty && matches_empty(m);
    }
    if all_match_empty {
        return Err("at least one matcher must not match the empty string".into());
    }
    if s.ends_at < s.starts_at {
        return Err("end time must not be before start time".into());
    }
    Ok(())
}

/// silence/silence.go `ValidateMatcher`: a Prometheus label name (prometheus/common v0.32.1
/// `LabelName.IsValid`), and a pattern that compiles for the regex types (label values are
/// valid UTF-8 once decoded from JSON).
fn validate_matcher(m: &Matcher) -> Result<(), String> {
    let valid_name = !m.name.is_empty()
        && m.name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (b.is_ascii_digit() && i > 0));
    if !valid_name {
        return Err(format!("invalid label name {}", go_quote(&m.name)));
    }
    if matches!(m.kind, MatchType::Regexp | MatchType::NotRegexp)
        && let Err(e) = go_regexp(&m.pattern)
    {
        return Err(format!("invalid regular expression {}: {e}", go_quote(&m.pattern)));
    }
    Ok(())
}

/// silence/silence.go `matchesEmpty`: `=""`, or a regex that finds a match in the empty
/// string (unanchored, as `regexp.MatchString`).
fn matches_empty(m: &Matcher) -> bool {
    match m.kind {
        MatchType::Equal => m.pattern.is_empty(),
        MatchType::Regexp => go_regexp(&m.pattern).is_ok_and(|re| re.is_match("")),
        MatchType::NotEqual | MatchType::NotRegexp => false,
    }
}

/// Compiles a pattern as Go's `regexp.Compile` would accept it, answering a refusal with Go's
/// text, `error parsing regexp: <code>: `<fragment>``, for the codes of regexp/syntax
/// (parse.go `ErrorCode`). The syntax is checked by the `regex` crate, whose RE2 dialect is
/// Go's but for a few corners (see the README's known differences); its error kinds are
/// mapped to Go's codes and fragments.
fn go_regexp(pattern: &str) -> Result<regex::Regex, String> {
    use regex_syntax::ast::ErrorKind as A;
    let go = |code: &str, frag: &str| format!("error parsing regexp: {code}: `{frag}`");
    if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
        let (span, kind) = match &e {
            regex_syntax::Error::Parse(a) => ((a.span().start.offset, a.span().end.offset), Some(a.kind().clone())),
            regex_syntax::Error::Translate(h) => ((h.span().start.offset, h.span().end.offset), None),
            _ => ((0, pattern.len()), None),
        };
        let frag = pattern.get(span.0..span.1.max(span.0)).unwrap_or(pattern);
        let msg = match kind {
            Some(A::GroupUnclosed) => go("missing closing )", pattern),
            Some(A::GroupUnopened) => go("unexpected )", pattern),
            Some(A::ClassUnclosed) => go("missing closing ]", pattern.get(span.0..).unwrap_or(pattern)),
            Some(A::RepetitionMissing) => {
                // The operator: one character, or a whole `{n,m}`.
                let rest = pattern.get(span.0..).unwrap_or("");
                let op = match rest.find('}') {
                    Some(end) if rest.starts_with('{') => &rest[..=end],
                    _ => rest.get(..rest.chars().next().map_or(0, char::len_utf8)).unwrap_or(""),
                };
                go("missing argument to repetition operator", op)
            }
            Some(A::EscapeUnexpectedEof) => go("trailing backslash at end of expression", ""),
            Some(A::EscapeUnrecognized | A::EscapeHexEmpty | A::EscapeHexInvalid | A::EscapeHexInvalidDigit) => {
                go("invalid escape sequence", frag)
            }
            Some(A::RepetitionCountInvalid | A::RepetitionCountDecimalEmpty | A::RepetitionCountUnclosed) => {
                go("invalid repeat count", frag)
            }
            Some(A::ClassRangeInvalid | A::ClassRangeLiteral | A::ClassEscapeInvalid) => {
                go("invalid character class range", frag)
            }
            Some(
                A::GroupNameEmpty | A::GroupNameInvalid | A::GroupNameUnexpectedEof | A::GroupNameDuplicate { .. },
            ) => go("invalid named capture", frag),
            Some(A::NestLimitExceeded(_)) => go("expression nests too deeply", frag),
            Some(_) => go("invalid or unsupported Perl syntax", frag),
            // Translation errors are unknown Unicode classes (`\pX`), which Go reports so.
            None => go("invalid character class range", frag),
        };
        return Err(msg);
    }
    let ast = regex_syntax::ast::parse::Parser::new().parse(pattern).map_err(|_| go("missing closing )", pattern))?;
    if let Some((code, span)) = go_repeat_error(&ast) {
        return Err(go(code, pattern.get(span.0..span.1).unwrap_or(pattern)));
    }
    regex::Regex::new(pattern).map_err(|_| go("expression too large", pattern))
}

/// What Go's parser (regexp/syntax parse.go `repeat`) refuses and the `regex` crate takes:
/// a repetition of a repetition (`a**`, `a+{2}`; `*?` is one lazy operator) and a count
/// above 1000. The code and the byte span of Go's fragment.
fn go_repeat_error(ast: &regex_syntax::ast::Ast) -> Option<(&'static str, (usize, usize))> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    match ast {
        Ast::Repetition(rep) => {
            if let Ast::Repetition(inner) = &*rep.ast {
                return Some((
                    "invalid nested repetition operator",
                    (inner.op.span.start.offset, rep.op.span.end.offset),
                ));
            }
            if let RepetitionKind::Range(
                RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) | RepetitionRange::Bounded(_, n),
            ) = rep.op.kind
                && n > 1000
            {
                return Some(("invalid repeat count", (rep.op.span.start.offset, rep.op.span.end.offset)));
            }
            go_repeat_error(&rep.ast)
        }
        Ast::Group(g) => go_repeat_error(&g.ast),
        Ast::Alternation(a) => a.asts.iter().find_map(go_repeat_error),
        Ast::Concat(c) => c.asts.iter().find_map(go_repeat_error),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding a PostableSilence

/// A decoded `PostableSilence`: `None` where the JSON had no value (or `null`).
/// `PostableSilence.UnmarshalJSON` (api/v2/models/postable_silence.go) reads the id, then the
/// embedded `Silence`, both through `swag.ReadJSON` (encoding/json), into these fields; any
/// failure is a binding failure.
#[derive(Default, Deserialize)]
struct Postable {
    #[serde(default)]
    id: String,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, rename = "createdBy")]
    created_by: Option<String>,
    #[serde(default, rename = "endsAt", deserialize_with = "opt_time")]
    ends_at: Option<GoTime>,
    #[serde(default, rename = "startsAt", deserialize_with = "opt_time")]
    starts_at: Option<GoTime>,
    /// `None`: absent or null; an element `None`: a `null` matcher.
    #[serde(default)]
    matchers: Option<Vec<Option<PostableMatcher>>>,
}

/// `PostableSilence`'s fields: `id` is a string, the rest pointers, and `Matchers` a slice of
/// `*Matcher`, whose fields are pointers too.
const POSTABLE_FIELDS: &[(&str, Field)] = &[
    ("id", Field::Plain),
    ("comment", Field::Nullable),
    ("createdBy", Field::Nullable),
    ("endsAt", Field::Nullable),
    ("startsAt", Field::Nullable),
    ("matchers", Field::StructPointers(MATCHER_FIELDS)),
];

const MATCHER_FIELDS: &[(&str, Field)] = &[
    ("isEqual", Field::Nullable),
    ("isRegex", Field::Nullable),
    ("name", Field::Nullable),
    ("value", Field::Nullable),
];

#[derive(Default, Deserialize)]
struct PostableMatcher {
    #[serde(default, rename = "isEqual")]
    is_equal: Option<bool>,
    #[serde(default, rename = "isRegex")]
    is_regex: Option<bool>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// strfmt `DateTime.UnmarshalJSON` behind a pointer: `null` leaves it nil; a string that no
/// layout parses is a decoding error.
fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GoTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => GoTime::parse_strfmt(&s).map(Some).ok_or_else(|| D::Error::custom("not a strfmt date-time")),
    }
}

/// go-openapi/errors v0.20.0: a `CompositeError` writes `validation failure list:` and then
/// each of its errors on a line of its own.
enum OpenApiError {
    Leaf(String),
    Composite(Vec<OpenApiError>),
}

impl std::fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenApiError::Leaf(s) => f.write_str(s),
            OpenApiError::Composite(list) => {
                f.write_str("validation failure list:")?;
                for e in list {
                    write!(f, "\n{e}")?;
                }
                Ok(())
            }
        }
    }
}

/// `PostableSilence.Validate(strfmt.Default)`: the embedded `Silence.Validate` in a
/// composite of its own. `Silence.Validate` checks `comment`, `createdBy`, `endsAt`,
/// `matchers`, `startsAt` in that order (`validate.Required`: `<name> in body is required`
/// for a nil pointer or slice; an empty string passes); `Matchers.Validate` wants at least
/// one item and stops at the first matcher whose own composite (`isRegex`, `name`, `value`)
/// is not empty; a `null` matcher is skipped (`swag.IsZero`). Dates that parsed always pass
/// their `date-time` format check.
fn validate_postable(p: &Postable) -> Result<(), OpenApiError> {
    let required = |name: &str| OpenApiError::Leaf(format!("{name} in body is required"));
    let mut errs = vec![];
    if p.comment.is_none() {
        errs.push(required("comment"));
    }
    if p.created_by.is_none() {
        errs.push(required("createdBy"));
    }
    if p.ends_at.is_none() {
        errs.push(required("endsAt"));
    }
    match &p.matchers {
        None => errs.push(required("matchers")),
        Some(list) if list.is_empty() => {
            // `validate.MinItems("", …)`, then renamed by `ValidateName("matchers")`.
            errs.push(OpenApiError::Leaf("matchers in body should have at least 1 items".into()));
        }
        Some(list) => {
            for m in list.iter().flatten() {
                let mut inner = vec![];
                if m.is_regex.is_none() {
                    inner.push(required("isRegex"));
                }
                if m.name.is_none() {
                    inner.push(required("name"));
                }
                if m.value.is_none() {
                    inner.push(required("value"));
                }
                if !inner.is_empty() {
                    errs.push(OpenApiError::Composite(inner));
                    break;
                }
            }
        }
    }
    if p.starts_at.is_none() {
        errs.push(required("startsAt"));
    }
    if errs.is_empty() { Ok(()) } else { Err(OpenApiError::Composite(vec![OpenApiError::Composite(errs)])) }
}

// ---------------------------------------------------------------------------------------------
// The filter parameter

/// pkg/labels/parse.go `re` (Go's `\s` is `[\t\n\f\r ]`).
static MATCHER_RE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*((?s).*?)[\t\n\f\r ]*$",
    )
    .unwrap_or_else(|e| panic!("the matcher expression compiles: {e}"))
});

/// The outcome of `labels.ParseMatcher` on one filter.
#[derive(Debug)]
enum FilterError {
    /// The error text.
    Bad(String),
    /// `rawValue[0]` on an empty value: an index-out-of-range panic in 8.5.4's vendored
    /// parser, which the recovery middleware answers.
    Panic,
}

/// pkg/labels/parse.go `ParseMatcher` and matcher.go `NewMatcher` (a regex type compiles
/// `^(?:<value>)$`).
fn parse_filter_matcher(s: &str) -> Result<Matcher, FilterError> {
    let Some(caps) = MATCHER_RE.captures(s) else {
        return Err(FilterError::Bad(format!("bad matcher format: {s}")));
    };
    let (name, op, raw_all) = (&caps[1], &caps[2], &caps[3]);
    let mut raw = raw_all;
    if raw.is_empty() {
        return Err(FilterError::Panic);
    }
    let mut expect_trailing_quote = false;
    if let Some(rest) = raw.strip_prefix('"') {
        raw = rest;
        expect_trailing_quote = true;
    }
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if i < raw.len() - 1 => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_trailing_quote || i < raw.len() - 1 {
                    return Err(FilterError::Bad(format!("matcher value contains unescaped double quote: {raw_all}")));
                }
                expect_trailing_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(FilterError::Bad(format!("matcher value contains unescaped double quote: {raw_all}")));
    }
    let kind = match op {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regexp,
        _ => MatchType::NotRegexp,
    };
    if matches!(kind, MatchType::Regexp | MatchType::NotRegexp) {
        go_regexp(&format!("^(?:{value})$")).map_err(FilterError::Bad)?;
    }
    Ok(Matcher { kind, name: name.to_string(), pattern: value })
}

/// api/v2/api.go `CheckSilenceMatchesFilterLabels`: every filter has a matcher of the
/// silence with the same name, type and (unescaped) value.
fn matches_filters(s: &Silence, filters: &[Matcher]) -> bool {
    filters.iter().all(|f| s.matchers.iter().any(|m| m == f))
}

/// api/v2/api.go `SortSilences`: active, then pending, then expired; active by end (soonest
/// first), pending by start (soonest first), expired by end (latest first). Go's
/// `sort.Slice` is not stable and the store is a map, so 8.5.4 orders ties at random; here
/// they go by id.
fn sort_silences(list: &mut [(SilenceState, &Silence)]) {
    list.sort_by(|(sa, a), (sb, b)| {
        sa.order()
            .cmp(&sb.order())
            .then_with(|| match sa {
                SilenceState::Active => a.ends_at.cmp(&b.ends_at),
                SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
                SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
            })
            .then_with(|| a.id.cmp(&b.id))
    });
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// `ErrResp(status, err, "")` (api/util.go): `response.Error(status, err.Error(), err)`,
/// marshalled by encoding/json with its HTML escaping.
fn err_resp(status: u16, msg: &str) -> Response {
    go_json(status, &json!({"message": msg, "traceID": TRACE_ID}))
}

/// `RouteGetSilences` -> notifier `ListSilences`: the filters are parsed first
/// (`unable to list silences: <err>`, 400), then every silence of the org is matched,
/// converted and sorted.
async fn list_silences(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, uri: Uri) -> R {
    let q = parse_query(uri.query());
    let mut filters = vec![];
    for f in query_all(&q, "filter") {
        match parse_filter_matcher(f) {
            Ok(m) => filters.push(m),
            Err(FilterError::Bad(e)) => return Err(err_resp(400, &format!("unable to list silences: {e}"))),
            Err(FilterError::Panic) => return Err(crate::alerting::panic_response()),
        }
    }
    let now = GoTime::now();
    let mut db = app.db();
    let store = db.silences.entry(id.org_id).or_default();
    store.gc(now);
    let mut list: Vec<(SilenceState, &Silence)> =
        store.by_id.values().filter(|s| matches_filters(s, &filters)).map(|s| (s.api_state(now), s)).collect();
    sort_silences(&mut list);
    let out: Vec<Value> = list.into_iter().map(|(_, s)| s.to_json(now)).collect();
    Ok(go_json(200, &Value::Array(out)))
}

/// `RouteGetSilence` -> notifier `GetSilence`: 404 `silence not found` (silence.ErrNotFound).
async fn get_silence(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(silence_id): Path<String>,
) -> R {
    let now = GoTime::now();
    let mut db = app.db();
    let store = db.silences.entry(id.org_id).or_default();
    store.gc(now);
    match store.by_id.get(&silence_id) {
        Some(s) => Ok(go_json(200, &s.to_json(now))),
        None => Err(err_resp(404, "silence not found")),
    }
}

/// `RouteCreateSilence`: bound by `web.Bind` (400 `bad request data`), validated against the
/// OpenAPI model (400 `silence failed validation: <composite>`), then notifier
/// `CreateSilence`: start before end, end not in the past, and `silences.Set`. The answer is
/// 202 `{"id", "message": "silence created"}`. (The handler's own 401 `user is not
/// authorized to create silences` needs RBAC; without it `ReqEditorRole` has already let
/// only editors and admins through.)
async fn create_silence(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    let p: Postable = bind_go(&headers, &body, POSTABLE_FIELDS)?;
    validate_postable(&p).map_err(|e| err_resp(400, &format!("silence failed validation: {e}")))?;
    // api/v2/compat.go `PostableSilenceToProto` dereferences every matcher, so a `null` one,
    // which validation skipped, panics; the recovery middleware answers.
    let mut matchers = vec![];
    for m in p.matchers.unwrap_or_default() {
        let Some(m) = m else { return Err(crate::alerting::panic_response()) };
        let kind = match (m.is_equal.unwrap_or(true), m.is_regex.unwrap_or(false)) {
            (true, false) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (false, true) => MatchType::NotRegexp,
        };
        matchers.push(Matcher { kind, name: m.name.unwrap_or_default(), pattern: m.value.unwrap_or_default() });
    }
    let now = GoTime::now();
    let (Some(starts_at), Some(ends_at)) = (p.starts_at, p.ends_at) else {
        return Err(bad_request_data());
    };
    let sil = Silence {
        id: p.id,
        matchers,
        starts_at,
        ends_at,
        updated_at: now,
        created_by: p.created_by.unwrap_or_default(),
        comment: p.comment.unwrap_or_default(),
    };
    // notifier/silences.go: `fmt.Errorf("%s: %w", msg, ErrCreateSilenceBadPayload)`.
    if sil.starts_at >= sil.ends_at {
        return Err(err_resp(400, "start time must be before end time: unable to create silence"));
    }
    if sil.ends_at < now {
        return Err(err_resp(400, "end time can't be in the past: unable to create silence"));
    }
    let mut db = app.db();
    let store = db.silences.entry(id.org_id).or_default();
    store.gc(now);
    match store.set(sil, now) {
        Ok(silence_id) => Ok(json_map(202, json!({"message": "silence created", "id": silence_id}))),
        Err(SetError::NotFound) => Err(err_resp(404, "silence not found")),
        Err(SetError::Invalid(e)) => {
            Err(err_resp(400, &format!("unable to save silence: {e}: unable to create silence")))
        }
    }
}

/// `RouteDeleteSilence` -> notifier `DeleteSilence` -> `silences.Expire`: 200
/// `silence deleted`; 404 `silence not found`; expiring an expired silence is a 500
/// (`<err>: unable to delete silence due to an internal error`).
async fn delete_silence(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(silence_id): Path<String>,
) -> R {
    id.require_editor()?;
    let now = GoTime::now();
    let mut db = app.db();
    let store = db.silences.entry(id.org_id).or_default();
    store.gc(now);
    match store.expire(&silence_id, now) {
        Ok(()) => Ok(json_map(200, json!({"message": "silence deleted"}))),
        Err(ExpireError::NotFound) => Err(err_resp(404, "silence not found")),
        Err(e) => Err(err_resp(500, &format!("{e}: unable to delete silence due to an internal error"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_regexp_errors_read_as_go_writes_them() {
        // Go's regexp/syntax texts, as `regexp.Compile` returns them for these patterns.
        let cases = [
            ("(", "error parsing regexp: missing closing ): `(`"),
            ("a(b", "error parsing regexp: missing closing ): `a(b`"),
            (")", "error parsing regexp: unexpected ): `)`"),
            ("[a", "error parsing regexp: missing closing ]: `[a`"),
            ("*", "error parsing regexp: missing argument to repetition operator: `*`"),
            ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
            ("x{2}*", "error parsing regexp: invalid nested repetition operator: `{2}*`"),
            ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
            ("x{2,1}", "error parsing regexp: invalid repeat count: `{2,1}`"),
            ("\\q", "error parsing regexp: invalid escape sequence: `\\q`"),
            ("a\\", "error parsing regexp: trailing backslash at end of expression: ``"),
            ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
            ("^(?:()$", "error parsing regexp: missing closing ): `^(?:()$`"),
        ];
        for (pattern, want) in cases {
            assert_eq!(go_regexp(pattern).err().as_deref(), Some(want), "{pattern}");
        }
        assert!(go_regexp("a|b.*?").is_ok());
    }

    #[test]
    fn filters_parse_as_the_vendored_parse_matcher() {
        let Ok(m) = parse_filter_matcher(" alertname = \"a \\\"b\\\"\" ") else { panic!("parses") };
        assert_eq!((m.kind, m.name.as_str(), m.pattern.as_str()), (MatchType::Equal, "alertname", "a \"b\""));
        let Ok(m) = parse_filter_matcher("team!~ops|dev") else { panic!("parses") };
        assert_eq!((m.kind, m.pattern.as_str()), (MatchType::NotRegexp, "ops|dev"));
        assert!(matches!(parse_filter_matcher("foo"), Err(FilterError::Bad(e)) if e == "bad matcher format: foo"));
        assert!(matches!(parse_filter_matcher("foo="), Err(FilterError::Panic)));
        assert!(matches!(parse_filter_matcher("a=b\"c"),
            Err(FilterError::Bad(e)) if e == "matcher value contains unescaped double quote: b\"c"));
    }

    #[test]
    fn uuids_are_version_4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }
}
