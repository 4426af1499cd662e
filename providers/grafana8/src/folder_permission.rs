//! `folder_permission`: the whole permission list (ACL) of one folder (API.md §6).
//!
//! Grafana 8.5's POST replaces a folder's ACL as a whole, so one object is one folder's
//! complete list, and its remote id is the folder's uid. Users are named by login or email
//! and teams by name; both are looked up once per plan, in bulk, with the list, and given to
//! the planner as this kind's context ([`Directory`]).
//!
//! A plan reads `1 + ⌈folders/1000⌉ + folders + 2` requests (one ACL GET per folder is
//! unavoidable: 8.5 has no bulk ACL endpoint; the GETs run 8 at a time).
//! Deleting a `folder_permission` gives the folder Grafana's default list back (role Editor
//! may Edit, role Viewer may View) rather than leaving an empty ACL, which would lock out
//! everyone but org admins.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, KeyReference, Kind, LocalRef, ObjectId,
    Remote, RemoteObject, Reread, Resolved, Resolver, async_trait,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Answer, Client};
use crate::folder_ref::{FOLDER_EXPECTED, FolderRef};

/// Folders listed per request (pkg/api/folder.go's default page size).
const PAGE_SIZE: usize = 1000;
/// ACL reads in flight at once while listing.
const CONCURRENCY: usize = 8;
/// Roles a permission entry may name. `Admin` is implicit: org admins may administer every
/// folder, and Grafana refuses an explicit Admin-role entry (`permission already exists`).
const ROLES: [&str; 2] = ["Viewer", "Editor"];
/// Permission names and their values in the API (pkg/models/dashboard_acl.go).
const PERMISSIONS: [(&str, i64); 3] = [("View", 1), ("Edit", 2), ("Admin", 4)];
/// What a folder without an explicit ACL has (the `dashboard_id = -1` rows of the
/// 2017-06-20 migration, pkg/services/sqlstore/migrations/dashboard_acl.go).
pub(crate) const DEFAULT_ACL: [(&str, &str); 2] = [("Viewer", "View"), ("Editor", "Edit")];

/// A `folder_permission` definition: the whole permission list of one folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderPermission {
    /// The folder: one defined here by local id, or `{ uid = "…" }` of one that is not.
    pub folder: FolderRef,
    /// Every entry of the list; `[]` leaves only org admins.
    pub permissions: Vec<PermissionEntry>,
}

/// One entry of a permission list: exactly one of `role`, `user` (login or email) or `team`
/// (name), and what it may do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["permission"]))]
pub struct PermissionEntry {
    /// A role: `Viewer` or `Editor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ROLES))]
    pub role: Option<String>,
    /// A user's login or email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A team's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// What it may do: `View`, `Edit` or `Admin`.
    ///
    /// Empty when left out, which validation reports.
    #[serde(default)]
    #[schemars(extend("enum" = PERMISSIONS.map(|(name, _)| name)))]
    pub permission: String,
}

impl PermissionEntry {
    /// The grantee fields the entry sets, by name, in the order `role`, `user`, `team`.
    fn named(&self) -> Vec<(&'static str, &str)> {
        [("role", &self.role), ("user", &self.user), ("team", &self.team)]
            .into_iter()
            .filter_map(|(key, value)| Some((key, value.as_deref()?)))
            .collect()
    }
}

/// A folder's permission list as the remote object records it: the folder and the rows
/// Grafana returned, inherited rows left out.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredAcl {
    folder_uid: String,
    folder_title: Option<String>,
    #[serde(default)]
    items: Vec<AclRow>,
}

/// One row of `GET /api/folders/:uid/permissions` (DashboardAclInfoDTO). Stored rows keep
/// the six fields compared; `inherited` and `title` are read from Grafana's answer only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AclRow {
    role: Option<String>,
    user_id: Option<i64>,
    user_login: Option<String>,
    team_id: Option<i64>,
    team: Option<String>,
    permission: Option<i64>,
    #[serde(default, skip_serializing)]
    pub(crate) inherited: bool,
    /// The folder's (or dashboard's) title, which every row carries.
    #[serde(default, skip_serializing)]
    pub(crate) title: Option<String>,
}

/// What planning this kind reads besides the lists (its context): the org's users and teams,
/// for resolving names; the folders whose list these credentials may not read; every
/// folder's uid. Each directory side is `Err` with the reason when it could not be read.
/// `dashboard_permission` uses the same, with dashboards for folders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Directory {
    pub(crate) users: Result<Users, String>,
    /// Team name → id.
    pub(crate) teams: Result<BTreeMap<String, i64>, String>,
    /// Folders (dashboards) whose ACL these credentials may not read.
    pub(crate) unreadable: BTreeSet<String>,
    /// Every folder's (dashboard's) uid.
    pub(crate) folders: BTreeSet<String>,
}

