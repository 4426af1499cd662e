//! Grafana-managed Alertmanager silences: pkg/services/ngalert/api/api_alertmanager.go
//! (`RouteCreateSilence` :53-90, `RouteDeleteSilence` :106-120, `RouteGetSilence` :184-200,
//! `RouteGetSilences` :202-217), pkg/services/ngalert/notifier/silences.go, and the vendored
//! prometheus/alertmanager v0.23.1-0.20211116083607-e2a10119aaf7 (go.mod:81): silence/silence.go,
//! api/v2/compat.go, api/v2/api.go, api/v2/models, pkg/labels/parse.go; the validation texts
//! of go-openapi/errors v0.20.0 (go.mod:167) and the time layouts of go-openapi/strfmt v0.20.2
//! (go.mod:38).
//!
//! Every silence a test makes carries a matcher `test=<unique>`, and lists are read with that
//! filter, so that the tests can share a server.

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

const SILENCES: &str = "/api/alertmanager/grafana/api/v2/silences";

fn silence_path(id: &str) -> String {
    format!("/api/alertmanager/grafana/api/v2/silence/{id}")
}

/// Now plus `secs` (negative: in the past) as RFC 3339 with milliseconds, UTC.
fn at(secs: i64) -> String {
    let now = SystemTime::now();
    let t =
        if secs >= 0 { now + Duration::from_secs(secs as u64) } else { now - Duration::from_secs(secs.unsigned_abs()) };
    humantime::format_rfc3339_millis(t).to_string()
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn list_path(filters: &[&str]) -> String {
    let q: Vec<String> = filters.iter().map(|f| format!("filter={}", enc(f))).collect();
    format!("{SILENCES}?{}", q.join("&"))
}

fn eq_matcher(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value, "isRegex": false, "isEqual": true})
}

fn silence(tag: &str, starts_at: &str, ends_at: &str) -> Value {
    json!({"comment": "maintenance", "createdBy": "ops", "startsAt": starts_at, "endsAt": ends_at,
           "matchers": [eq_matcher("test", tag), {"name": "team", "value": "ops|dev", "isRegex": true}]})
}

/// POSTs a silence and returns its id (202 `{"id", "message": "silence created"}`,
/// api_alertmanager.go:89).
async fn create(t: &Target, body: Value) -> String {
    let (s, b) = t.send("POST", SILENCES, &t.admin(), Some(body)).await;
    assert_eq!((s, &b["message"]), (202, &json!("silence created")), "{b}");
    assert_eq!(b.as_object().map(|o| o.len()), Some(2), "{b}");
    b["id"].as_str().expect("id").to_string()
}

