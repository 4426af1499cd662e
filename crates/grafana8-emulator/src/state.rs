//! The in-memory database: one struct of tables behind one lock, shaped like Grafana's SQL
//! tables so the handlers can follow the same lookups.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

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
    pub address: Address,
}

/// `models.Address` (pkg/models/address.go): the org's address columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub zip_code: String,
    pub state: String,
    pub country: String,
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub name: String,
    pub password: String,
    pub is_grafana_admin: bool,
    /// `user.org_id`: the org the user last switched to; 0 after leaving every org.
    pub current_org: i64,
    pub created: String,
    pub updated: String,
    pub theme: String,
    /// `user.last_seen_at` in Unix seconds; creation sets it ten years back
    /// (pkg/services/sqlstore/user.go `CreateUser`).
    pub last_seen: i64,
}

impl User {
    /// A row as pkg/services/sqlstore/user.go `CreateUser` inserts it, stamped `now`.
    pub(crate) fn new(id: i64, login: &str, email: &str, name: &str, password: &str, current_org: i64) -> User {
        let now = crate::util::now_rfc3339();
        User {
            id,
            login: login.to_string(),
            email: email.to_string(),
            name: name.to_string(),
            password: password.to_string(),
            is_grafana_admin: false,
            current_org,
            created: now.clone(),
            updated: now,
            theme: String::new(),
            last_seen: crate::util::ten_years_ago(crate::util::now_unix()),
        }
    }
}

/// A row of `preferences` (pkg/models/preferences.go): one per (org, user, team); the org's
/// own row has user 0 and team 0.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefs {
    pub home_dashboard_id: i64,
    pub timezone: String,
    pub week_start: String,
    pub theme: String,
    /// `json_data.navbar.savedItems`; `None` is JSON `null`.
    pub saved_items: Option<Vec<NavLink>>,
}

/// `models.NavLink`: every field is `omitempty`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NavLink {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
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
    /// The `team_member` rows' user ids (any order; lists sort on read).
    pub members: Vec<i64>,
    /// Members whose `team_member.permission` is Admin (4); the others have 0.
    pub admins: BTreeSet<i64>,
}