/// Users by login → user id, and email (lower-cased) → login: the org's (permissions, teams)
/// or the server's (organisations), as members and grantees are named by login or email.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Users {
    ids: BTreeMap<String, i64>,
    logins_by_email: BTreeMap<String, String>,
}

impl Users {
    pub(crate) fn insert(&mut self, login: String, id: i64, email: Option<&str>) {
        if let Some(email) = email.filter(|email| !email.is_empty()) {
            self.logins_by_email.insert(email.to_lowercase(), login.clone());
        }
        self.ids.insert(login, id);
    }

    pub(crate) fn id(&self, login: &str) -> Option<i64> {
        self.ids.get(login).copied()
    }
}

/// A user named by login or email → its login; `scope` ends the message of one not found
/// (` in this org`).
pub(crate) fn resolve_login(users: &Result<Users, String>, name: &str, scope: &str) -> Result<String, String> {
    let users = users.as_ref().map_err(|reason| format!("cannot look up user `{name}`: {reason}"))?;
    if users.ids.contains_key(name) {
        return Ok(name.to_owned());
    }
    users
        .logins_by_email
        .get(&name.to_lowercase())
        .cloned()
        .ok_or_else(|| format!("Grafana has no user `{name}`{scope} (looked up by login and by email)"))
}

/// Users and teams as a write resolves names with them (from the plan's directory).
#[derive(Debug)]
struct People {
    users: Result<Users, String>,
    teams: Result<BTreeMap<String, i64>, String>,
}

/// A listed folder (`GET /api/folders`).
#[derive(Debug, Deserialize)]
struct FolderHit {
    uid: String,
    #[serde(default)]
    title: Option<String>,
}

/// A user of the org (`GET /api/org/users`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUser {
    login: Option<String>,
    user_id: Option<i64>,
    email: Option<String>,
}

/// A page of `GET /api/teams/search`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamPage {
    #[serde(default)]
    teams: Vec<TeamHit>,
    #[serde(default)]
    total_count: u64,
}

#[derive(Debug, Deserialize)]
struct TeamHit {
    name: Option<String>,
    id: Option<i64>,
}

/// A permission list in the comparable form: entries sorted, each `who` and `permission`.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableAcl {
    folder_uid: String,
    permissions: Vec<ComparableEntry>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ComparableEntry {
    who: String,
    permission: String,
}

/// One entry of a permission list in the comparable form: who, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grantee {
    Role(String),
    User(String),
    Team(String),
}

impl Grantee {
    fn who(&self) -> String {
        match self {
            Grantee::Role(role) => format!("role:{role}"),
            Grantee::User(login) => format!("user:{login}"),
            Grantee::Team(name) => format!("team:{name}"),
        }
    }
}

#[derive(Debug)]
pub(crate) struct FolderPermissionKind {
    client: Arc<Client>,
}

/// An answer's body as `T`; one of another shape is an error naming the request.
pub(crate) fn parse<T: DeserializeOwned>(answer: &Answer, what: &str) -> Result<T, HandlerError> {
    T::deserialize(&answer.body).map_err(|err| {
        HandlerError::new(
            HandlerErrorKind::Unavailable,
            format!("{what}: Grafana answered in an unexpected shape: {err}"),
        )
    })
}

impl FolderPermissionKind {
    pub(crate) fn new(client: Arc<Client>) -> FolderPermissionKind {
        FolderPermissionKind { client }
    }

    async fn folders(&self) -> Result<Vec<FolderHit>, HandlerError> {
        let mut folders = Vec::new();
        for page in 1.. {
            let answer = self
                .client
                .get(&["api", "folders"], &[("limit", PAGE_SIZE.to_string()), ("page", page.to_string())])
                .await?;
            let items: Vec<FolderHit> = parse(&answer, "GET /api/folders")?;
            let full_page = items.len() >= PAGE_SIZE;
            folders.extend(items);
            if !full_page {
                break;
            }
        }
        Ok(folders)
    }

