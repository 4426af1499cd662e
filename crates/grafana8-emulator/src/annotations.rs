//! Annotations at v8.5.4: the routes of pkg/api/api.go:450-459 served by pkg/api/annotations.go,
//! over the SQL repository pkg/services/sqlstore/annotation.go (its `annotation`,
//! `annotation_tag` and `tag` tables) with the commands of pkg/api/dtos/annotations.go, the
//! models of pkg/services/annotations/annotations.go and the tag pairs of pkg/models/tags.go.
//!
//! RBAC is off (8.5's default), so `Find` applies no access-control filter: every signed-in
//! member of the org reads every annotation of the org; writing needs the role or the
//! dashboard permission the handlers' legacy checks ask for.

use crate::auth::{Identity, PERM_EDIT, has_permission};
use crate::dashboards::access_denied;
use crate::http::{
    Field, R, bad_request_data, bind_go, err_trace, go_json, go_strings, json_map, parse_query, query_all, query_i64,
    query_str, success,
};
use crate::server::App;
use crate::state::{Annotation, Db, Role};
use crate::util::{avatar_url, sql_like};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// pkg/api/api.go:450-459. The id routes also answer on the static paths beside them
/// (`PUT /api/annotations/graphite` reaches `UpdateAnnotation` in Grafana's router, whose
/// trees are per method).
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/annotations", get(list).post(create))
        .route("/api/annotations/mass-delete", post(mass_delete).put(update).patch(patch).delete(delete))
        .route("/api/annotations/graphite", post(create_graphite).put(update).patch(patch).delete(delete))
        .route("/api/annotations/tags", get(tags).put(update).patch(patch).delete(delete))
        .route("/api/annotations/{annotationId}", axum::routing::put(update).patch(patch).delete(delete))
}

/// `timeNow().UnixNano() / int64(time.Millisecond)`.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// pkg/models/tags.go `ParseTagPairs`: `key:value` (split at every `:`, the first two parts
/// kept, each trimmed of spaces) or a bare key; empty keys and repeats are dropped.
fn parse_tag_pairs(tags: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    for t in tags {
        let pair = if t.contains(':') {
            let mut parts = t.split(':');
            let key = parts.next().unwrap_or("").trim_matches(' ').to_string();
            let value = parts.next().unwrap_or("").trim_matches(' ').to_string();
            (key, value)
        } else {
            (t.trim_matches(' ').to_string(), String::new())
        };
        if pair.0.is_empty() || out.contains(&pair) {
            continue;
        }
        out.push(pair);
    }
    out
}

/// pkg/models/tags.go `JoinTagPairs`.
fn join_tag_pairs(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}:{v}") }).collect()
}

/// sqlstore/annotation.go `validateTimeRange` for a row whose start is set: the end defaults
/// to the start, and the two are swapped when the end is earlier.
fn fix_time_range(a: &mut Annotation) {
    if a.epoch_end == 0 {
        a.epoch_end = a.epoch;
    }
    if a.epoch == 0 {
        a.epoch = a.epoch_end;
    }
    if a.epoch_end < a.epoch {
        std::mem::swap(&mut a.epoch, &mut a.epoch_end);
    }
}

/// Sorts object keys at every level, as `simplejson.Encode` (encoding/json of a Go map)
/// stores `data`; numbers are kept as decoded (`UseNumber`).
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_keys(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        _ => v.clone(),
    }
}

/// `annotations.ItemDTO` as `Find` reads it, in its field order: the author's login and
/// email from the `user` join (empty for API keys), `alertName` from the `alert` join (no
/// legacy alerts are emulated), the avatar set by `GetAnnotations` when there is an email,
/// and `data` as `simplejson.FromDB` reads the column (the empty string is `{}`).
fn item_dto(db: &Db, a: &Annotation, with_avatar: bool) -> Value {
    let user = db.users.get(&a.user_id);
    let (login, email) = user.map(|u| (u.login.as_str(), u.email.as_str())).unwrap_or(("", ""));
    let avatar = if with_avatar && !email.is_empty() { avatar_url(email) } else { String::new() };
    json!({
        "id": a.id, "alertId": 0, "alertName": "", "dashboardId": a.dashboard_id, "panelId": a.panel_id,
        "userId": a.user_id, "newState": "", "prevState": "", "created": a.created, "updated": a.updated,
        "time": a.epoch, "timeEnd": a.epoch_end, "text": a.text, "tags": a.tags, "login": login, "email": email,
        "avatarUrl": avatar, "data": a.data.as_ref().map(sorted_keys).unwrap_or_else(|| json!({})),
    })
}

