//! Response builders and request-body binding that reproduce Grafana 8.5.4's wire format.

mod gojson;

pub(crate) use gojson::Field;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::{Value, json};

/// The trace id Grafana 8.5 adds to error bodies built from a Go error when tracing is off.
pub(crate) const TRACE_ID: &str = "00000000000000000000000000000000";

/// A handler result: both arms are finished responses, so guards can use `?`.
pub(crate) type R = Result<Response, Response>;

/// `response.JSON(status, body)` (pkg/api/response/response.go).
pub(crate) fn json(status: u16, body: &Value) -> Response {
    raw_json(status, serde_json::to_vec(body).unwrap_or_default(), "application/json")
}

pub(crate) fn raw_json(status: u16, bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// `response.JSON(status, v)` as encoding/json writes it, with its HTML escaping (see
/// [`go_escape`]).
pub(crate) fn go_json(status: u16, v: &Value) -> Response {
    raw_json(status, go_escape(&serde_json::to_string(v).unwrap_or_default()).into_bytes(), "application/json")
}

/// `response.JSON(status, util.DynMap{…})`: encoding/json writes a Go map with its keys sorted,
/// whatever order the source lists them in (structs keep their field order, so only the
/// top level is sorted).
pub(crate) fn json_map(status: u16, mut body: Value) -> Response {
    if let Value::Object(map) = &mut body {
        map.sort_keys();
    }
    json(status, &body)
}

/// `response.Success(msg)` (pkg/api/response/response.go).
pub(crate) fn success(msg: &str) -> Response {
    json(200, &json!({ "message": msg }))
}

/// `response.Error(status, msg, nil)`: `{"message": msg}` without a trace id.
pub(crate) fn err_plain(status: u16, msg: &str) -> Response {
    json(status, &json!({ "message": msg }))
}

/// `response.Error(status, msg, err)` with `err != nil`: production mode adds `traceID`
/// (pkg/api/response/response.go, NormalResponse.WriteTo).
pub(crate) fn err_trace(status: u16, msg: &str) -> Response {
    json(status, &json!({ "message": msg, "traceID": TRACE_ID }))
}

/// `response.JSON(status, {"status": .., "message": ..})`.
pub(crate) fn status_msg(status: u16, st: &str, msg: &str) -> Response {
    json(status, &json!({ "status": st, "message": msg }))
}

/// `c.JsonApiErr(status, msg, err)` as written by middleware (pkg/models/context.go): the
/// content type carries `charset=UTF-8`, and `traceID` is added when `err != nil`.
pub(crate) fn mw_err(status: u16, msg: &str, with_trace: bool) -> Response {
    let body = if with_trace { json!({ "message": msg, "traceID": TRACE_ID }) } else { json!({ "message": msg }) };
    raw_json(status, serde_json::to_vec(&body).unwrap_or_default(), "application/json; charset=UTF-8")
}

/// 401 `Unauthorized` from `ReqSignedIn` (pkg/middleware/auth.go, `notAuthorized`).
pub(crate) fn unauthorized() -> Response {
    mw_err(401, "Unauthorized", false)
}

/// 403 `Permission denied` from the role guards (pkg/middleware/auth.go, `accessForbidden`).
pub(crate) fn permission_denied() -> Response {
    mw_err(403, "Permission denied", false)
}

/// 400 `bad request data`, the answer to every binding failure (pkg/web/binding.go and the
/// `web.Bind` callers in pkg/api/api.go).
pub(crate) fn bad_request_data() -> Response {
    err_trace(400, "bad request data")
}

/// `web.Bind` (pkg/web/binding.go) into a struct whose JSON fields are described by `fields`:
/// the content type must parse (Go 1.17 `mime.ParseMediaType`) to `application/json`, then
/// Go's decoder runs (see the `gojson` module); unknown fields are ignored. The `binding:"Required"`
/// checks are the caller's.
pub(crate) fn bind_go<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    fields: &[(&str, Field)],
) -> Result<T, Response> {
    check_json_content_type(headers)?;
    let v = gojson::decode_struct(body, fields).map_err(|()| bad_request_data())?;
    serde_json::from_value(v).map_err(|_| bad_request_data())
}

/// A `[]string` field bound as [`Field::Nullable`], decoded as Go decodes one: `null` is a nil
/// slice, and a `null` element an empty string (for use with `#[serde(deserialize_with)]`).
pub(crate) fn go_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let items: Option<Vec<Option<String>>> = Option::deserialize(d)?;
    Ok(items.map(|items| items.into_iter().map(Option::unwrap_or_default).collect()))
}

/// `web.Bind` into a flat struct of strings, numbers and bools with these JSON field names.
pub(crate) fn bind_fields<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    fields: &[&str],
) -> Result<T, Response> {
    let fields: Vec<(&str, Field)> = fields.iter().map(|f| (*f, Field::Plain)).collect();
    bind_go(headers, body, &fields)
}

/// `web.Bind` of a whole document: the content type rule, then the first JSON value of the body
/// (`{}` when there is none or it is `null`); repeated keys keep the last value.
pub(crate) fn bind<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    check_json_content_type(headers)?;
    let v = gojson::decode_document(body).map_err(|()| bad_request_data())?;
    serde_json::from_value(v).map_err(|_| bad_request_data())
}