    /// Every folder's readable ACL, sorted by folder uid, and the uids of folders whose ACL
    /// these credentials may not read.
    async fn read_acls(&self) -> Result<(Vec<RemoteObject>, BTreeSet<String>), HandlerError> {
        let folders = self.folders().await?;
        let mut objects = Vec::new();
        let mut unreadable = BTreeSet::new();
        let mut pending = folders.into_iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < CONCURRENCY
                && let Some(folder) = pending.next()
            {
                let client = self.client.clone();
                running.spawn(async move {
                    let acl = read_acl(&client, &folder).await;
                    (folder, acl)
                });
            }
            let Some(done) = running.join_next().await else { break };
            let (folder, acl) = done.map_err(|err| {
                HandlerError::new(HandlerErrorKind::Other, format!("reading a folder's permissions failed: {err}"))
            })?;
            match acl? {
                Some(object) => objects.push(object),
                None => {
                    unreadable.insert(folder.uid);
                }
            }
        }
        objects.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        Ok((objects, unreadable))
    }

    async fn post(&self, folder_uid: &str, items: Vec<Value>) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "folders", folder_uid, "permissions"], &[]);
        self.client.send(Method::POST, url, Some(&json!({ "items": items }))).await.map(|_| ())
    }

    /// Writes the whole list with one POST (API.md §6.2) and returns what Grafana then has.
    async fn write_list(
        &self,
        desired: &FolderPermission,
        refs: &dyn Resolver,
        directory: &Option<Directory>,
    ) -> Result<RemoteObject, HandlerError> {
        let folder_uid = match &desired.folder {
            FolderRef::Uid(uid) => uid.clone(),
            FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", local_id)) {
                Some(Resolved::Known(folder)) => folder.remote_id.clone(),
                _ => {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("folder `{local_id}` has not been created"),
                    )
                    .at("/folder"));
                }
            },
        };
        let items = items_to_write_now(&self.client, &desired.permissions, directory).await?;
        self.post(&folder_uid, items).await.map_err(|err| err.at("/permissions"))?;
        self.read(&folder_uid).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("folder {folder_uid} disappeared while it was written"),
            )
        })
    }
}

/// [`items_to_write`], but a user or team the plan's directory does not have — one this apply
/// has just created, named through a reference (known after apply when planned) — is looked
/// up afresh: the plan showed it as that object.
pub(crate) async fn items_to_write_now(
    client: &Client,
    permissions: &[PermissionEntry],
    directory: &Option<Directory>,
) -> Result<Vec<Value>, HandlerError> {
    match items_to_write(permissions, directory) {
        Ok(items) => Ok(items),
        Err(error) if error.kind == HandlerErrorKind::Invalid => {
            let fresh = Directory {
                users: load_users(client).await,
                teams: load_teams(client).await,
                unreadable: BTreeSet::new(),
                folders: BTreeSet::new(),
            };
            items_to_write(permissions, &Some(fresh))
        }
        Err(error) => Err(error),
    }
}

/// The natural-key references of permission entries: a `user` (by login) or a `team` (by
/// name) this project defines becomes a reference to it, so that it is made first and, when
/// it is new, shown as known after apply.
pub(crate) fn entry_key_references(permissions: &[PermissionEntry]) -> Vec<KeyReference> {
    let mut references = Vec::new();
    for (index, entry) in permissions.iter().enumerate() {
        let (kind, key_field, name) = match entry.named().as_slice() {
            [("user", login)] => ("user", "login", login.trim()),
            [("team", name)] => ("team", "name", name.trim()),
            _ => continue,
        };
        let field = if kind == "user" { "user" } else { "team" };
        references.push(KeyReference {
            pointer: format!("/permissions/{index}/{field}"),
            kind: kind.to_owned(),
            key_field: key_field.to_owned(),
            key: name.to_owned(),
            value_field: Some(key_field.to_owned()),
        });
    }
    references
}

/// The rows a POST of `permissions` sends: users and teams named by the ids of the
/// directory the plan was made with (a saved plan carries it).
pub(crate) fn items_to_write(
    permissions: &[PermissionEntry],
    directory: &Option<Directory>,
) -> Result<Vec<Value>, HandlerError> {
    // Names resolve with the directory the plan was made with (it carries it): the ids
    // written are those of the people the plan showed.
    let people = match directory {
        Some(directory) => People { users: directory.users.clone(), teams: directory.teams.clone() },
        None => {
            let reason = "the org's users and teams were not read with the plan".to_owned();
            People { users: Err(reason.clone()), teams: Err(reason) }
        }
    };
    let mut items = Vec::new();
    for (index, entry) in permissions.iter().enumerate() {
        let Some(permission) = permission_value(entry.permission.trim()) else { continue };
        let item = match entry.named().as_slice() {
            [("role", role)] => json!({ "role": role.trim(), "permission": permission }),
            [("user", name)] => {
                let name = name.trim();
                let login = resolve_user(&people.users, name).map_err(|message| invalid(index, "user", message))?;
                let id = people
                    .users
                    .as_ref()
                    .ok()
                    .and_then(|users| users.id(&login))
                    .ok_or_else(|| invalid(index, "user", format!("user `{name}` has no id")))?;
                json!({ "userId": id, "permission": permission })
            }
            [("team", name)] => {
                let id = resolve_team(&people.teams, name.trim()).map_err(|message| invalid(index, "team", message))?;
                json!({ "teamId": id, "permission": permission })
            }
            _ => continue,
        };
        items.push(item);
    }
    Ok(items)
}