/// api/annotations.go `canEditDashboard`: the legacy guardian's `CanEdit`. Org admins pass;
/// for anyone else a dashboard id that is not a dashboard of the org has no ACL
/// (sqlstore/dashboard_acl.go `GetDashboardAclInfoList` joins on `d.org_id = ? AND d.id = ?`).
fn can_edit_dashboard(db: &Db, id: &Identity, dashboard_id: i64) -> bool {
    if id.role == Some(Role::Admin) {
        return true;
    }
    if db.dashboards.get(&dashboard_id).is_none_or(|d| d.org_id != id.org_id) {
        return false;
    }
    has_permission(db, id, dashboard_id, PERM_EDIT)
}

/// `c.SignedInUser.HasRole(models.ROLE_EDITOR)` (pkg/api/annotations.go:354, :460): Editor,
/// Admin, or a server admin whatever the org role.
fn is_editor(id: &Identity) -> bool {
    id.has_role(Role::Editor)
}

/// api/annotations.go `canSaveAnnotation` with RBAC off.
fn can_save(db: &Db, id: &Identity, a: &Annotation) -> bool {
    if a.dashboard_id != 0 { can_edit_dashboard(db, id, a.dashboard_id) } else { is_editor(id) }
}

/// The `:annotationId` of the request path, parsed as `strconv.ParseInt` (400
/// `annotationId is invalid`).
fn annotation_id(uri: &Uri) -> Result<i64, Response> {
    let raw = uri.path().rsplit('/').next().unwrap_or("");
    crate::http::parse_param(raw, "annotationId")
}

/// api/annotations.go `findAnnotationByID`: the org's annotation, else 404
/// `Annotation not found` (without an error, so without a trace id).
fn find_by_id<'a>(db: &'a Db, id: &Identity, annotation_id: i64) -> Result<&'a Annotation, Response> {
    db.annotations
        .get(&annotation_id)
        .filter(|a| a.org_id == id.org_id)
        .ok_or_else(|| crate::http::err_plain(404, "Annotation not found"))
}