/// `web.Bind` reads the body only when `mime.ParseMediaType(Content-Type)` succeeds and gives
/// `application/json` (a missing header fails to parse).
fn check_json_content_type(headers: &HeaderMap) -> Result<(), Response> {
    let ct = headers.get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes())).unwrap_or_default();
    match gojson::parse_media_type(&ct) {
        Ok(m) if m == "application/json" => Ok(()),
        _ => Err(bad_request_data()),
    }
}

/// `json.Unmarshal` of a whole text into a struct with these fields (the text must hold one
/// value and nothing but whitespace after it).
pub(crate) fn unmarshal_go<T: DeserializeOwned>(text: &[u8], fields: &[(&str, Field)]) -> Option<T> {
    let v = gojson::unmarshal_struct(text, fields).ok()?;
    serde_json::from_value(v).ok()
}

/// Go's strconv.Quote, shared with the provider's offline checks.
pub(crate) use mac_alertmanager_syntax::go::go_quote;

/// Applies Go's HTML-safe escaping to already-serialised JSON (those characters can only occur
/// inside strings).
pub(crate) fn go_escape(s: &str) -> String {
    // U+2028 and U+2029 are encoded as E2 80 A8/A9; text without these bytes is unchanged.
    if !s.bytes().any(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Re-marshals a JSON value the way Go does after decoding into `interface{}`: object keys
/// sorted at every level, numbers as float64 (integral values printed without a fraction).
pub(crate) fn go_normalise(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), go_normalise(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(go_normalise).collect()),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() < 9.0e15 {
                    return json!(f as i64);
                }
            }
            v.clone()
        }
        _ => v.clone(),
    }
}

/// Parses a query-string parameter as `c.QueryInt64` does: missing or invalid is 0.
pub(crate) fn query_i64(q: &[(String, String)], key: &str) -> i64 {
    q.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

pub(crate) fn query_str<'a>(q: &'a [(String, String)], key: &str) -> &'a str {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
}

pub(crate) fn query_all<'a>(q: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    q.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}

/// `c.QueryBool` (strconv.ParseBool; errors are false).
pub(crate) fn query_bool(q: &[(String, String)], key: &str) -> bool {
    matches!(query_str(q, key), "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// `perpage` as the account searches read it: missing, invalid or not positive is 1000.
pub(crate) fn query_per_page(q: &[(String, String)]) -> i64 {
    match query_i64(q, "perpage") {
        n if n <= 0 => 1000,
        n => n,
    }
}

/// The page the paged account searches answer (pkg/api/org_users.go
/// `SearchOrgUsersWithPaging`, pkg/api/team.go `SearchTeams`,
/// pkg/services/searchusers/searchusers.go `SearchUsersWithPaging`): `perpage` as
/// [`query_per_page`] reads it and `page` at least 1, for `LIMIT perpage OFFSET (page - 1) *
/// perpage`.
pub(crate) struct Paging {
    pub(crate) page: i64,
    pub(crate) per_page: i64,
}

impl Paging {
    pub(crate) fn from_query(q: &[(String, String)]) -> Paging {
        Paging { page: query_i64(q, "page").max(1), per_page: query_per_page(q) }
    }

    /// The rows of the page.
    pub(crate) fn rows<T>(&self, all: impl IntoIterator<Item = T>) -> impl Iterator<Item = T> {
        all.into_iter().skip((self.page - 1).saturating_mul(self.per_page) as usize).take(self.per_page as usize)
    }

    /// The answer: `totalCount`, the page's rows under `key`, `page` and `perPage`.
    pub(crate) fn answer(&self, total: usize, key: &str, rows: Vec<Value>) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("totalCount".into(), json!(total));
        out.insert(key.into(), Value::Array(rows));
        out.insert("page".into(), json!(self.page));
        out.insert("perPage".into(), json!(self.per_page));
        Value::Object(out)
    }
}

/// Parses a raw query string into ordered pairs.
pub(crate) fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path id parsed as Grafana's handlers parse one
/// (`strconv.ParseInt(web.Params(c.Req)[":id"], 10, 64)`); the message names the parameter
/// (`response.Error(400, "<param> is invalid", err)`).
pub(crate) fn parse_param(raw: &str, param: &str) -> Result<i64, Response> {
    raw.parse::<i64>().map_err(|_| err_trace(400, &format!("{param} is invalid")))
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_as_go_percent_q() {
        // The expectation is Go's fmt.Sprintf("%q", ...) of the same text.
        let s = "a\u{7}\u{1b}\u{a0}\u{200b}\u{85}é\u{fffd}😀\"\\\u{7f}";
        assert_eq!(go_quote(s), r#""a\a\x1b\u00a0\u200b\u0085é�😀\"\\\x7f""#);
        assert_eq!(go_quote("a\u{0}b\u{7f}é\u{200b}\t\"\\"), "\"a\\x00b\\x7fé\\u200b\\t\\\"\\\\\"");
    }
}