/// The entries of a definition as (grantee, permission name), sorted, users and teams
/// looked up in the plan's directory.
pub(crate) fn wanted_entries(
    permissions: &[PermissionEntry],
    directory: &Option<Directory>,
) -> Result<Vec<(Grantee, String)>, FieldError> {
    let mut wanted = Vec::new();
    for (index, entry) in permissions.iter().enumerate() {
        let permission = entry.permission.trim().to_owned();
        let grantee = match entry.named().first() {
            Some(("role", role)) => Grantee::Role(role.trim().to_owned()),
            // A user or team this apply creates: compared as such until it exists.
            Some(("user", user)) if user.trim() == KNOWN_AFTER_APPLY => Grantee::User(KNOWN_AFTER_APPLY.to_owned()),
            Some(("team", team)) if team.trim() == KNOWN_AFTER_APPLY => Grantee::Team(KNOWN_AFTER_APPLY.to_owned()),
            Some(("user", user)) => {
                let at = format!("/permissions/{index}/user");
                let directory = directory.as_ref().ok_or_else(|| FieldError::at(&at, "users were not read"))?;
                Grantee::User(
                    resolve_user(&directory.users, user.trim()).map_err(|message| FieldError::at(&at, message))?,
                )
            }
            Some((_, team)) => {
                let at = format!("/permissions/{index}/team");
                let directory = directory.as_ref().ok_or_else(|| FieldError::at(&at, "teams were not read"))?;
                resolve_team(&directory.teams, team.trim()).map_err(|message| FieldError::at(&at, message))?;
                Grantee::Team(team.trim().to_owned())
            }
            None => continue,
        };
        wanted.push((grantee, permission));
    }
    wanted.sort();
    Ok(wanted)
}

fn invalid(index: usize, field: &str, message: String) -> HandlerError {
    HandlerError::new(HandlerErrorKind::Invalid, message).at(format!("/permissions/{index}/{field}"))
}

/// ACLs read by `acls` (the objects, and the ids of those these credentials may not read),
/// with the directory a plan resolves names in: the org's users and teams, read alongside,
/// and every id the list saw. Folder and dashboard permissions both list so.
pub(crate) async fn with_directory(
    client: &Client,
    acls: impl std::future::Future<Output = Result<(Vec<RemoteObject>, BTreeSet<String>), HandlerError>>,
) -> Result<(Vec<RemoteObject>, Option<Directory>), HandlerError> {
    let (acls, users, teams) = tokio::join!(acls, load_users(client), load_teams(client));
    let (objects, unreadable) = acls?;
    let mut folders: BTreeSet<String> = objects.iter().map(|object| object.remote_id.clone()).collect();
    folders.extend(unreadable.iter().cloned());
    Ok((objects, Some(Directory { users, teams, unreadable, folders })))
}

/// `GET /api/org/users` (org admins): every user of the org with login and email.
pub(crate) async fn load_users(client: &Client) -> Result<Users, String> {
    let answer = match client.get(&["api", "org", "users"], &[]).await {
        Ok(answer) => answer,
        Err(err) if err.kind == HandlerErrorKind::Unauthorized => {
            return Err("these credentials may not list the org's users (Grafana 8 requires an org Admin)".to_owned());
        }
        Err(err) => return Err(err.message),
    };
    let listed: Vec<OrgUser> = parse(&answer, "GET /api/org/users").map_err(|err| err.message)?;
    let mut users = Users::default();
    for user in listed {
        let (Some(login), Some(id)) = (user.login, user.user_id) else { continue };
        users.insert(login, id, user.email.as_deref());
    }
    Ok(users)
}