async fn get(t: &Target, id: &str) -> Value {
    let (s, b) = t.send("GET", &silence_path(id), &t.admin(), None).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn list(t: &Target, tag: &str) -> Vec<Value> {
    let (s, b) = t.send("GET", &list_path(&[&format!("test={tag}")]), &t.admin(), None).await;
    assert_eq!(s, 200, "{b}");
    b.as_array().expect("a list").clone()
}

fn state(v: &Value) -> &str {
    v["status"]["state"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_created_silence_reads_back_as_the_api_models_write_it() {
    let t = Target::new().await;
    let tag = unique("create");
    let mut body = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T02:00:00+02:00");
    body["comment"] = json!("Database <maintenance> & backup");
    let id = create(&t, body).await;
    // silence/silence.go:567: a new silence's id is `uuid.NewV4()`.
    assert!(id.len() == 36 && id.as_bytes()[14] == b'4' && id.split('-').count() == 5, "{id}");
    let got = get(&t, &id).await;
    // api/v2/compat.go:28-78 `GettableSilenceFromProto`, marshalled by
    // api/v2/models/gettable_silence.go `MarshalJSON` (id, status, updatedAt, then the Silence
    // fields): times as strfmt's `RFC3339Millis` in the offset they were given (a `+02:00`
    // stays), `isEqual` defaulting to true (compat.go:94), the state from `CalcSilenceState`.
    assert_eq!(
        redact(&got, &["updatedAt"]),
        json!({"id": id, "status": {"state": "pending"}, "updatedAt": "<_>",
               "comment": "Database <maintenance> & backup", "createdBy": "ops",
               "endsAt": "2099-01-02T02:00:00.000+02:00",
               "matchers": [{"isEqual": true, "isRegex": false, "name": "test", "value": tag},
                            {"isEqual": true, "isRegex": true, "name": "team", "value": "ops|dev"}],
               "startsAt": "2099-01-01T00:00:00.000Z"})
    );
    let keys: Vec<&str> = got.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "status", "updatedAt", "comment", "createdBy", "endsAt", "matchers", "startsAt"]);
    assert!(got["updatedAt"].as_str().is_some_and(|u| u.ends_with('Z') && u.len() == 24), "{got}");
    // The list holds the same object (api_alertmanager.go:216 `response.JSON(200, gettableSilences)`).
    assert_eq!(list(&t, &tag).await, vec![got]);
    // An unknown id: api_alertmanager.go:193-194 `ErrResp(404, err, "")` with
    // silence/silence.go:44 `ErrNotFound` ("silence not found").
    let (s, b) = t.send("GET", &silence_path("no-such-silence"), &t.admin(), None).await;
    assert_eq!((s, b), (404, msg_trace("silence not found")));
}

#[tokio::test]
async fn a_past_start_becomes_now_and_the_silence_is_active() {
    let t = Target::new().await;
    let tag = unique("active");
    let before = at(0);
    let id = create(&t, silence(&tag, "2020-01-01T00:00:00.000Z", &at(3600))).await;
    let got = get(&t, &id).await;
    // silence/silence.go:573-575: `if sil.StartsAt.Before(now) { sil.StartsAt = now }`.
    let starts = got["startsAt"].as_str().expect("startsAt");
    assert!(starts >= before.as_str() && starts <= at(0).as_str(), "{starts} not now ({before})");
    assert_eq!(state(&got), "active");
    assert_eq!(got["updatedAt"], got["startsAt"]);
}

#[tokio::test]
async fn silences_are_listed_active_then_pending_then_expired() {
    let t = Target::new().await;
    let tag = unique("order");
    let mk = |name: &str, starts: String, ends: String| {
        let mut b = silence(&tag, &starts, &ends);
        b["comment"] = json!(name);
        b
    };
    let active_late = create(&t, mk("active-late", at(-60), at(7200))).await;
    let active_soon = create(&t, mk("active-soon", at(-60), at(3600))).await;
    let pending_late = create(&t, mk("pending-late", at(7200), at(9000))).await;
    let pending_soon = create(&t, mk("pending-soon", at(3600), at(9000))).await;
    let expired_first = create(&t, mk("expired-first", at(-60), at(3600))).await;
    let expired_last = create(&t, mk("expired-last", at(-60), at(3600))).await;
    for id in [&expired_first, &expired_last] {
        let (s, _) = t.send("DELETE", &silence_path(id), &t.admin(), None).await;
        assert_eq!(s, 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // api/v2/api.go:540-563 `SortSilences` (called at notifier/silences.go:49): by state
    // (api.go:528-532: active 1, pending 2, expired 3), active by end ascending, pending by
    // start ascending, expired by end descending.
    let got: Vec<String> = list(&t, &tag).await.iter().map(|s| s["id"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(got, [active_soon, active_late, pending_soon, pending_late, expired_last, expired_first]);
}

#[tokio::test]
async fn the_filter_matches_matchers_by_name_type_and_value() {
    let t = Target::new().await;
    let tag = unique("filter");
    let regex = create(&t, silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")).await;
    let mut eq = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    eq["matchers"][1] = json!({"name": "team", "value": "ops|dev", "isRegex": false});
    let equal = create(&t, eq).await;
    let ids = |l: Value| -> Vec<String> {
        l.as_array().into_iter().flatten().map(|s| s["id"].as_str().unwrap_or("").to_string()).collect()
    };
    let tr = &t;
    let read = |filters: Vec<String>| async move {
        let f: Vec<&str> = filters.iter().map(String::as_str).collect();
        tr.send("GET", &list_path(&f), &tr.admin(), None).await
    };
    // api/v2/api.go:570-590 `CheckSilenceMatchesFilterLabels`: a filter needs a matcher of the
    // silence with its name, type and value; filters are parsed by pkg/labels/parse.go
    // `ParseMatcher` (quotes optional, `\"` unescaped, spaces around tokens dropped).
    let test = format!("test={tag}");
    let (s, b) = read(vec![test.clone(), "team=~ops|dev".into()]).await;
    assert_eq!((s, ids(b)), (200, vec![regex.clone()]));
    let (s, b) = read(vec![test.clone(), " team = \"ops|dev\" ".into()]).await;
    assert_eq!((s, ids(b)), (200, vec![equal.clone()]));
    let (s, b) = read(vec![test.clone(), "team!=ops|dev".into()]).await;
    assert_eq!((s, ids(b)), (200, vec![]));
    // A filter is not a label selector: `team=~ops` matches no silence whose pattern differs.
    let (s, b) = read(vec![test.clone(), "team=~ops".into()]).await;
    assert_eq!((s, ids(b)), (200, vec![]));
    // Parse failures: notifier/silences.go:26 `fmt.Errorf("%s: %w", ErrListSilencesBadPayload
    // ("unable to list silences", :17), err)`, answered by api_alertmanager.go:210-211
    // `ErrResp(http.StatusBadRequest, err, "")`; the texts are pkg/labels/parse.go:120
    // ("bad matcher format: %s") and :165 ("matcher value contains unescaped double quote:
    // %s"), and for a regex, matcher.go:67 compiles `"^(?:" + v + ")$"` with Go's regexp,
    // whose error is "error parsing regexp: missing closing ): `<expr>`".
    let (s, b) = read(vec!["team".into()]).await;
    assert_eq!((s, b), (400, msg_trace("unable to list silences: bad matcher format: team")));
    let (s, b) = read(vec!["team=a\"b".into()]).await;
    assert_eq!(
        (s, b),
        (400, msg_trace("unable to list silences: matcher value contains unescaped double quote: a\"b"))
    );
    let (s, b) = read(vec!["team=~(".into()]).await;
    assert_eq!((s, b), (400, msg_trace("unable to list silences: error parsing regexp: missing closing ): `^(?:()$`")));
    // parse.go:130 reads `rawValue[0]` of an empty value: an index-out-of-range panic that
    // pkg/middleware/recovery.go answers with its 500 body.
    let (s, b) = read(vec!["team=".into()]).await;
    assert_eq!(
        (s, b),
        (
            500,
            json!({"error": "Server Error",
                     "message": "Internal Server Error - Check the Grafana server logs for the detailed error message."})
        )
    );
}

#[tokio::test]
async fn a_pending_silence_is_updated_in_place_until_its_matchers_change() {
    let t = Target::new().await;
    let tag = unique("update");
    let id = create(&t, silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")).await;
    // silence/silence.go:556-558 with `canUpdate` (:582-606): same matchers, a pending silence
    // that still starts in the future: changed in place, same id.
    let mut upd = silence(&tag, "2099-01-01T06:00:00Z", "2099-01-03T00:00:00Z");
    upd["id"] = json!(id);
    upd["comment"] = json!("extended");
    let (s, b) = t.send("POST", SILENCES, &t.admin(), Some(upd.clone())).await;
    assert_eq!((s, b), (202, json!({"id": id, "message": "silence created"})));
    let got = get(&t, &id).await;
    assert_eq!(
        (&got["comment"], &got["startsAt"], &got["endsAt"], state(&got)),
        (&json!("extended"), &json!("2099-01-01T06:00:00.000Z"), &json!("2099-01-03T00:00:00.000Z"), "pending")
    );
    // Changed matchers (:583 `reflect.DeepEqual(a.Matchers, b.Matchers)`): the old one is
    // expired (:559-564; a pending silence starts and ends now, :629-631) and the silence is
    // stored under a new id (:567-571).
    upd["matchers"][1]["value"] = json!("ops");
    let new_id = create(&t, upd).await;
    assert_ne!(new_id, id);
    let old = get(&t, &id).await;
    assert_eq!(state(&old), "expired");
    assert_eq!(old["startsAt"], old["endsAt"]);
    assert_eq!(state(&get(&t, &new_id).await), "pending");
    assert_eq!(list(&t, &tag).await.len(), 2, "an expired silence stays listed");
    // Updating the expired one: `canUpdate` is false (:602-603) and it is not expired again
    // (:559): a new silence, the old one untouched.
    let mut again = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    again["id"] = json!(id);
    let third = create(&t, again).await;
    assert!(third != id && third != new_id);
    assert_eq!(get(&t, &id).await, old);
    // An id that is not stored: silence.go:552-554 `ErrNotFound`, notifier/silences.go:100-101,
    // api_alertmanager.go:79-81 `ErrResp(http.StatusNotFound, err, "")`.
    let mut unknown = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    unknown["id"] = json!("0b5bd2a4-0000-4000-8000-000000000000");
    let (s, b) = t.send("POST", SILENCES, &t.admin(), Some(unknown)).await;
    assert_eq!((s, b), (404, msg_trace("silence not found")));
}

#[tokio::test]
async fn an_active_silence_keeps_its_id_only_while_its_start_is_unchanged() {
    let t = Target::new().await;
    let tag = unique("active-update");
    // A start given to the millisecond (a past start would become `now`, with nanoseconds
    // that no client can send back).
    let starts = at(1);
    let id = create(&t, silence(&tag, &starts, &at(3600))).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(state(&get(&t, &id).await), "active");
    // silence/silence.go:588-594: an active silence may change its end if the start is equal.
    let ends = at(7200);
    let mut upd = silence(&tag, &starts, &ends);
    upd["id"] = json!(id);
    let (s, b) = t.send("POST", SILENCES, &t.admin(), Some(upd.clone())).await;
    assert_eq!((s, b), (202, json!({"id": id, "message": "silence created"})));
    assert_eq!(get(&t, &id).await["endsAt"], json!(ends));
    // Another start: the old one is expired (its end becomes now, :626-627) and replaced.
    upd["startsAt"] = json!(at(60));
    let new_id = create(&t, upd).await;
    assert_ne!(new_id, id);
    let old = get(&t, &id).await;
    assert_eq!(state(&old), "expired");
    assert!(old["endsAt"].as_str() < Some(ends.as_str()));
    // An update that changes the matchers and then fails validation has already expired the
    // silence it replaces (:559-564 run before `setSilence` validates, :577).
    let mut bad = silence(&tag, &at(120), &at(3600));
    bad["id"] = json!(new_id);
    bad["matchers"][1] = json!({"name": "bad-name", "value": "x", "isRegex": false});
    let (s, _) = t.send("POST", SILENCES, &t.admin(), Some(bad)).await;
    assert_eq!(s, 400);
    assert_eq!(state(&get(&t, &new_id).await), "expired");
}

#[tokio::test]
async fn silence_validation_messages() {
    let t = Target::new().await;
    let tag = unique("invalid");
    let admin = t.admin();
    let post = |b: Value| t.send("POST", SILENCES, &admin, Some(b));
    // api_alertmanager.go:54-58: `postableSilence.Validate(strfmt.Default)` failing is
    // `ErrResp(400, err, "silence failed validation")`, i.e. "silence failed validation: <err>".
    // The error is PostableSilence's composite around Silence's (api/v2/models
    // postable_silence.go, silence.go), each written by go-openapi/errors v0.20.0 schema.go
    // :112-121 as "validation failure list:" and its errors a line each; `validate.Required`
    // says schema.go:28 "%s in %s is required" for a nil field, in the order comment,
    // createdBy, endsAt, matchers, startsAt.
    let all = "silence failed validation: validation failure list:\nvalidation failure list:\n\
               comment in body is required\ncreatedBy in body is required\nendsAt in body is required\n\
               matchers in body is required\nstartsAt in body is required";
    assert_eq!(post(json!({})).await, (400, msg_trace(all)));
    assert_eq!(post(json!({"comment": null, "createdBy": null})).await, (400, msg_trace(all)));
    // An empty string is present, so required is met.
    let mut b = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    b["comment"] = json!("");
    assert_eq!(post(b).await.0, 202);
    // matchers.go `validate.MinItems("", "body", n, 1)`, renamed by `ValidateName("matchers")`:
    // schema.go:41 "%s in %s should have at least %d items".
    let mut b = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    b["matchers"] = json!([]);
    assert_eq!(
        post(b.clone()).await,
        (
            400,
            msg_trace(
                "silence failed validation: validation failure list:\nvalidation failure list:\n\
                 matchers in body should have at least 1 items"
            )
        )
    );
    // A matcher's own composite (matcher.go: isRegex, name, value) nests a level deeper.
    b["matchers"] = json!([eq_matcher("test", &tag), {"isEqual": true}]);
    assert_eq!(
        post(b.clone()).await,
        (
            400,
            msg_trace(
                "silence failed validation: validation failure list:\nvalidation failure list:\n\
                 validation failure list:\nisRegex in body is required\nname in body is required\n\
                 value in body is required"
            )
        )
    );
    // Binding failures (generated_base_api_alertmanager.go:49-53 `response.Error(400, "bad
    // request data", err)`): a time no strfmt v0.20.2 layout parses, a value of the wrong type.
    let bad = (400, msg_trace("bad request data"));
    let mut b = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    b["endsAt"] = json!("tomorrow");
    assert_eq!(post(b).await, bad.clone());
    let mut b = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    b["matchers"][0]["isRegex"] = json!("false");
    assert_eq!(post(b).await, bad.clone());
    // notifier/silences.go:85-95: `fmt.Errorf("%s: %w", msg, ErrCreateSilenceBadPayload)`, 400
    // through api_alertmanager.go:83-85.
    let b = silence(&tag, "2099-01-02T00:00:00Z", "2099-01-02T00:00:00Z");
    assert_eq!(post(b).await, (400, msg_trace("start time must be before end time: unable to create silence")));
    let b = silence(&tag, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z");
    assert_eq!(post(b).await, (400, msg_trace("end time can't be in the past: unable to create silence")));
    // silence.go:473-504 `validateSilence` via `setSilence` (:523 "silence invalid"), wrapped by
    // notifier/silences.go:103 "unable to save silence: %s: %w".
    let wrap = |e: &str| msg_trace(&format!("unable to save silence: silence invalid: {e}: unable to create silence"));
    let mut b = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    b["matchers"][1] = json!({"name": "team-name", "value": "ops", "isRegex": false});
    // silence.go:444 `fmt.Errorf("invalid label name %q", m.Name)` in :483 "invalid label matcher %d: %s".
    assert_eq!(post(b.clone()).await, (400, wrap("invalid label matcher 1: invalid label name \"team-name\"")));
    // silence.go:453 "invalid regular expression %q: %s" with Go's regexp/syntax text.
    b["matchers"][1] = json!({"name": "team", "value": "(ops", "isRegex": true});
    assert_eq!(
        post(b.clone()).await,
        (
            400,
            wrap(
                "invalid label matcher 1: invalid regular expression \"(ops\": error parsing regexp: missing closing ): `(ops`"
            )
        )
    );
    // silence.go:461-471 and :488: every matcher matches the empty string.
    b["matchers"] = json!([eq_matcher("test", ""), {"name": "team", "value": ".*", "isRegex": true}]);
    assert_eq!(post(b.clone()).await, (400, wrap("at least one matcher must not match the empty string")));
    // A negative matcher never matches the empty string (:467-469).
    b["matchers"] = json!([{"name": "test", "value": "", "isRegex": false, "isEqual": false}]);
    assert_eq!(post(b).await.0, 202);
}

#[tokio::test]
async fn deleting_a_silence_expires_it() {
    let t = Target::new().await;
    let tag = unique("expire");
    let pending = create(&t, silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")).await;
    let active = create(&t, silence(&tag, &at(-60), &at(3600))).await;
    let active_start = get(&t, &active).await["startsAt"].clone();
    // api_alertmanager.go:113-119: 200 `{"message": "silence deleted"}`.
    for id in [&pending, &active] {
        let (s, b) = t.send("DELETE", &silence_path(id), &t.admin(), None).await;
        assert_eq!((s, b), (200, msg("silence deleted")));
    }
    // silence.go:626-632: an active silence ends now; a pending one starts and ends now.
    let p = get(&t, &pending).await;
    assert_eq!((state(&p), &p["startsAt"]), ("expired", &p["endsAt"]));
    let a = get(&t, &active).await;
    assert_eq!((state(&a), &a["startsAt"]), ("expired", &active_start));
    assert!(a["endsAt"].as_str() < Some(at(1).as_str()));
    // Both are still listed (the API never removes a silence).
    assert_eq!(list(&t, &tag).await.len(), 2);
    // Again: silence.go:624-625 `errors.Errorf("silence %s already expired", id)`, wrapped by
    // notifier/silences.go:115 with ErrDeleteSilenceInternal (:15) and answered by
    // api_alertmanager.go:117 `ErrResp(http.StatusInternalServerError, err, "")`.
    let (s, b) = t.send("DELETE", &silence_path(&pending), &t.admin(), None).await;
    assert_eq!(
        (s, b),
        (
            500,
            msg_trace(&format!("silence {pending} already expired: unable to delete silence due to an internal error"))
        )
    );
    // Unknown: silence.go:617-618, notifier/silences.go:112-113, api_alertmanager.go:114-115.
    let (s, b) = t.send("DELETE", &silence_path("no-such-silence"), &t.admin(), None).await;
    assert_eq!((s, b), (404, msg_trace("silence not found")));
}

#[tokio::test]
async fn viewers_read_silences_and_editors_write_them() {
    let t = Target::new().await;
    let tag = unique("roles");
    let id = create(&t, silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")).await;
    let viewer = t.key("Viewer").await;
    let editor = t.key("Editor").await;
    // authorization.go:103-111 with RBAC off (accesscontrol/middleware/middleware.go:33-35
    // uses the fallback, :31-37): GET is `ReqSignedIn`, POST and DELETE `ReqEditorRole`,
    // whose refusal is pkg/middleware/auth.go `accessForbidden`: 403 "Permission denied".
    assert_eq!(t.send("GET", &list_path(&[&format!("test={tag}")]), &viewer, None).await.0, 200);
    assert_eq!(t.send("GET", &silence_path(&id), &viewer, None).await.0, 200);
    let body = silence(&tag, "2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z");
    assert_eq!(t.send("POST", SILENCES, &viewer, Some(body.clone())).await, (403, msg("Permission denied")));
    assert_eq!(t.send("DELETE", &silence_path(&id), &viewer, None).await, (403, msg("Permission denied")));
    assert_eq!(t.send("POST", SILENCES, &editor, Some(body)).await.0, 202);
    assert_eq!(t.send("DELETE", &silence_path(&id), &editor, None).await.0, 200);
}