/// pkg/models/dashboards.go `GetFolderUrl`: a folder's url, as the folder, dashboard and
/// permission APIs answer it.
pub(crate) fn folder_url(uid: &str, slug: &str) -> String {
    format!("/dashboards/f/{uid}/{slug}")
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

/// A row of `library_element` (pkg/services/libraryelements/models.go). `model` is the JSON
/// object as `syncFieldsWithModel` re-marshalled it.
#[derive(Clone, Debug)]
pub(crate) struct LibraryElement {
    pub id: i64,
    pub org_id: i64,
    pub folder_id: i64,
    pub uid: String,
    pub name: String,
    pub kind: i64,
    pub el_type: String,
    pub description: String,
    pub model: Value,
    pub version: i64,
    pub created: String,
    pub updated: String,
    pub created_by: i64,
    pub updated_by: i64,
}

/// A row of `library_element_connection`; `kind` 1 is a dashboard.
#[derive(Clone, Debug)]
pub(crate) struct LibraryConnection {
    pub id: i64,
    pub element_id: i64,
    pub kind: i64,
    pub connection_id: i64,
    pub created: String,
    pub created_by: i64,
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

/// A row of `annotation` with its `annotation_tag` rows.
#[derive(Clone, Debug)]
pub(crate) struct Annotation {
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub dashboard_id: i64,
    pub panel_id: i64,
    pub epoch: i64,
    pub epoch_end: i64,
    pub created: i64,
    pub updated: i64,
    pub text: String,
    /// The `tags` column as xorm writes a `[]string` (JSON; a nil slice is `null`).
    pub tags: Option<Vec<String>>,
    /// The annotation's `annotation_tag` rows, as (key, value) of `tag`.
    pub pairs: Vec<(String, String)>,
    /// The `data` column: `*simplejson.Json`, whose `ToDB` writes nil as the empty string.
    pub data: Option<Value>,
}

impl Annotation {
    /// The dashboard the annotation belongs to (0 for an org annotation).
    pub(crate) fn dashboard_id(&self) -> i64 {
        self.dashboard_id
    }
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
    pub library_elements: BTreeMap<i64, LibraryElement>,
    pub library_connections: BTreeMap<i64, LibraryConnection>,
    pub rules: RuleStore,
    pub datasources: BTreeMap<i64, DataSource>,
    pub channels: BTreeMap<i64, Channel>,
    /// org id -> the stored Alertmanager configuration document (with secure settings).
    pub am_configs: BTreeMap<i64, Value>,
    /// (org id, user id, team id) -> the `preferences` row.
    pub preferences: BTreeMap<(i64, i64, i64), Prefs>,
    /// `login_attempt`: (user name as sent, unix time) of each failed basic-auth login.
    pub login_attempts: Vec<(String, i64)>,
    /// org id -> that org's Alertmanager silences.
    pub silences: BTreeMap<i64, crate::silences::store::OrgSilences>,
    /// The `annotation` table (with its tag rows), by id.
    pub annotations: BTreeMap<i64, Annotation>,
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

/// org id -> key -> ids (id ASC).
type IdIndex = HashMap<i64, HashMap<String, BTreeSet<i64>>>;

fn index_add(ix: &mut IdIndex, org: i64, key: &str, id: i64) {
    ix.entry(org).or_default().entry(key.to_string()).or_default().insert(id);
}

fn index_remove(ix: &mut IdIndex, org: i64, key: &str, id: i64) {
    if let Some(by_key) = ix.get_mut(&org) {
        if let Some(ids) = by_key.get_mut(key) {
            ids.remove(&id);
            if ids.is_empty() {
                by_key.remove(key);
            }
        }
        if by_key.is_empty() {
            ix.remove(&org);
        }
    }
}

/// The `alert_rule` table (pkg/services/ngalert/store/alert_rule.go) with the lookups that
/// Grafana's SQL indexes serve (`IX_alert_rule_org_id_namespace_uid_rule_group`,
/// `UQE_alert_rule_org_id_uid`, `UQE_alert_rule_org_id_namespace_uid_title`), so that no
/// request costs time proportional to the number of stored rules.
#[derive(Debug, Default)]
pub(crate) struct RuleStore {
    by_id: BTreeMap<i64, StoredRule>,
    /// org id -> namespace uid -> group name (sorted) -> rule ids (id ASC).
    groups: HashMap<i64, HashMap<String, BTreeMap<String, BTreeSet<i64>>>>,
    /// org id -> uid -> rule ids.
    uids: IdIndex,
    /// org id -> namespace uid + '\0' + title -> rule ids.
    titles: IdIndex,
}

/// A rule's serialised ruler-API node, already HTML-escaped as Go writes it: `head`, the
/// namespace (folder) id, then `tail`. The folder id is looked up per request because a
/// folder's uid, and so the folder a rule points at, can change.
#[derive(Debug)]
pub(crate) struct RuleJson {
    pub head: String,
    pub tail: String,
}

/// A row of `alert_rule` with its serialised form, computed on first read after a write.
#[derive(Debug)]
pub(crate) struct StoredRule {
    pub rule: AlertRule,
    json: OnceLock<Arc<RuleJson>>,
}

impl StoredRule {
    /// The cached serialised form, made by `make` if the row changed since the last read.
    pub(crate) fn json(&self, make: fn(&AlertRule) -> RuleJson) -> Arc<RuleJson> {
        self.json.get_or_init(|| Arc::new(make(&self.rule))).clone()
    }
}

impl Deref for StoredRule {
    type Target = AlertRule;
    fn deref(&self) -> &AlertRule {
        &self.rule
    }
}

fn title_key(namespace_uid: &str, title: &str) -> String {
    let mut k = String::with_capacity(namespace_uid.len() + title.len() + 1);
    k.push_str(namespace_uid);
    k.push('\0');
    k.push_str(title);
    k
}

impl RuleStore {
    /// Inserts or replaces the row with `r.id`; returns the replaced row.
    pub(crate) fn insert(&mut self, r: AlertRule) -> Option<AlertRule> {
        let old = self.remove(r.id);
        let groups = self.groups.entry(r.org_id).or_default().entry(r.namespace_uid.clone()).or_default();
        groups.entry(r.rule_group.clone()).or_default().insert(r.id);
        index_add(&mut self.uids, r.org_id, &r.uid, r.id);
        index_add(&mut self.titles, r.org_id, &title_key(&r.namespace_uid, &r.title), r.id);
        self.by_id.insert(r.id, StoredRule { rule: r, json: OnceLock::new() });
        old
    }

    /// Deletes a row by id.
    pub(crate) fn remove(&mut self, id: i64) -> Option<AlertRule> {
        let r = self.by_id.remove(&id)?.rule;
        if let Some(by_ns) = self.groups.get_mut(&r.org_id) {
            if let Some(groups) = by_ns.get_mut(&r.namespace_uid) {
                if let Some(ids) = groups.get_mut(&r.rule_group) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        groups.remove(&r.rule_group);
                    }
                }
                if groups.is_empty() {
                    by_ns.remove(&r.namespace_uid);
                }
            }
            if by_ns.is_empty() {
                self.groups.remove(&r.org_id);
            }
        }
        index_remove(&mut self.uids, r.org_id, &r.uid, id);
        index_remove(&mut self.titles, r.org_id, &title_key(&r.namespace_uid, &r.title), id);
        Some(r)
    }

    /// The rules of one group, `id ASC`.
    pub(crate) fn group(&self, org_id: i64, namespace_uid: &str, group: &str) -> Vec<&StoredRule> {
        self.groups
            .get(&org_id)
            .and_then(|n| n.get(namespace_uid))
            .and_then(|g| g.get(group))
            .map(|ids| ids.iter().filter_map(|id| self.by_id.get(id)).collect())
            .unwrap_or_default()
    }

    /// A namespace's groups sorted by name, each with its rules `id ASC`.
    pub(crate) fn groups(&self, org_id: i64, namespace_uid: &str) -> Vec<(&str, Vec<&StoredRule>)> {
        let Some(groups) = self.groups.get(&org_id).and_then(|n| n.get(namespace_uid)) else { return vec![] };
        groups.iter().map(|(g, ids)| (g.as_str(), ids.iter().filter_map(|id| self.by_id.get(id)).collect())).collect()
    }

    /// Deletes every rule of an org (pkg/services/sqlstore/org.go `DeleteOrg`).
    pub(crate) fn remove_org(&mut self, org_id: i64) {
        let namespaces: Vec<String> = self.groups.get(&org_id).map(|n| n.keys().cloned().collect()).unwrap_or_default();
        for ns in namespaces {
            self.remove_in_namespace(org_id, &ns, None);
        }
    }

    /// Every rule of an org, `id ASC` (store `ListAlertRules` without filters).
    pub(crate) fn org_rules(&self, org_id: i64) -> Vec<&StoredRule> {
        let Some(by_ns) = self.groups.get(&org_id) else { return vec![] };
        let mut ids: Vec<i64> = by_ns.values().flat_map(|g| g.values().flatten().copied()).collect();
        ids.sort_unstable();
        ids.iter().filter_map(|id| self.by_id.get(id)).collect()
    }

    /// Whether an org's namespace holds any rule.
    pub(crate) fn namespace_has_rules(&self, org_id: i64, namespace_uid: &str) -> bool {
        self.groups.get(&org_id).is_some_and(|n| n.contains_key(namespace_uid))
    }

    /// Whether any org has rules in a namespace of this uid.
    pub(crate) fn namespace_has_rules_any_org(&self, namespace_uid: &str) -> bool {
        self.groups.values().any(|n| n.contains_key(namespace_uid))
    }

    /// Deletes the rules of a namespace in every org.
    pub(crate) fn remove_namespace_any_org(&mut self, namespace_uid: &str) {
        let ids: Vec<i64> = self
            .groups
            .values()
            .filter_map(|n| n.get(namespace_uid))
            .flat_map(|g| g.values().flatten().copied())
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// Deletes an org's rules in a namespace, or in one group of it.
    pub(crate) fn remove_in_namespace(&mut self, org_id: i64, namespace_uid: &str, group: Option<&str>) {
        let Some(groups) = self.groups.get(&org_id).and_then(|n| n.get(namespace_uid)) else { return };
        let ids: Vec<i64> = match group {
            Some(g) => groups.get(g).into_iter().flatten().copied().collect(),
            None => groups.values().flatten().copied().collect(),
        };
        for id in ids {
            self.remove(id);
        }
    }

    /// The org's rule with this uid (the lowest id, should there be several).
    pub(crate) fn by_uid(&self, org_id: i64, uid: &str) -> Option<&AlertRule> {
        let id = self.uids.get(&org_id)?.get(uid)?.first()?;
        self.by_id.get(id).map(|s| &s.rule)
    }

    /// Whether another rule (id other than `except_id`) of the org's namespace has this title.
    pub(crate) fn title_taken(&self, org_id: i64, namespace_uid: &str, title: &str, except_id: i64) -> bool {
        self.titles
            .get(&org_id)
            .and_then(|t| t.get(&title_key(namespace_uid, title)))
            .is_some_and(|ids| ids.iter().any(|id| *id != except_id))
    }
}
