//! Org, user and team preferences: pkg/api/preferences.go, pkg/api/dtos/prefs.go,
//! pkg/models/preferences.go and pkg/services/sqlstore/preferences.go at v8.5.4 (8.5 has no
//! separate preference service yet).
//!
//! A preferences row is keyed by (org, user, team): the org's row has user 0 and team 0, a
//! user's row team 0, a team's row user 0. An API key's user id is 0, so its "user"
//! preferences are the org's.

use crate::auth::Identity;
use crate::http::{R, bind_fields, err_plain, json, success};
use crate::server::App;
use crate::state::{Db, NavLink, Prefs};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/org/preferences", get(get_org).put(update_org).patch(patch_org))
        .route("/api/user/preferences", get(get_user).put(update_user).patch(patch_user))
}

/// `models.NavbarPreference`.
#[derive(Deserialize, Default)]
struct Navbar {
    #[serde(default, rename = "savedItems")]
    saved_items: Option<Vec<NavLink>>,
}

/// `dtos.UpdatePrefsCmd`. `navbar` is decoded (a malformed one fails binding) but
/// `updatePreferencesFor` does not pass it on, so a PUT keeps the saved items.
#[derive(Deserialize, Default)]
pub(crate) struct UpdatePrefsCmd {
    #[serde(default)]
    theme: String,
    #[serde(default, rename = "homeDashboardId")]
    home_dashboard_id: i64,
    #[serde(default)]
    timezone: String,
    #[serde(default, rename = "weekStart")]
    week_start: String,
    #[serde(default)]
    #[allow(dead_code)] // Bound for its validation only; see the type's comment.
    navbar: Option<Navbar>,
}

/// `dtos.PatchPrefsCmd`: only the keys present (and not null) change.
#[derive(Deserialize, Default)]
struct PatchPrefsCmd {
    #[serde(default)]
    theme: Option<String>,
    #[serde(default, rename = "homeDashboardId")]
    home_dashboard_id: Option<i64>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default, rename = "weekStart")]
    week_start: Option<String>,
    #[serde(default)]
    navbar: Option<Navbar>,
}

const FIELDS: &[&str] = &["theme", "homeDashboardId", "timezone", "weekStart", "navbar"];

pub(crate) fn bind_update(headers: &HeaderMap, body: &[u8]) -> Result<UpdatePrefsCmd, Response> {
    bind_fields(headers, body, FIELDS)
}

/// pkg/api/preferences.go: `light`, `dark` or empty (the server default).
fn valid_theme(theme: &str) -> bool {
    matches!(theme, "" | "light" | "dark")
}

/// pkg/api/preferences.go `getPreferencesFor`: `dtos.Prefs` of the exact row, or of an empty
/// row when there is none (no fallback to the org's or the server's defaults). `navbar` is a
/// struct, so `omitempty` keeps it: `{"savedItems": null}` until items are saved.
pub(crate) fn get_for(db: &Db, org_id: i64, user_id: i64, team_id: i64) -> Response {
    let default = Prefs::default();
    let p = db.preferences.get(&(org_id, user_id, team_id)).unwrap_or(&default);
    json(
        200,
        &json!({"theme": p.theme, "homeDashboardId": p.home_dashboard_id, "timezone": p.timezone,
                "weekStart": p.week_start, "navbar": {"savedItems": p.saved_items}}),
    )
}

/// pkg/api/preferences.go `updatePreferencesFor` over pkg/services/sqlstore/preferences.go
/// `SavePreferences`: every scalar is replaced (empty values included).
pub(crate) fn update_for(db: &mut Db, org_id: i64, user_id: i64, team_id: i64, cmd: UpdatePrefsCmd) -> R {
    if !valid_theme(&cmd.theme) {
        return Err(err_plain(400, "Invalid theme"));
    }
    let p = db.preferences.entry((org_id, user_id, team_id)).or_default();
    p.theme = cmd.theme;
    p.home_dashboard_id = cmd.home_dashboard_id;
    p.timezone = cmd.timezone;
    p.week_start = cmd.week_start;
    Ok(success("Preferences updated"))
}

/// pkg/api/preferences.go `patchPreferencesFor` over pkg/services/sqlstore/preferences.go
/// `PatchPreferences`: present fields replace, `navbar.savedItems` replaces the saved items
/// when it is not null.
fn patch_for(db: &mut Db, org_id: i64, user_id: i64, team_id: i64, headers: &HeaderMap, body: &[u8]) -> R {
    let cmd: PatchPrefsCmd = bind_fields(headers, body, FIELDS)?;
    if cmd.theme.as_deref().is_some_and(|t| !valid_theme(t)) {
        return Err(err_plain(400, "Invalid theme"));
    }
    let p = db.preferences.entry((org_id, user_id, team_id)).or_default();
    if let Some(items) = cmd.navbar.and_then(|n| n.saved_items) {
        p.saved_items = Some(items);
    }
    if let Some(v) = cmd.home_dashboard_id {
        p.home_dashboard_id = v;
    }
    if let Some(v) = cmd.timezone {
        p.timezone = v;
    }
    if let Some(v) = cmd.week_start {
        p.week_start = v;
    }
    if let Some(v) = cmd.theme {
        p.theme = v;
    }
    Ok(success("Preferences updated"))
}

/// pkg/api/preferences.go `GetOrgPreferences` (org admins).
async fn get_org(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_org_admin()?;
    Ok(get_for(&app.db(), id.org_id, 0, 0))
}

/// pkg/api/preferences.go `UpdateOrgPreferences` (org admins).
async fn update_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_org_admin()?;
    let cmd = bind_update(&headers, &body)?;
    update_for(&mut app.db(), id.org_id, 0, 0, cmd)
}

/// pkg/api/preferences.go `PatchOrgPreferences` (org admins).
async fn patch_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_org_admin()?;
    patch_for(&mut app.db(), id.org_id, 0, 0, &headers, &body)
}

/// pkg/api/preferences.go `GetUserPreferences` (signed in).
async fn get_user(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    Ok(get_for(&app.db(), id.org_id, id.user_id, 0))
}

/// pkg/api/preferences.go `UpdateUserPreferences` (signed in).
async fn update_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let cmd = bind_update(&headers, &body)?;
    update_for(&mut app.db(), id.org_id, id.user_id, 0, cmd)
}

/// pkg/api/preferences.go `PatchUserPreferences` (signed in).
async fn patch_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    patch_for(&mut app.db(), id.org_id, id.user_id, 0, &headers, &body)
}