/// `GET /api/teams/search`, paged. With RBAC off only org admins see every team.
pub(crate) async fn load_teams(client: &Client) -> Result<BTreeMap<String, i64>, String> {
    let mut teams = BTreeMap::new();
    for page in 1.. {
        let query = [("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
        let answer = client.get(&["api", "teams", "search"], &query).await.map_err(|err| {
            if err.kind == HandlerErrorKind::Unauthorized {
                "these credentials may not list the org's teams (Grafana 8 requires an org Admin)".to_owned()
            } else {
                err.message
            }
        })?;
        let found: TeamPage = parse(&answer, "GET /api/teams/search").map_err(|err| err.message)?;
        let received = found.teams.len();
        for team in found.teams {
            if let (Some(name), Some(id)) = (team.name, team.id) {
                teams.insert(name, id);
            }
        }
        if received < PAGE_SIZE || teams.len() as u64 >= found.total_count {
            break;
        }
    }
    // An API key that is not an org Admin sees only teams it is a member of: none.
    Ok(teams)
}

/// Reads one folder's ACL: `Ok(None)` when these credentials may not (403).
async fn read_acl(client: &Client, folder: &FolderHit) -> Result<Option<RemoteObject>, HandlerError> {
    match client.get(&["api", "folders", &folder.uid, "permissions"], &[]).await {
        Ok(answer) => {
            let rows: Vec<AclRow> = parse(&answer, "GET /api/folders/:uid/permissions")?;
            Ok(Some(acl_object(&folder.uid, folder.title.clone(), rows)))
        }
        Err(err) if err.kind == HandlerErrorKind::Unauthorized => Ok(None),
        Err(err) => Err(err),
    }
}

/// A remote permission list: id the folder uid; the rows as Grafana returned them.
fn acl_object(uid: &str, title: Option<String>, rows: Vec<AclRow>) -> RemoteObject {
    let stored = StoredAcl {
        folder_uid: uid.to_owned(),
        folder_title: title,
        items: rows.into_iter().filter(|row| !row.inherited).collect(),
    };
    RemoteObject {
        remote_id: uid.to_owned(),
        adoption_key: Some(uid.to_owned()),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

fn permission_name(value: i64) -> String {
    PERMISSIONS
        .iter()
        .find(|(_, number)| *number == value)
        .map_or_else(|| format!("({value})"), |(name, _)| (*name).to_owned())
}

pub(crate) fn permission_value(name: &str) -> Option<i64> {
    PERMISSIONS.iter().find(|(known, _)| *known == name).map(|(_, value)| *value)
}

/// The observed rows as (grantee, permission name), sorted.
fn observed_entries(acl: &StoredAcl) -> Vec<(Grantee, String)> {
    observed_rows(&acl.items)
}

/// ACL rows as (grantee, permission name), sorted.
pub(crate) fn observed_rows(rows: &[AclRow]) -> Vec<(Grantee, String)> {
    let mut entries: Vec<(Grantee, String)> = rows
        .iter()
        .filter_map(|row| {
            let permission = permission_name(row.permission.unwrap_or_default());
            let named = |text: &Option<String>| text.as_deref().filter(|text| !text.is_empty()).map(str::to_owned);
            let user_id = row.user_id.unwrap_or_default();
            let team_id = row.team_id.unwrap_or_default();
            let grantee = if user_id > 0 {
                Grantee::User(named(&row.user_login).unwrap_or_else(|| format!("#{user_id}")))
            } else if team_id > 0 {
                Grantee::Team(named(&row.team).unwrap_or_else(|| format!("#{team_id}")))
            } else {
                Grantee::Role(named(&row.role)?)
            };
            Some((grantee, permission))
        })
        .collect();
    entries.sort();
    entries
}

fn comparable_list(folder_uid: String, entries: &[(Grantee, String)]) -> ComparableAcl {
    ComparableAcl { folder_uid, permissions: comparable_entries(entries) }
}

/// Entries in the comparable form.
pub(crate) fn comparable_entries(entries: &[(Grantee, String)]) -> Vec<ComparableEntry> {
    entries
        .iter()
        .map(|(grantee, permission)| ComparableEntry { who: grantee.who(), permission: permission.clone() })
        .collect()
}

/// Whether entries are Grafana's default list (role Viewer may View, role Editor may Edit).
pub(crate) fn is_default_list(entries: &[(Grantee, String)]) -> bool {
    let mut defaults: Vec<(Grantee, String)> = DEFAULT_ACL
        .iter()
        .map(|(role, permission)| (Grantee::Role((*role).to_owned()), (*permission).to_owned()))
        .collect();
    defaults.sort();
    entries == defaults
}

/// Observed entries as a definition writes them; `None` when a row names a user or team
/// Grafana could not name, or a permission it does not know: such a list cannot be written back.
pub(crate) fn imported_entries(entries: Vec<(Grantee, String)>) -> Option<Vec<PermissionEntry>> {
    let mut permissions = Vec::new();
    for (grantee, permission) in entries {
        let name = match &grantee {
            Grantee::Role(name) | Grantee::User(name) | Grantee::Team(name) => name,
        };
        if name.starts_with('#') || permission.starts_with('(') {
            return None;
        }
        let entry = match grantee {
            Grantee::Role(role) => PermissionEntry { role: Some(role), ..PermissionEntry::default() },
            Grantee::User(login) => PermissionEntry { user: Some(login), ..PermissionEntry::default() },
            Grantee::Team(name) => PermissionEntry { team: Some(name), ..PermissionEntry::default() },
        };
        permissions.push(PermissionEntry { permission, ..entry });
    }
    Some(permissions)
}

fn resolve_user(users: &Result<Users, String>, name: &str) -> Result<String, String> {
    resolve_login(users, name, " in this org")
}

fn resolve_team(teams: &Result<BTreeMap<String, i64>, String>, name: &str) -> Result<i64, String> {
    let teams = teams.as_ref().map_err(|reason| format!("cannot look up team `{name}`: {reason}"))?;
    teams.get(name).copied().ok_or_else(|| {
        // A BTreeMap: the names come sorted.
        let names: Vec<&str> = teams.keys().map(String::as_str).collect();
        format!(
            "Grafana has no team named `{name}` in this org (it has: {})",
            if names.is_empty() { "none visible to these credentials".to_owned() } else { names.join(", ") }
        )
    })
}

/// Checks each entry of a permission list offline; `target` names what the list is of.
pub(crate) fn validate_entries(permissions: &[PermissionEntry], target: &str, errors: &mut Vec<FieldError>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, entry) in permissions.iter().enumerate() {
        let at = |field: &str| format!("/permissions/{index}{field}");
        let named = entry.named();
        match named.as_slice() {
            [(key, value)] => {
                let value = value.trim();
                if value.is_empty() {
                    errors.push(FieldError::at(at(&format!("/{key}")), format!("`{key}` must be a non-empty string")));
                } else if *key == "role" && !ROLES.contains(&value) {
                    let hint = if value.eq_ignore_ascii_case("admin") {
                        format!("org Admins may always administer every {target}; ")
                    } else {
                        String::new()
                    };
                    errors.push(FieldError::at(
                        at("/role"),
                        format!("role `{value}` cannot be granted: {hint}`role` must be Viewer or Editor"),
                    ));
                } else {
                    let who = if *key == "team" {
                        format!("team:{value}")
                    } else {
                        format!("{key}:{}", value.to_lowercase())
                    };
                    // References to distinct objects all read as known after apply here.
                    if value != KNOWN_AFTER_APPLY
                        && let Some(first) = seen.insert(who, index)
                    {
                        errors.push(FieldError::at(
                            at(&format!("/{key}")),
                            format!("{key} `{value}` is already given a permission by entry {first}; Grafana allows one entry each"),
                        ));
                    }
                }
            }
            [] => errors.push(FieldError::at(at(""), "a permission entry needs one of `role`, `user` or `team`")),
            _ => errors.push(FieldError::at(
                at(&format!("/{}", named[1].0)),
                format!(
                    "a permission entry names exactly one of `role`, `user` or `team`, not {}",
                    named.iter().map(|(key, _)| *key).collect::<Vec<_>>().join(" and ")
                ),
            )),
        }
        if entry.permission.is_empty() {
            errors.push(FieldError::at(at("/permission"), "`permission` is missing (\"View\", \"Edit\" or \"Admin\")"));
        } else if permission_value(&entry.permission).is_none() {
            errors.push(FieldError::at(
                at("/permission"),
                format!("`permission` must be \"View\", \"Edit\" or \"Admin\", not {}", json!(entry.permission)),
            ));
        }
    }
}

fn validate_permission(desired: &FolderPermission) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    match &desired.folder {
        FolderRef::Local(local_id) if !local_id.is_empty() => {}
        FolderRef::Uid(uid) if crate::folder::valid_uid(uid) => {}
        _ => errors.push(FieldError::at("/folder", FOLDER_EXPECTED)),
    }
    validate_entries(&desired.permissions, "folder", &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The uid of the folder a definition names: `KNOWN_AFTER_APPLY` for one defined here that
/// does not exist yet, `None` while that is not even planned.
fn folder_uid(folder: &FolderRef, refs: &dyn Resolver) -> Option<String> {
    match folder {
        FolderRef::Uid(uid) => Some(uid.clone()),
        FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", local_id))? {
            Resolved::Known(folder) => Some(folder.remote_id.clone()),
            Resolved::Pending => Some(KNOWN_AFTER_APPLY.to_owned()),
        },
    }
}

#[async_trait]
impl Kind for FolderPermissionKind {
    type Desired = FolderPermission;
    type Remote = StoredAcl;
    type Comparable = ComparableAcl;
    /// `None`: not read (a plan that did not list this kind).
    type Context = Option<Directory>;

    fn validate(&self, desired: &FolderPermission) -> Result<(), Vec<FieldError>> {
        validate_permission(desired)
    }

    fn references(&self, desired: &FolderPermission) -> Vec<(String, LocalRef)> {
        desired.folder.references()
    }

    fn key_references(&self, desired: &FolderPermission) -> Vec<KeyReference> {
        entry_key_references(&desired.permissions)
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &FolderPermission, refs: &dyn Resolver) -> Option<String> {
        folder_uid(&desired.folder, refs).filter(|uid| uid != KNOWN_AFTER_APPLY)
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &FolderPermission,
        refs: &dyn Resolver,
        directory: &Option<Directory>,
    ) -> Result<ComparableAcl, FieldError> {
        let folder_uid = folder_uid(&desired.folder, refs).unwrap_or_else(|| KNOWN_AFTER_APPLY.to_owned());
        if let (FolderRef::Uid(uid), Some(directory)) = (&desired.folder, directory)
            && !directory.folders.contains(uid)
        {
            return Err(FieldError::at("/folder", format!("there is no folder with uid `{uid}` in Grafana")));
        }
        if let Some(directory) = directory
            && directory.unreadable.contains(&folder_uid)
        {
            return Err(FieldError::at(
                "/folder",
                format!(
                    "these credentials may not read the permissions of folder {folder_uid}; managing them needs an org Admin or the folder's Admin permission"
                ),
            ));
        }
        let wanted = wanted_entries(&desired.permissions, directory)?;
        Ok(comparable_list(folder_uid, &wanted))
    }

    fn observed(&self, remote: &Remote<'_, StoredAcl>) -> ComparableAcl {
        comparable_list(remote.remote_id().to_owned(), &observed_entries(&remote.fields))
    }

    fn describe(&self, remote: &Remote<'_, StoredAcl>) -> String {
        let title = remote.fields.folder_title.as_deref().unwrap_or_default();
        let count = remote.fields.items.len();
        format!(
            "the permissions of folder {title:?}, {count} entr{}; Grafana's defaults are restored",
            if count == 1 { "y" } else { "ies" }
        )
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/permissions").then_some("who")
    }

    /// Imports only folders whose list differs from Grafana's default, so that importing a
    /// Grafana does not produce one definition per untouched folder.
    fn import(
        &self,
        remote: &Remote<'_, StoredAcl>,
        refs: &dyn ImportRefs,
        _directory: &Option<Directory>,
    ) -> Option<ImportedFields> {
        let entries = observed_entries(&remote.fields);
        if is_default_list(&entries) {
            return None;
        }
        let folder_title = remote.fields.folder_title.as_deref().unwrap_or_default();
        let (folder, file, local_id) = match refs.local_id("folder", remote.remote_id()) {
            Some(local_id) => (FolderRef::Local(local_id.to_owned()), local_id.to_owned(), local_id.to_owned()),
            None => {
                (FolderRef::Uid(remote.remote_id().to_owned()), crate::slug(folder_title), crate::slug(folder_title))
            }
        };
        let permissions = imported_entries(entries)?;
        let fields = serde_json::to_value(FolderPermission { folder, permissions }).ok()?.as_object()?.clone();
        Some(ImportedFields {
            local_id: format!("{local_id}-permissions"),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    /// Every folder's list (a saved plan's re-read of this kind reads each object instead).
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.read_acls().await?.0)
    }

    /// The lists, and the directory: users and teams read alongside them, the folders the
    /// list found unreadable, and every folder's uid.
    async fn list_with_context(&self) -> Result<(Vec<RemoteObject>, Option<Directory>), HandlerError> {
        with_directory(&self.client, self.read_acls()).await
    }

    /// One GET: the ACL of a folder that does not exist is a 404 (GetFolderPermissionList,
    /// pkg/api/folder_permission.go), and every row carries the folder's title.
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "folders", remote_id, "permissions"], &[]).await {
            Ok(answer) => {
                let rows: Vec<AclRow> = parse(&answer, "GET /api/folders/:uid/permissions")?;
                let title = rows.first().and_then(|row| row.title.clone());
                Ok(Some(acl_object(remote_id, title, rows)))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One ACL GET per folder is all 8.5 offers: a saved plan re-reads only its own.
    fn reread(&self) -> Reread {
        Reread::EachObject
    }

    /// The natural key is the folder's uid, which is also the remote id.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &FolderPermission,
        refs: &dyn Resolver,
        context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let written = self.write_list(desired, refs, context).await?;
        // Pointed at another folder: the folder it leaves gets Grafana's defaults back, as
        // after a delete.
        if let Some(current) = current
            && written.remote_id != current.remote_id
        {
            self.delete(current).await?;
        }
        Ok(written)
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let defaults: Vec<Value> = DEFAULT_ACL
            .iter()
            .filter_map(|(role, permission)| Some(json!({ "role": role, "permission": permission_value(permission)? })))
            .collect();
        match self.post(&current.remote_id, defaults).await {
            Ok(()) => Ok(()),
            // The folder is gone, and its permissions with it.
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};

    fn fields(value: Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(&value)
    }

    fn kind() -> Typed<FolderPermissionKind> {
        let client = crate::client::unreachable();
        Typed(FolderPermissionKind::new(Arc::new(client)))
    }

    #[test]
    fn validation_names_each_bad_entry() {
        let bad = fields(json!({
            "folder": "payments",
            "permissions": [
                { "role": "Admin", "permission": "Edit" },
                { "user": "alice", "team": "sre", "permission": "View" },
                { "team": "sre", "permission": "Read" },
                { "permission": "View" },
                { "team": "sre", "permission": "Edit" },
                { "role": "Viewer" },
            ],
        }));
        let errors = kind().validate(&bad).expect_err("invalid");
        let found: Vec<(&str, &str)> =
            errors.iter().map(|error| (error.pointer.as_str(), error.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (
                    "/permissions/0/role",
                    "role `Admin` cannot be granted: org Admins may always administer every folder; `role` must be Viewer or Editor"
                ),
                (
                    "/permissions/1/team",
                    "a permission entry names exactly one of `role`, `user` or `team`, not user and team"
                ),
                ("/permissions/2/permission", "`permission` must be \"View\", \"Edit\" or \"Admin\", not \"Read\""),
                ("/permissions/3", "a permission entry needs one of `role`, `user` or `team`"),
                (
                    "/permissions/4/team",
                    "team `sre` is already given a permission by entry 2; Grafana allows one entry each"
                ),
                ("/permissions/5/permission", "`permission` is missing (\"View\", \"Edit\" or \"Admin\")"),
            ]
        );
        let good =
            fields(json!({ "folder": { "uid": "x" }, "permissions": [{ "role": "Viewer", "permission": "View" }] }));
        assert!(kind().validate(&good).is_ok());
        for folder in [json!(""), json!({ "uid": "no spaces" }), json!({ "uid": "x", "title": "X" }), json!(3)] {
            let errors = kind().validate(&fields(json!({ "folder": folder, "permissions": [] }))).expect_err("folder");
            assert_eq!(
                (errors[0].pointer.as_str(), errors[0].message.as_str()),
                ("/folder", FOLDER_EXPECTED),
                "{folder}"
            );
        }
    }

    #[test]
    fn observed_rows_compare_in_any_order() {
        let rows: Vec<AclRow> = serde_json::from_value(json!([
            { "role": "Editor", "userId": 0, "teamId": 0, "permission": 2 },
            { "userId": 7, "userLogin": "alice", "teamId": 0, "permission": 4 },
            { "userId": 0, "teamId": 3, "team": "SRE", "permission": 1 },
            { "role": "Viewer", "permission": 1, "inherited": true },
        ]))
        .expect("rows");
        let remote = acl_object("f", Some("F".to_owned()), rows);
        assert_eq!(
            remote.fields.to_value()["items"].as_array().map(Vec::len),
            Some(3),
            "inherited rows are not the folder's"
        );
        let stored: StoredAcl = remote.fields.parse().expect("stored");
        let entries = observed_entries(&stored);
        assert_eq!(
            entries,
            [
                (Grantee::Role("Editor".into()), "Edit".to_owned()),
                (Grantee::User("alice".into()), "Admin".to_owned()),
                (Grantee::Team("SRE".into()), "View".to_owned()),
            ]
        );
    }

    /// The planner reads users and teams from the recorded context only: the same recorded
    /// context plans the same, and none (not read) is said so at the entry.
    #[test]
    fn names_resolve_against_the_recorded_directory() {
        struct NoRefs;
        impl Resolver for NoRefs {
            fn resolve(&self, _reference: &LocalRef) -> Option<Resolved<'_>> {
                None
            }
        }
        let directory = Directory {
            users: Ok(Users {
                ids: BTreeMap::from([("alice".to_owned(), 7)]),
                logins_by_email: BTreeMap::from([("alice@example.com".to_owned(), "alice".to_owned())]),
            }),
            teams: Err("these credentials may not list the org's teams".to_owned()),
            unreadable: BTreeSet::from(["secret".to_owned()]),
            folders: BTreeSet::from(["f".to_owned(), "secret".to_owned()]),
        };
        let recorded = serde_json::to_value(Some(&directory)).expect("context");
        let desired = mac_core::DesiredObject {
            id: ObjectId::new("grafana8", "folder_permission", "f"),
            fields: fields(json!({ "folder": { "uid": "f" }, "permissions": [
                { "user": "Alice@Example.com", "permission": "Admin" }, { "role": "Viewer", "permission": "View" },
            ] })),
        };
        let compared = kind()
            .compare(&desired, None, &NoRefs, &kind().prepare_context(&recorded).expect("context"))
            .expect("compared");
        assert_eq!(
            compared.desired,
            json!({ "folder_uid": "f", "permissions": [
                { "who": "role:Viewer", "permission": "View" }, { "who": "user:alice", "permission": "Admin" },
            ] })
        );
        let with_team = mac_core::DesiredObject {
            fields: fields(json!({ "folder": { "uid": "secret" }, "permissions": [] })),
            ..desired.clone()
        };
        let error = kind()
            .compare(&with_team, None, &NoRefs, &kind().prepare_context(&recorded).expect("context"))
            .expect_err("unreadable");
        assert!(error.message.starts_with("these credentials may not read the permissions of folder secret"));
        let team = mac_core::DesiredObject {
            fields: fields(
                json!({ "folder": { "uid": "f" }, "permissions": [{ "team": "SRE", "permission": "View" }] }),
            ),
            ..desired.clone()
        };
        let error = kind()
            .compare(&team, None, &NoRefs, &kind().prepare_context(&recorded).expect("context"))
            .expect_err("teams");
        assert_eq!(
            (error.pointer.as_str(), error.message.as_str()),
            ("/permissions/0/team", "cannot look up team `SRE`: these credentials may not list the org's teams")
        );
        let error = kind()
            .compare(&desired, None, &NoRefs, &kind().prepare_context(&Value::Null).expect("context"))
            .expect_err("not read");
        assert_eq!((error.pointer.as_str(), error.message.as_str()), ("/permissions/0/user", "users were not read"));
    }
}
