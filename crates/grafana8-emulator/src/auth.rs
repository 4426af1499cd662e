//! Credential resolution (pkg/services/contexthandler/contexthandler.go), role guards
//! (pkg/middleware/auth.go) and the legacy dashboard guardian
//! (pkg/services/guardian/guardian.go).

use crate::http::{mw_err, permission_denied};
use crate::state::{Db, Role};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The signed-in caller (`models.SignedInUser` plus the `ReqContext` fields that matter).
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub org_id: i64,
    /// 0 for API keys.
    pub user_id: i64,
    /// `None` when the user is not a member of the requested org ("Org missing").
    pub role: Option<Role>,
    pub is_grafana_admin: bool,
}

impl Identity {
    /// `reqEditorRole` (`RoleAuth(Editor, Admin)`).
    pub(crate) fn require_editor(&self) -> Result<(), Response> {
        match self.role {
            Some(Role::Editor | Role::Admin) => Ok(()),
            _ => Err(permission_denied()),
        }
    }

    /// `reqOrgAdmin`.
    pub(crate) fn require_org_admin(&self) -> Result<(), Response> {
        match self.role {
            Some(Role::Admin) => Ok(()),
            _ => Err(permission_denied()),
        }
    }

    /// `reqGrafanaAdmin`.
    pub(crate) fn require_grafana_admin(&self) -> Result<(), Response> {
        if self.is_grafana_admin { Ok(()) } else { Err(permission_denied()) }
    }
}

/// The outcome of resolving credentials.
pub(crate) enum Auth {
    Signed(Identity),
    Anonymous,
    Rejected(Response),
}

/// The body of a legacy 8.x API key (pkg/components/apikeygen/apikeygen.go).
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyJson {
    k: String,
    n: String,
    id: i64,
}

/// Encodes a client secret as Grafana 8.5 hands it out: base64 of `{"k","n","id"}`.
pub(crate) fn encode_key(secret: &str, name: &str, org_id: i64) -> String {
    let json = serde_json::to_vec(&KeyJson { k: secret.into(), n: name.into(), id: org_id }).unwrap_or_default();
    STANDARD.encode(json)
}

