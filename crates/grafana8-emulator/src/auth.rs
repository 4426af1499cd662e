//! Credential resolution (pkg/services/contexthandler/contexthandler.go), role guards
//! (pkg/middleware/auth.go) and the legacy dashboard guardian
//! (pkg/services/guardian/guardian.go).

use crate::http::{Field, mw_err, parse_param, permission_denied};
use crate::state::{Db, Role};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

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
    /// `SignedInUser.HasRole` (pkg/models/user.go:219-225): a server admin has every role;
    /// otherwise the org role must include `role` (Admin includes Editor includes Viewer).
    /// Unlike the route guards (`reqEditorRole`, pkg/middleware/auth.go), which read the org
    /// role alone.
    pub(crate) fn has_role(&self, role: Role) -> bool {
        self.is_grafana_admin || self.role.is_some_and(|own| own >= role)
    }

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

    /// The org a route of a `/api/org/…` ~ `/api/orgs/:orgId/…` pair acts on, once the route's
    /// guard has passed: `own_guard` for the caller's current org, `reqGrafanaAdmin` for the
    /// path's `orgId`.
    pub(crate) fn org_of(
        &self,
        path_org: Option<String>,
        own_guard: fn(&Identity) -> Result<(), Response>,
    ) -> Result<Subject, Response> {
        self.subject(path_org, "orgId", self.org_id, own_guard)
    }

    /// The user a route of a `/api/user/…` ~ `/api/users/:id/…` pair acts on, once the route's
    /// guard has passed: none for the signed-in user, `reqGrafanaAdmin` for the path's `id`.
    pub(crate) fn user_of(&self, path_user: Option<String>) -> Result<Subject, Response> {
        self.subject(path_user, "id", self.user_id, |_| Ok(()))
    }

    fn subject(
        &self,
        path_id: Option<String>,
        param: &'static str,
        own: i64,
        own_guard: fn(&Identity) -> Result<(), Response>,
    ) -> Result<Subject, Response> {
        match path_id {
            Some(raw) => {
                self.require_grafana_admin()?;
                Ok(Subject::Path { raw, param })
            }
            None => {
                own_guard(self)?;
                Ok(Subject::Own(own))
            }
        }
    }
}

/// What a route of one of pkg/api/api.go's pairs acts on: the caller's own org or user
/// (`/api/org/…`, `/api/user/…`), or the one whose id the path names (`/api/orgs/:orgId/…`,
/// `/api/users/:id/…`, for server admins). A path id is parsed only when the handler asks for
/// it, as 8.5.4's handlers bind the body first.
pub(crate) enum Subject {
    Own(i64),
    Path { raw: String, param: &'static str },
}

impl Subject {
    /// The id: the caller's own, or the path's (`<param> is invalid` when it does not parse).
    pub(crate) fn id(&self) -> Result<i64, Response> {
        match self {
            Subject::Own(id) => Ok(*id),
            Subject::Path { raw, param } => parse_param(raw, param),
        }
    }

    pub(crate) fn is_own(&self) -> bool {
        matches!(self, Subject::Own(_))
    }
}

/// The outcome of resolving credentials.
pub(crate) enum Auth {
    Signed(Identity),
    Anonymous,
    Rejected(Response),
}

/// The body of a legacy 8.x API key (pkg/components/apikeygen/apikeygen.go `ApiKeyJson`).
#[derive(serde::Serialize, serde::Deserialize)]
struct KeyJson {
    #[serde(default)]
    k: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    id: i64,
}

const KEY_JSON_FIELDS: &[(&str, Field)] = &[("k", Field::Plain), ("n", Field::Plain), ("id", Field::Plain)];

/// Encodes a client secret as Grafana 8.5 hands it out: base64 of `{"k","n","id"}`.
pub(crate) fn encode_key(secret: &str, name: &str, org_id: i64) -> String {
    let json = serde_json::to_vec(&KeyJson { k: secret.into(), n: name.into(), id: org_id }).unwrap_or_default();
    STANDARD.encode(json)
}

/// Go's `base64.StdEncoding.DecodeString`: padding is required, but the unused bits of the
/// last character need not be zero.
fn go_base64(s: &[u8]) -> Option<Vec<u8>> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    GO_STD.decode(s).ok()
}