/// `GetAnnotations` -> sqlstore `Find`: filters by the query parameters, `ORDER BY a.org_id,
/// a.epoch_end DESC, a.epoch DESC` with the limit (0 is 100; SQLite takes a negative limit
/// as none) in the subquery; the outer query has no order of its own, and SQLite answers it
/// in the subquery's order, ties going by the index scan (id descending).
async fn list(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, uri: Uri) -> R {
    let q = parse_query(uri.query());
    let (from, to) = (query_i64(&q, "from"), query_i64(&q, "to"));
    let (user_id, alert_id) = (query_i64(&q, "userId"), query_i64(&q, "alertId"));
    let (dashboard_id, panel_id) = (query_i64(&q, "dashboardId"), query_i64(&q, "panelId"));
    let mut limit = query_i64(&q, "limit");
    let filter_tags: Vec<String> = query_all(&q, "tags").into_iter().map(str::to_string).collect();
    let filters = parse_tag_pairs(&filter_tags);
    let kind = query_str(&q, "type");
    let match_any = crate::http::query_bool(&q, "matchAny");
    if limit == 0 {
        limit = 100;
    }
    let db = app.db();
    let mut rows: Vec<&Annotation> = db
        .annotations
        .values()
        .filter(|a| a.org_id == id.org_id)
        // No legacy alerts are emulated, so every annotation has alert_id 0.
        .filter(|_| alert_id == 0 && kind != "alert")
        .filter(|a| dashboard_id == 0 || a.dashboard_id == dashboard_id)
        .filter(|a| panel_id == 0 || a.panel_id == panel_id)
        .filter(|a| user_id == 0 || a.user_id == user_id)
        .filter(|a| !(from > 0 && to > 0) || (a.epoch <= to && a.epoch_end >= from))
        .filter(|a| {
            if filters.is_empty() {
                return true;
            }
            // `SELECT SUM(1) FROM annotation_tag … WHERE <any filter>`: the annotation's tag
            // rows that match some filter (a bare key matches any value), compared with the
            // number of filters (`= n`), or with zero for `matchAny`.
            let hits = a
                .pairs
                .iter()
                .filter(|(k, v)| filters.iter().any(|(fk, fv)| fk == k && (fv.is_empty() || fv == v)))
                .count();
            if match_any { hits > 0 } else { hits == filters.len() }
        })
        .collect();
    rows.sort_by(|a, b| b.epoch_end.cmp(&a.epoch_end).then(b.epoch.cmp(&a.epoch)).then(b.id.cmp(&a.id)));
    if limit > 0 {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let out: Vec<Value> = rows.into_iter().map(|a| item_dto(&db, a, true)).collect();
    Ok(go_json(200, &Value::Array(out)))
}

/// `dtos.PostAnnotationsCmd`.
#[derive(Default, Deserialize)]
struct PostCmd {
    #[serde(default, rename = "dashboardId")]
    dashboard_id: i64,
    #[serde(default, rename = "panelId")]
    panel_id: i64,
    #[serde(default)]
    time: i64,
    #[serde(default, rename = "timeEnd")]
    time_end: i64,
    #[serde(default)]
    text: String,
    #[serde(default, deserialize_with = "go_strings")]
    tags: Option<Vec<String>>,
    /// `*simplejson.Json`: any JSON value; `null` leaves the pointer nil.
    #[serde(default)]
    data: Option<Value>,
}

const POST_FIELDS: &[(&str, Field)] = &[
    ("dashboardId", Field::Plain),
    ("panelId", Field::Plain),
    ("time", Field::Plain),
    ("timeEnd", Field::Plain),
    ("text", Field::Plain),
    ("tags", Field::Nullable),
    ("data", Field::Nullable),
];

/// sqlstore/annotation.go `Save`: tags normalised to their pairs, `created` = `updated` =
/// now, a missing start is now, then `validateTimeRange`.
fn save(db: &mut Db, mut a: Annotation) -> i64 {
    let pairs = parse_tag_pairs(a.tags.as_deref().unwrap_or(&[]));
    a.tags = Some(join_tag_pairs(&pairs));
    a.pairs = pairs;
    a.created = now_ms();
    a.updated = a.created;
    if a.epoch == 0 {
        a.epoch = a.created;
    }
    fix_time_range(&mut a);
    a.id = db.next_id("annotation");
    let id = a.id;
    db.annotations.insert(id, a);
    id
}

/// `PostAnnotation`: bind, then `canCreateAnnotation` (a dashboard's annotation needs edit
/// permission on it, an org annotation the Editor role: 403 `Access denied to this
/// dashboard`), then a non-empty text (400 `Failed to save annotation`).
async fn create(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    let cmd: PostCmd = bind_go(&headers, &body, POST_FIELDS)?;
    let mut db = app.db();
    let allowed = if cmd.dashboard_id != 0 { can_edit_dashboard(&db, &id, cmd.dashboard_id) } else { is_editor(&id) };
    if !allowed {
        return Err(access_denied());
    }
    if cmd.text.is_empty() {
        return Err(err_trace(400, "Failed to save annotation"));
    }
    let a = Annotation {
        id: 0,
        org_id: id.org_id,
        user_id: id.user_id,
        dashboard_id: cmd.dashboard_id,
        panel_id: cmd.panel_id,
        epoch: cmd.time,
        epoch_end: cmd.time_end,
        created: 0,
        updated: 0,
        text: cmd.text,
        tags: cmd.tags,
        pairs: vec![],
        data: cmd.data,
    };
    let new_id = save(&mut db, a);
    Ok(json_map(200, json!({"message": "Annotation added", "id": new_id})))
}

/// `PostGraphiteAnnotation` (behind `reqEditorRole`): `what` is required, `tags` is a
/// space-separated string or a list of strings (anything else, absence included, is 400
/// `Failed to save Graphite annotation`), `when` is in seconds, `data` is appended to the
/// text on a line of its own.
async fn create_graphite(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    #[derive(Deserialize)]
    struct GraphiteCmd {
        #[serde(default)]
        when: i64,
        #[serde(default)]
        what: String,
        #[serde(default)]
        data: String,
        /// `Tags interface{}`: the last value given, `null` included.
        #[serde(default)]
        tags: Option<Value>,
    }
    let fields = [("when", Field::Plain), ("what", Field::Plain), ("data", Field::Plain), ("tags", Field::Nullable)];
    let GraphiteCmd { when, what, data, tags } = bind_go(&headers, &body, &fields)?;
    let failed = || err_trace(400, "Failed to save Graphite annotation");
    if what.is_empty() {
        return Err(failed());
    }
    let text = if data.is_empty() { what } else { format!("{what}\n{data}") };
    let tags: Vec<String> = match tags {
        Some(Value::String(s)) if s.is_empty() => vec![],
        Some(Value::String(s)) => s.split(' ').map(str::to_string).collect(),
        Some(Value::Array(items)) => {
            let mut out = vec![];
            for t in items {
                match t {
                    Value::String(s) => out.push(s),
                    _ => return Err(failed()),
                }
            }
            out
        }
        _ => return Err(failed()),
    };
    let a = Annotation {
        id: 0,
        org_id: id.org_id,
        user_id: id.user_id,
        dashboard_id: 0,
        panel_id: 0,
        epoch: when.saturating_mul(1000),
        epoch_end: 0,
        created: 0,
        updated: 0,
        text,
        tags: Some(tags),
        pairs: vec![],
        data: None,
    };
    let mut db = app.db();
    let new_id = save(&mut db, a);
    Ok(json_map(200, json!({"message": "Graphite annotation added", "id": new_id})))
}

/// `dtos.UpdateAnnotationsCmd` / `PatchAnnotationsCmd` (the same fields; `id` is decoded, so
/// a wrong type fails the binding, but ignored).
#[derive(Default, Deserialize)]
struct UpdateCmd {
    #[serde(default)]
    #[allow(dead_code)]
    id: i64,
    #[serde(default)]
    time: i64,
    #[serde(default, rename = "timeEnd")]
    time_end: i64,
    #[serde(default)]
    text: String,
    #[serde(default, deserialize_with = "go_strings")]
    tags: Option<Vec<String>>,
}

const UPDATE_FIELDS: &[(&str, Field)] = &[
    ("id", Field::Plain),
    ("time", Field::Plain),
    ("timeEnd", Field::Plain),
    ("text", Field::Plain),
    ("tags", Field::Nullable),
];

/// sqlstore/annotation.go `Update`: the text always, the start and end when non-zero, then
/// `validateTimeRange`; given tags replace the `annotation_tag` rows, and the `tags` column
/// takes the tags as sent (not normalised; `null` when none were sent).
fn apply_update(db: &mut Db, annotation_id: i64, time: i64, time_end: i64, text: String, tags: Option<Vec<String>>) {
    let Some(a) = db.annotations.get_mut(&annotation_id) else { return };
    a.updated = now_ms();
    a.text = text;
    if time != 0 {
        a.epoch = time;
    }
    if time_end != 0 {
        a.epoch_end = time_end;
    }
    fix_time_range(a);
    if let Some(t) = &tags {
        a.pairs = parse_tag_pairs(t);
    }
    a.tags = tags;
}

/// The checks `UpdateAnnotation` and `PatchAnnotation` share: bind, the id, the annotation,
/// `canSaveAnnotation`.
fn prepare(
    db: &Db,
    id: &Identity,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(UpdateCmd, Annotation), Response> {
    let cmd: UpdateCmd = bind_go(headers, body, UPDATE_FIELDS)?;
    let annotation_id = annotation_id(uri)?;
    let a = find_by_id(db, id, annotation_id)?;
    if !can_save(db, id, a) {
        return Err(access_denied());
    }
    Ok((cmd, a.clone()))
}

/// `UpdateAnnotation` (PUT): the whole of text, times and tags.
async fn update(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let mut db = app.db();
    let (cmd, a) = prepare(&db, &id, &uri, &headers, &body)?;
    apply_update(&mut db, a.id, cmd.time, cmd.time_end, cmd.text, cmd.tags);
    Ok(success("Annotation updated"))
}

/// `PatchAnnotation`: the stored values, overridden by the given tags, a non-empty text and
/// positive times.
async fn patch(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let mut db = app.db();
    let (cmd, a) = prepare(&db, &id, &uri, &headers, &body)?;
    let tags = if cmd.tags.is_some() { cmd.tags } else { a.tags.clone() };
    let text = if cmd.text.is_empty() { a.text.clone() } else { cmd.text };
    let time = if cmd.time > 0 { cmd.time } else { a.epoch };
    let time_end = if cmd.time_end > 0 { cmd.time_end } else { a.epoch_end };
    apply_update(&mut db, a.id, time, time_end, text, tags);
    Ok(success("Annotation patched"))
}

/// `DeleteAnnotationByID`: the id, the annotation, `canSaveAnnotation`, then the row and its
/// tag rows go.
async fn delete(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, uri: Uri) -> R {
    let annotation_id = annotation_id(&uri)?;
    let mut db = app.db();
    let a = find_by_id(&db, &id, annotation_id)?;
    if !can_save(&db, &id, a) {
        return Err(access_denied());
    }
    db.annotations.remove(&annotation_id);
    Ok(success("Annotation deleted"))
}

/// `MassDeleteAnnotations` (behind `reqOrgAdmin`) with RBAC off: a dashboard id needs a panel
/// id and the other way round (400 `bad request data`); then sqlstore `Delete` removes the
/// annotation with the id, or else every annotation of the org with that dashboard and
/// panel id (0 and 0 included).
async fn mass_delete(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_org_admin()?;
    #[derive(Deserialize)]
    struct MassDeleteCmd {
        #[serde(default, rename = "dashboardId")]
        dashboard_id: i64,
        #[serde(default, rename = "panelId")]
        panel_id: i64,
        #[serde(default, rename = "annotationId")]
        annotation_id: i64,
    }
    let fields = [("dashboardId", Field::Plain), ("panelId", Field::Plain), ("annotationId", Field::Plain)];
    let MassDeleteCmd { dashboard_id, panel_id, annotation_id } = bind_go(&headers, &body, &fields)?;
    if (dashboard_id != 0 && panel_id == 0) || (panel_id != 0 && dashboard_id == 0) {
        return Err(bad_request_data());
    }
    let mut db = app.db();
    let org = id.org_id;
    if annotation_id != 0 {
        db.annotations.retain(|_, a| !(a.id == annotation_id && a.org_id == org));
    } else {
        db.annotations.retain(|_, a| !(a.org_id == org && a.dashboard_id == dashboard_id && a.panel_id == panel_id));
    }
    Ok(success("Annotations deleted"))
}

/// `GetAnnotationTags` -> sqlstore `FindTags`: the org's tag rows whose key or value is
/// `LIKE %tag%`, counted per (key, value) and ordered by them, limit 100 by default.
async fn tags(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, uri: Uri) -> R {
    let q = parse_query(uri.query());
    let tag = query_str(&q, "tag");
    let mut limit = query_i64(&q, "limit");
    if limit == 0 {
        limit = 100;
    }
    let pattern = format!("%{tag}%");
    let db = app.db();
    let mut counts: std::collections::BTreeMap<(&str, &str), i64> = std::collections::BTreeMap::new();
    for a in db.annotations.values().filter(|a| a.org_id == id.org_id) {
        for (k, v) in &a.pairs {
            if sql_like(&pattern, k) || sql_like(&pattern, v) {
                *counts.entry((k.as_str(), v.as_str())).or_insert(0) += 1;
            }
        }
    }
    let list: Vec<Value> = counts
        .into_iter()
        .take(if limit > 0 { usize::try_from(limit).unwrap_or(usize::MAX) } else { usize::MAX })
        .map(|((k, v), n)| json!({"tag": if v.is_empty() { k.to_string() } else { format!("{k}:{v}") }, "count": n}))
        .collect();
    Ok(go_json(200, &json!({"result": {"tags": list}})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_pairs_parse_and_join_as_models_tags() {
        let tags: Vec<String> =
            ["env: prod ", "env:prod", "a:b:c", "  ", ":x", "solo", "solo"].iter().map(|s| s.to_string()).collect();
        let pairs = parse_tag_pairs(&tags);
        assert_eq!(join_tag_pairs(&pairs), ["env:prod", "a:b", "solo"]);
    }
}