/// pkg/util/encoding.go `DecodeBasicAuthHeader`.
fn decode_basic(header: &str) -> Option<(String, String)> {
    let mut parts = header.splitn(2, ' ');
    let (scheme, payload) = (parts.next()?, parts.next()?);
    if scheme != "Basic" {
        return None;
    }
    let decoded = STANDARD.decode(payload).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `ContextHandler.Middleware`: API key, then basic auth; nothing else is emulated.
pub(crate) fn resolve(db: &Db, headers: &HeaderMap, query_org: Option<i64>, now_unix: i64) -> Auth {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    // X-Grafana-Org-Id, overridden by a valid ?targetOrgId; non-numeric values are ignored.
    let mut org_id: i64 =
        headers.get("X-Grafana-Org-Id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    if let Some(target) = query_org {
        org_id = target;
    }

    // initContextWithAPIKey
    let mut key_string = String::new();
    let mut parts = header.splitn(2, ' ');
    if let (Some("Bearer"), Some(k)) = (parts.next(), parts.next()) {
        key_string = k.to_string();
    } else if let Some((u, p)) = decode_basic(header)
        && u == "api_key"
    {
        key_string = p;
    }
    if !key_string.is_empty() {
        let decoded: Option<KeyJson> =
            STANDARD.decode(key_string.as_bytes()).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let Some(decoded) = decoded else {
            return Auth::Rejected(mw_err(401, "invalid API key", true));
        };
        let Some(key) = db.api_keys.values().find(|k| k.org_id == decoded.id && k.name == decoded.n) else {
            return Auth::Rejected(mw_err(401, "invalid API key", true));
        };
        if key.secret != decoded.k {
            return Auth::Rejected(mw_err(401, "invalid API key", false));
        }
        if key.expires.is_some_and(|e| e <= now_unix) {
            return Auth::Rejected(mw_err(401, "Expired API key", false));
        }
        return Auth::Signed(Identity {
            org_id: key.org_id,
            user_id: 0,
            role: Some(key.role),
            is_grafana_admin: false,
        });
    }

    // initContextWithBasicAuth
    if header.is_empty() {
        return Auth::Anonymous;
    }
    let Some((login, password)) = decode_basic(header) else {
        return Auth::Rejected(mw_err(401, "Invalid Basic Auth Header", true));
    };
    let Some(user) = db.users.values().find(|u| (u.login == login || u.email == login) && u.password == password)
    else {
        return Auth::Rejected(mw_err(401, "invalid username or password", true));
    };
    // GetSignedInUser: a user who is not a member of the org gets OrgId -1 and no role.
    let org = if org_id == 0 { user.current_org } else { org_id };
    let (org_id, role) = match db.org_users.get(&(org, user.id)) {
        Some(r) => (org, Some(*r)),
        None => (-1, None),
    };
    Auth::Signed(Identity { org_id, user_id: user.id, role, is_grafana_admin: user.is_grafana_admin })
}

/// Permission levels (pkg/models/dashboard_acl.go).
pub(crate) const PERM_VIEW: i64 = 1;
pub(crate) const PERM_EDIT: i64 = 2;
pub(crate) const PERM_ADMIN: i64 = 4;

/// The ACL a guardian evaluates for a dashboard or folder id
/// (pkg/services/sqlstore/dashboard_acl.go `GetDashboardAclInfoList`): the rows of the
/// dashboard and of its folder, plus the org-wide default rows when the folder (or, outside a
/// folder, the dashboard itself) has no ACL. Id 0 (General) has only the defaults.
pub(crate) fn effective_acl(db: &Db, org_id: i64, dash_id: i64) -> Vec<(i64, i64, Option<Role>, i64)> {
    let default_rows = vec![(0, 0, Some(Role::Viewer), PERM_VIEW), (0, 0, Some(Role::Editor), PERM_EDIT)];
    // The SQL joins `dashboard AS d ... WHERE d.org_id = ? AND d.id = ?`: an id that is no
    // dashboard of the org has no rows at all (and so only org Admins pass).
    let Some(dash) = db.dashboards.get(&dash_id).filter(|d| d.org_id == org_id) else {
        return if dash_id == 0 { default_rows } else { Vec::new() };
    };
    let folder = (dash.folder_id > 0).then(|| db.dashboards.get(&dash.folder_id)).flatten();
    let mut rows: Vec<(i64, i64, Option<Role>, i64)> = db
        .acl
        .values()
        .filter(|a| {
            a.org_id == org_id
                && (a.dashboard_id == dash.id || (dash.folder_id > 0 && a.dashboard_id == dash.folder_id))
        })
        .map(|a| (a.user_id, a.team_id, a.role, a.permission))
        .collect();
    let with_defaults = match folder {
        Some(f) => !f.has_acl,
        None => !dash.has_acl,
    };
    if with_defaults {
        rows.extend(default_rows);
    }
    rows
}

/// `dashboardGuardianImpl.HasPermission`: org Admins always pass, everyone else needs an ACL
/// row (user, exact role, or team membership) at or above the permission.
pub(crate) fn has_permission(db: &Db, id: &Identity, dash_id: i64, permission: i64) -> bool {
    if id.role == Some(Role::Admin) {
        return true;
    }
    for (user_id, team_id, role, perm) in effective_acl(db, id.org_id, dash_id) {
        if perm < permission {
            continue;
        }
        if user_id > 0 && id.user_id > 0 && user_id == id.user_id {
            return true;
        }
        if role.is_some() && role == id.role {
            return true;
        }
        if team_id > 0 && id.user_id > 0 && db.teams.get(&team_id).is_some_and(|t| t.members.contains(&id.user_id)) {
            return true;
        }
    }
    false
}
