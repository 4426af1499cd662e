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
use crate::http::{Field, R, TRACE_ID, bad_request_data, bind_go, go_json, json_map, parse_query, query_all};
use crate::server::App;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::sync::{Arc, LazyLock};

pub(crate) mod store;

use store::*;

const SILENCES: &str = "/api/alertmanager/grafana/api/v2/silences";
const SILENCE: &str = "/api/alertmanager/grafana/api/v2/silence/{SilenceId}";

/// The routes; authorization.go gives them `ReqSignedIn` (GET) and `ReqEditorRole` (POST,
/// DELETE) while RBAC is off, as it is by default in 8.5.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(SILENCES, get(list_silences).post(create_silence))
        .route(SILENCE, get(get_silence).delete(delete_silence))
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