/// pkg/util/encoding.go `DecodeBasicAuthHeader`: anything but `Basic <base64 of user:password>`
/// fails. The parts are bytes, as Go strings are.
fn decode_basic(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let code = match header.split_once(' ') {
        Some(("Basic", code)) => code,
        _ => "",
    };
    let decoded = go_base64(code.as_bytes())?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// pkg/login/brute_force_login_protection.go: five failed logins for a user name within five
/// minutes block that name.
const MAX_LOGIN_ATTEMPTS: usize = 5;
const LOGIN_ATTEMPTS_WINDOW_SECS: i64 = 300;

/// `ContextHandler.Middleware`: API key, then basic auth; nothing else is emulated.
pub(crate) fn resolve(db: &mut Db, headers: &HeaderMap, query_org: Option<i64>, now_unix: i64) -> Auth {
    let header = headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes())).unwrap_or_default();
    // X-Grafana-Org-Id, overridden by a valid ?targetOrgId; non-numeric values are ignored.
    let mut org_id: i64 =
        headers.get("X-Grafana-Org-Id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    if let Some(target) = query_org {
        org_id = target;
    }

    // initContextWithAPIKey
    let mut key_string: Vec<u8> = Vec::new();
    match header.split_once(' ') {
        Some(("Bearer", k)) => key_string = k.as_bytes().to_vec(),
        _ => {
            if let Some((u, p)) = decode_basic(&header)
                && u == b"api_key"
            {
                key_string = p;
            }
        }
    }
    if !key_string.is_empty() {
        // apikeygen.Decode: base64, then json.Unmarshal (missing fields stay empty).
        let decoded: Option<KeyJson> =
            go_base64(&key_string).and_then(|b| crate::http::unmarshal_go(&b, KEY_JSON_FIELDS));
        let Some(decoded) = decoded else {
            return Auth::Rejected(mw_err(401, "invalid API key", true));
        };
        // sqlstore GetApiKeyByName: ErrInvalidApiKey is passed on (a trace id).
        let Some(key) = db.api_keys.values().find(|k| k.org_id == decoded.id && k.name == decoded.n) else {
            return Auth::Rejected(mw_err(401, "invalid API key", true));
        };
        // apikeygen.IsValid returns no error, so neither answer below carries a trace id.
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
    let Some((login, password)) = decode_basic(&header) else {
        return Auth::Rejected(mw_err(401, "Invalid Basic Auth Header", true));
    };
    let Some(user_id) = authenticate_user(db, &login, &password, now_unix) else {
        return Auth::Rejected(mw_err(401, "invalid username or password", true));
    };
    let Some(user) = db.users.get(&user_id) else {
        return Auth::Rejected(mw_err(401, "invalid username or password", true));
    };
    // sqlstore GetSignedInUser: the user's current org unless a positive org id was asked for;
    // a user who is not a member of that org gets OrgId -1 and no role.
    let org = if org_id > 0 { org_id } else { user.current_org };
    let (org_id, role) = match db.org_users.get(&(org, user.id)) {
        Some(r) => (org, Some(*r)),
        None => (-1, None),
    };
    Auth::Signed(Identity { org_id, user_id: user.id, role, is_grafana_admin: user.is_grafana_admin })
}

/// pkg/login/auth.go `AuthenticateUser` without LDAP: the attempt count is checked first (so a
/// blocked name fails even with the right password), an empty password fails, the user is
/// found by login or, failing that and when the name has an `@`, by email
/// (sqlstore `GetUserByLogin`), and only a wrong password is recorded as an attempt.
fn authenticate_user(db: &mut Db, login: &[u8], password: &[u8], now_unix: i64) -> Option<i64> {
    let name = String::from_utf8_lossy(login).into_owned();
    let since = now_unix - LOGIN_ATTEMPTS_WINDOW_SECS;
    let recent = db.login_attempts.iter().filter(|(u, created)| *u == name && *created >= since).count();
    if recent >= MAX_LOGIN_ATTEMPTS || password.is_empty() || login.is_empty() {
        return None;
    }
    let user =
        db.users.values().find(|u| u.login.as_bytes() == login).or_else(|| {
            login.contains(&b'@').then(|| db.users.values().find(|u| u.email.as_bytes() == login)).flatten()
        })?;
    if user.password.as_bytes() == password {
        return Some(user.id);
    }
    // saveInvalidLoginAttempt; the cleanup job drops old rows (kept here to the window).
    db.login_attempts.retain(|(_, created)| *created >= since);
    db.login_attempts.push((name, now_unix));
    None
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
