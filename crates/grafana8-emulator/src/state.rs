//! The in-memory database: one struct of tables behind one lock, shaped like Grafana's SQL
//! tables so the handlers can follow the same lookups.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// An org role (pkg/models/roles.go).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// Read-only access.
    Viewer,
    /// Can create and edit.
    Editor,
    /// Org administrator.
    Admin,
}

impl Role {
    /// The role's name as Grafana writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Editor => "Editor",
            Role::Admin => "Admin",
        }
    }

    /// Parses `Viewer`, `Editor` or `Admin` exactly (pkg/models/roles.go `IsValid`).
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "Viewer" => Some(Role::Viewer),
            "Editor" => Some(Role::Editor),
            "Admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Org {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub name: String,
    pub password: String,
    pub is_grafana_admin: bool,
    pub current_org: i64,
    pub created: String,
}

#[derive(Clone, Debug)]
pub(crate) struct ApiKey {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub secret: String,
    pub role: Role,
    pub expires: Option<i64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Team {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub email: String,
    pub members: Vec<i64>,
}

/// A row of the `dashboard` table: folders are dashboards with `is_folder`.
#[derive(Clone, Debug)]
pub(crate) struct Dash {
    pub id: i64,
    pub org_id: i64,
    pub uid: String,
    pub title: String,
    pub slug: String,
    pub is_folder: bool,
    pub folder_id: i64,
    pub version: i64,
    pub data: Value,
    pub created: String,
    pub updated: String,
    pub created_by: i64,
    pub updated_by: i64,
    pub has_acl: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct DashVersion {
    pub id: i64,
    pub dashboard_id: i64,
    pub parent_version: i64,
    pub restored_from: i64,
    pub version: i64,
    pub created: String,
    pub created_by: i64,
    pub message: String,
    pub data: Value,
}

/// A row of `dashboard_acl`.
#[derive(Clone, Debug)]
pub(crate) struct Acl {
    #[allow(dead_code)] // Rows are keyed by id; the DTO has no id.
    pub id: i64,
    pub org_id: i64,
    pub dashboard_id: i64,
    pub user_id: i64,
    pub team_id: i64,
    pub role: Option<Role>,
    pub permission: i64,
    pub created: String,
    pub updated: String,
}

/// One alert query (pkg/services/ngalert/models/alert_query.go). `model` is kept as the exact
/// JSON text, as Grafana keeps `json.RawMessage`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AlertQuery {
    pub ref_id: String,
    pub query_type: String,
    pub from: i64,
    pub to: i64,
    pub datasource_uid: String,
    pub model: String,
}

/// A row of `alert_rule` (pkg/services/ngalert/models/alert_rule.go).
#[derive(Clone, Debug)]
pub(crate) struct AlertRule {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub condition: String,
    pub data: Vec<AlertQuery>,
    pub updated: String,
    pub interval_seconds: i64,
    pub version: i64,
    pub uid: String,
    pub namespace_uid: String,
    pub dashboard_uid: Option<String>,
    pub panel_id: Option<i64>,
    pub rule_group: String,
    pub no_data_state: String,
    pub exec_err_state: String,
    pub for_ms: u64,
    pub annotations: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

impl AlertRule {
    /// `AlertRule.Diff` with `ID`, `Version` and `Updated` ignored: a strict field-by-field
    /// comparison where a nil map and an empty map differ.
    pub(crate) fn same_content(&self, other: &AlertRule) -> bool {
        self.org_id == other.org_id
            && self.title == other.title
            && self.condition == other.condition
            && self.data == other.data
            && self.interval_seconds == other.interval_seconds
            && self.uid == other.uid
            && self.namespace_uid == other.namespace_uid
            && self.dashboard_uid == other.dashboard_uid
            && self.panel_id == other.panel_id
            && self.rule_group == other.rule_group
            && self.no_data_state == other.no_data_state
            && self.exec_err_state == other.exec_err_state
            && self.for_ms == other.for_ms
            && self.annotations == other.annotations
            && self.labels == other.labels
    }
}

/// A row of `data_source`.
#[derive(Clone, Debug)]
pub(crate) struct DataSource {
    pub id: i64,
    pub org_id: i64,
    pub uid: String,
    pub name: String,
    pub ds_type: String,
    pub access: String,
    pub url: String,
    pub password: String,
    pub user: String,
    pub database: String,
    pub basic_auth: bool,
    pub basic_auth_user: String,
    pub basic_auth_password: String,
    pub with_credentials: bool,
    pub is_default: bool,
    pub json_data: Value,
    pub secure_json_data: BTreeMap<String, String>,
    pub version: i64,
    pub read_only: bool,
}

/// A row of `alert_notification` (legacy channels).
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub id: i64,
    pub org_id: i64,
    pub uid: String,
    pub name: String,
    pub ch_type: String,
    pub is_default: bool,
    pub send_reminder: bool,
    pub disable_resolve_message: bool,
    pub frequency_secs: i64,
    pub settings: Value,
    pub secure_settings: BTreeMap<String, String>,
    pub created: String,
    pub updated: String,
}

/// Every table of the emulated database.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub seq: HashMap<&'static str, i64>,
    pub orgs: BTreeMap<i64, Org>,
    pub users: BTreeMap<i64, User>,
    /// (org id, user id) -> role.
    pub org_users: BTreeMap<(i64, i64), Role>,
    pub api_keys: BTreeMap<i64, ApiKey>,
    pub teams: BTreeMap<i64, Team>,
    pub dashboards: BTreeMap<i64, Dash>,
    pub dash_versions: Vec<DashVersion>,
    pub acl: BTreeMap<i64, Acl>,
    pub rules: BTreeMap<i64, AlertRule>,
    pub datasources: BTreeMap<i64, DataSource>,
    pub channels: BTreeMap<i64, Channel>,
    /// org id -> the stored Alertmanager configuration document (with secure settings).
    pub am_configs: BTreeMap<i64, Value>,
}

impl Db {
    /// The next auto-increment id of a table (ids are global across orgs, as in SQL).
    pub(crate) fn next_id(&mut self, table: &'static str) -> i64 {
        let n = self.seq.entry(table).or_insert(0);
        *n += 1;
        *n
    }

    pub(crate) fn user_login(&self, id: i64) -> String {
        if id <= 0 {
            return "Anonymous".into();
        }
        self.users.get(&id).map(|u| u.login.clone()).unwrap_or_else(|| "Anonymous".into())
    }

    pub(crate) fn folder_by_uid(&self, org_id: i64, uid: &str) -> Option<&Dash> {
        self.dashboards.values().find(|d| d.org_id == org_id && d.is_folder && d.uid == uid)
    }

    pub(crate) fn dash_by_uid(&self, org_id: i64, uid: &str) -> Option<&Dash> {
        self.dashboards.values().find(|d| d.org_id == org_id && d.uid == uid)
    }

    pub(crate) fn datasource_by_uid(&self, org_id: i64, uid: &str) -> Option<&DataSource> {
        self.datasources.values().find(|d| d.org_id == org_id && d.uid == uid)
    }
}
