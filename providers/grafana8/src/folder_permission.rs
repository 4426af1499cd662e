//! `folder_permission`: the whole permission list (ACL) of one folder (API.md §6).
//!
//! Grafana 8.5's POST replaces a folder's ACL as a whole, so one object is one folder's
//! complete list, and its remote id is the folder's uid. Users are named by login or email
//! and teams by name; both are looked up once per plan, in bulk, when the list is read.
//!
//! A plan reads `1 + ⌈folders/1000⌉ + folders + 2` requests (one ACL GET per folder is
//! unavoidable: 8.5 has no bulk ACL endpoint; the GETs run 8 at a time).
//! Deleting a `folder_permission` gives the folder Grafana's default list back (role Editor
//! may Edit, role Viewer may View) rather than leaving an empty ACL, which would lock out
//! everyone but org admins.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, LocalRef, RemoteObject, Resolved,
    Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::folder_ref::{FolderRef, folder_of, folder_references};

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
const DEFAULT_ACL: [(&str, &str); 2] = [("Viewer", "View"), ("Editor", "Edit")];

#[derive(Debug)]
pub struct FolderPermissionHandler {
    client: Arc<Client>,
    /// The org's users and teams as the last list read them.
    directory: Mutex<Option<Directory>>,
}

/// Login → user id, and email (lower-cased) → login.
type Users = (HashMap<String, i64>, HashMap<String, String>);

/// Users and teams of the org, for resolving names to ids. Each side is `Err` with the
/// reason when these credentials could not read it.
#[derive(Debug, Clone)]
struct Directory {
    users: Result<Users, String>,
    /// Name → id.
    teams: Result<HashMap<String, i64>, String>,
    /// Folders whose ACL these credentials may not read.
    unreadable: BTreeSet<String>,
    /// Every folder's uid, when read by a list.
    folders: Option<BTreeSet<String>>,
}

/// One entry of a permission list in the comparable form: who, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Grantee {
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

impl FolderPermissionHandler {
    pub fn new(client: Arc<Client>) -> FolderPermissionHandler {
        FolderPermissionHandler { client, directory: Mutex::new(None) }
    }

    fn cached(&self) -> Option<Directory> {
        self.directory.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn remember(&self, directory: Directory) {
        *self.directory.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(directory);
    }

    /// `GET /api/org/users` (org admins): every user of the org with login and email.
    async fn load_users(&self) -> Result<Users, String> {
        match self.client.get(&["api", "org", "users"], &[]).await {
            Ok(answer) => {
                let mut by_login = HashMap::new();
                let mut by_email = HashMap::new();
                for user in answer.body.as_array().into_iter().flatten() {
                    let (Some(login), Some(id)) =
                        (user.get("login").and_then(Value::as_str), user.get("userId").and_then(Value::as_i64))
                    else {
                        continue;
                    };
                    by_login.insert(login.to_owned(), id);
                    if let Some(email) = user.get("email").and_then(Value::as_str).filter(|email| !email.is_empty()) {
                        by_email.insert(email.to_lowercase(), login.to_owned());
                    }
                }
                Ok((by_login, by_email))
            }
            Err(err) if err.kind == HandlerErrorKind::Unauthorized => {
                Err("these credentials may not list the org's users (Grafana 8 requires an org Admin)".to_owned())
            }
            Err(err) => Err(err.message),
        }
    }

    /// `GET /api/teams/search`, paged. With RBAC off only org admins see every team.
    async fn load_teams(&self) -> Result<HashMap<String, i64>, String> {
        let mut teams = HashMap::new();
        for page in 1.. {
            let query = [("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let answer = self.client.get(&["api", "teams", "search"], &query).await.map_err(|err| {
                if err.kind == HandlerErrorKind::Unauthorized {
                    "these credentials may not list the org's teams (Grafana 8 requires an org Admin)".to_owned()
                } else {
                    err.message
                }
            })?;
            let items = answer.body.get("teams").and_then(Value::as_array).cloned().unwrap_or_default();
            for team in &items {
                if let (Some(name), Some(id)) =
                    (team.get("name").and_then(Value::as_str), team.get("id").and_then(Value::as_i64))
                {
                    teams.insert(name.to_owned(), id);
                }
            }
            let total = answer.body.get("totalCount").and_then(Value::as_u64).unwrap_or_default();
            if items.len() < PAGE_SIZE || teams.len() as u64 >= total {
                break;
            }
        }
        // An API key that is not an org Admin sees only teams it is a member of: none.
        Ok(teams)
    }

    async fn directory_for_writing(&self) -> Directory {
        if let Some(cached) = self.cached() {
            return cached;
        }
        let (users, teams) = tokio::join!(self.load_users(), self.load_teams());
        let directory = Directory { users, teams, unreadable: BTreeSet::new(), folders: None };
        self.remember(directory.clone());
        directory
    }

    async fn folders(&self) -> Result<Vec<Value>, HandlerError> {
        let mut folders = Vec::new();
        for page in 1.. {
            let answer = self
                .client
                .get(&["api", "folders"], &[("limit", PAGE_SIZE.to_string()), ("page", page.to_string())])
                .await?;
            let items = answer.body.as_array().cloned().unwrap_or_default();
            let full_page = items.len() >= PAGE_SIZE;
            folders.extend(items);
            if !full_page {
                break;
            }
        }
        Ok(folders)
    }

    /// Writes the whole list with one POST (API.md §6.2) and returns what Grafana then has.
    async fn write(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let folder_uid = match folder_of(&desired.fields) {
            Some(FolderRef::Uid(uid)) => uid,
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
                Some(Resolved::Known(folder)) => folder.remote_id.clone(),
                _ => {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("folder `{local_id}` has not been created"),
                    )
                    .at("/folder"));
                }
            },
            None => return Err(HandlerError::new(HandlerErrorKind::Invalid, "`folder` is missing").at("/folder")),
        };
        let directory = self.directory_for_writing().await;
        let entries = entries(&desired.fields);
        let mut items = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let item = match &entry.grantee {
                EntryGrantee::Role(role) => json!({ "role": role, "permission": entry.permission }),
                EntryGrantee::User(name) => {
                    let login = resolve_user(&directory, name).map_err(|message| invalid(index, "user", message))?;
                    let id = directory
                        .users
                        .as_ref()
                        .ok()
                        .and_then(|(by_login, _)| by_login.get(&login).copied())
                        .ok_or_else(|| invalid(index, "user", format!("user `{name}` has no id")))?;
                    json!({ "userId": id, "permission": entry.permission })
                }
                EntryGrantee::Team(name) => {
                    let id = resolve_team(&directory, name).map_err(|message| invalid(index, "team", message))?;
                    json!({ "teamId": id, "permission": entry.permission })
                }
            };
            items.push(item);
        }
        self.post(&folder_uid, items).await.map_err(|err| err.at("/permissions"))?;
        self.read(&folder_uid).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("folder {folder_uid} disappeared while it was written"),
            )
        })
    }

    async fn post(&self, folder_uid: &str, items: Vec<Value>) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "folders", folder_uid, "permissions"], &[]);
        self.client.send(Method::POST, url, Some(&json!({ "items": items }))).await.map(|_| ())
    }
}

fn invalid(index: usize, field: &str, message: String) -> HandlerError {
    HandlerError::new(HandlerErrorKind::Invalid, message).at(format!("/permissions/{index}/{field}"))
}

/// Reads one folder's ACL: `Ok(None)` when these credentials may not (403).
async fn read_acl(client: &Client, folder: &Value) -> Result<Option<RemoteObject>, HandlerError> {
    let uid = folder.get("uid").and_then(Value::as_str).unwrap_or_default();
    match client.get(&["api", "folders", uid, "permissions"], &[]).await {
        Ok(answer) => Ok(Some(acl_object(folder, &answer.body))),
        Err(err) if err.kind == HandlerErrorKind::Unauthorized => Ok(None),
        Err(err) => Err(err),
    }
}

/// A remote permission list: id the folder uid; the rows as Grafana returned them.
fn acl_object(folder: &Value, rows: &Value) -> RemoteObject {
    let uid = folder.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let rows: Vec<Value> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row.get("inherited").and_then(Value::as_bool) != Some(true))
        .map(|row| {
            json!({
                "role": row.get("role"),
                "userId": row.get("userId"),
                "userLogin": row.get("userLogin"),
                "teamId": row.get("teamId"),
                "team": row.get("team"),
                "permission": row.get("permission"),
            })
        })
        .collect();
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid.clone()),
        fields: json!({ "folder_uid": uid, "folder_title": folder.get("title"), "items": rows }),
        part_ids: BTreeMap::new(),
    }
}

fn permission_name(value: i64) -> String {
    PERMISSIONS
        .iter()
        .find(|(_, number)| *number == value)
        .map_or_else(|| format!("({value})"), |(name, _)| (*name).to_owned())
}

fn permission_value(name: &str) -> Option<i64> {
    PERMISSIONS.iter().find(|(known, _)| *known == name).map(|(_, value)| *value)
}

/// The observed rows as (grantee, permission name), sorted.
fn observed_entries(remote: &RemoteObject) -> Vec<(Grantee, String)> {
    let mut entries: Vec<(Grantee, String)> = remote
        .fields
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let permission = permission_name(row.get("permission").and_then(Value::as_i64).unwrap_or_default());
            let text = |key: &str| row.get(key).and_then(Value::as_str).filter(|text| !text.is_empty());
            let id = |key: &str| row.get(key).and_then(Value::as_i64).unwrap_or_default();
            let grantee = if id("userId") > 0 {
                Grantee::User(text("userLogin").map_or_else(|| format!("#{}", id("userId")), str::to_owned))
            } else if id("teamId") > 0 {
                Grantee::Team(text("team").map_or_else(|| format!("#{}", id("teamId")), str::to_owned))
            } else {
                Grantee::Role(text("role")?.to_owned())
            };
            Some((grantee, permission))
        })
        .collect();
    entries.sort();
    entries
}

fn comparable_list(folder_uid: Value, entries: &[(Grantee, String)]) -> Value {
    let permissions: Vec<Value> =
        entries.iter().map(|(grantee, permission)| json!({ "who": grantee.who(), "permission": permission })).collect();
    json!({ "folder_uid": folder_uid, "permissions": permissions })
}

enum EntryGrantee {
    Role(String),
    User(String),
    Team(String),
}

struct Entry {
    grantee: EntryGrantee,
    permission: i64,
}

/// The entries of a validated definition.
fn entries(fields: &Fields) -> Vec<Entry> {
    fields
        .get("permissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            let grantee = text("role")
                .map(EntryGrantee::Role)
                .or_else(|| text("user").map(EntryGrantee::User))
                .or_else(|| text("team").map(EntryGrantee::Team))?;
            let permission = permission_value(&text("permission")?)?;
            Some(Entry { grantee, permission })
        })
        .collect()
}

/// A user named by login or email → its login.
fn resolve_user(directory: &Directory, name: &str) -> Result<String, String> {
    let (by_login, by_email) =
        directory.users.as_ref().map_err(|reason| format!("cannot look up user `{name}`: {reason}"))?;
    if by_login.contains_key(name) {
        return Ok(name.to_owned());
    }
    by_email
        .get(&name.to_lowercase())
        .cloned()
        .ok_or_else(|| format!("Grafana has no user `{name}` in this org (looked up by login and by email)"))
}

fn resolve_team(directory: &Directory, name: &str) -> Result<i64, String> {
    let teams = directory.teams.as_ref().map_err(|reason| format!("cannot look up team `{name}`: {reason}"))?;
    teams.get(name).copied().ok_or_else(|| {
        let mut names: Vec<&str> = teams.keys().map(String::as_str).collect();
        names.sort_unstable();
        format!(
            "Grafana has no team named `{name}` in this org (it has: {})",
            if names.is_empty() { "none visible to these credentials".to_owned() } else { names.join(", ") }
        )
    })
}

fn validate_fields(fields: &Fields) -> Result<(), Vec<FieldError>> {
    const KEYS: [&str; 2] = ["folder", "permissions"];
    const ENTRY_KEYS: [&str; 4] = ["role", "user", "team", "permission"];
    let mut errors = Vec::new();
    for key in fields.keys().filter(|key| !KEYS.contains(&key.as_str())) {
        errors.push(FieldError::at(
            format!("/{key}"),
            format!("unknown field `{key}`, expected one of {}", KEYS.join(", ")),
        ));
    }
    match fields.get("folder") {
        Some(Value::String(local_id)) if !local_id.is_empty() => {}
        Some(Value::Object(table))
            if table.len() == 1 && table.get("uid").and_then(Value::as_str).is_some_and(crate::folder::valid_uid) => {}
        _ => errors.push(FieldError::at(
            "/folder",
            "`folder` must be the id of a folder defined here, or { uid = \"…\" } of one that is not",
        )),
    }
    let Some(list) = fields.get("permissions").and_then(Value::as_array) else {
        errors.push(FieldError::at(
            "/permissions",
            "`permissions` must be a list of { role | user | team = \"…\", permission = \"View\" | \"Edit\" | \"Admin\" } ([] leaves only org admins)",
        ));
        return Err(errors);
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, entry) in list.iter().enumerate() {
        let at = |field: &str| format!("/permissions/{index}{field}");
        let Some(entry) = entry.as_object() else {
            errors.push(FieldError::at(at(""), "a permission entry must be a table"));
            continue;
        };
        for key in entry.keys().filter(|key| !ENTRY_KEYS.contains(&key.as_str())) {
            errors.push(FieldError::at(
                at(&format!("/{key}")),
                format!("unknown field `{key}`, expected one of {}", ENTRY_KEYS.join(", ")),
            ));
        }
        let named: Vec<&str> = ["role", "user", "team"].into_iter().filter(|key| entry.contains_key(*key)).collect();
        match named.as_slice() {
            [key] => {
                let value = entry.get(*key).and_then(Value::as_str).map(str::trim).unwrap_or_default();
                if value.is_empty() {
                    errors.push(FieldError::at(at(&format!("/{key}")), format!("`{key}` must be a non-empty string")));
                } else if *key == "role" && !ROLES.contains(&value) {
                    let hint = if value.eq_ignore_ascii_case("admin") {
                        "org Admins may always administer every folder; "
                    } else {
                        ""
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
                    if let Some(first) = seen.insert(who, index) {
                        errors.push(FieldError::at(
                            at(&format!("/{key}")),
                            format!("{key} `{value}` is already given a permission by entry {first}; Grafana allows one entry each"),
                        ));
                    }
                }
            }
            [] => errors.push(FieldError::at(at(""), "a permission entry needs one of `role`, `user` or `team`")),
            _ => errors.push(FieldError::at(
                at(&format!("/{}", named[1])),
                format!(
                    "a permission entry names exactly one of `role`, `user` or `team`, not {}",
                    named.join(" and ")
                ),
            )),
        }
        match entry.get("permission") {
            Some(Value::String(name)) if permission_value(name).is_some() => {}
            Some(other) => errors.push(FieldError::at(
                at("/permission"),
                format!("`permission` must be \"View\", \"Edit\" or \"Admin\", not {other}"),
            )),
            None => errors
                .push(FieldError::at(at("/permission"), "`permission` is missing (\"View\", \"Edit\" or \"Admin\")")),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for FolderPermissionHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        validate_fields(fields)
    }

    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        folder_references(fields)
    }

    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String> {
        match folder_of(&desired.fields)? {
            FolderRef::Uid(uid) => Some(uid),
            FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", &local_id))? {
                Resolved::Known(folder) => Some(folder.remote_id.clone()),
                Resolved::Pending => None,
            },
        }
    }

    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError> {
        let folder_uid = match folder_of(&desired.fields) {
            Some(FolderRef::Uid(uid)) => uid,
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
                Some(Resolved::Known(folder)) => folder.remote_id.clone(),
                _ => KNOWN_AFTER_APPLY.to_owned(),
            },
            None => return Err(FieldError::at("/folder", "`folder` is missing")),
        };
        let directory = self.cached();
        if let (Some(FolderRef::Uid(uid)), Some(Some(folders))) =
            (folder_of(&desired.fields), directory.as_ref().map(|directory| directory.folders.as_ref()))
            && !folders.contains(&uid)
        {
            return Err(FieldError::at("/folder", format!("there is no folder with uid `{uid}` in Grafana")));
        }
        if let Some(directory) = &directory
            && directory.unreadable.contains(&folder_uid)
        {
            return Err(FieldError::at(
                "/folder",
                format!(
                    "these credentials may not read the permissions of folder {folder_uid}; managing them needs an org Admin or the folder's Admin permission"
                ),
            ));
        }
        let mut wanted = Vec::new();
        for (index, entry) in
            desired.fields.get("permissions").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::trim);
            let permission = text("permission").unwrap_or_default().to_owned();
            let grantee = if let Some(role) = text("role") {
                Grantee::Role(role.to_owned())
            } else if let Some(user) = text("user") {
                let directory = directory
                    .as_ref()
                    .ok_or_else(|| FieldError::at(format!("/permissions/{index}/user"), "users were not read"))?;
                Grantee::User(
                    resolve_user(directory, user)
                        .map_err(|message| FieldError::at(format!("/permissions/{index}/user"), message))?,
                )
            } else if let Some(team) = text("team") {
                let directory = directory
                    .as_ref()
                    .ok_or_else(|| FieldError::at(format!("/permissions/{index}/team"), "teams were not read"))?;
                resolve_team(directory, team)
                    .map_err(|message| FieldError::at(format!("/permissions/{index}/team"), message))?;
                Grantee::Team(team.to_owned())
            } else {
                continue;
            };
            wanted.push((grantee, permission));
        }
        wanted.sort();
        Ok(comparable_list(json!(folder_uid), &wanted))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        comparable_list(json!(remote.remote_id), &observed_entries(remote))
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let title = remote.fields.get("folder_title").and_then(Value::as_str).unwrap_or_default();
        let count = remote.fields.get("items").and_then(Value::as_array).map_or(0, Vec::len);
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
    fn import(&self, remote: &RemoteObject, refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let entries = observed_entries(remote);
        let mut defaults: Vec<(Grantee, String)> = DEFAULT_ACL
            .iter()
            .map(|(role, permission)| (Grantee::Role((*role).to_owned()), (*permission).to_owned()))
            .collect();
        defaults.sort();
        if entries == defaults {
            return None;
        }
        let folder_title = remote.fields.get("folder_title").and_then(Value::as_str).unwrap_or_default();
        let (folder, file, local_id) = match refs.local_id("folder", &remote.remote_id) {
            Some(local_id) => (json!(local_id), local_id.to_owned(), local_id.to_owned()),
            None => (json!({ "uid": remote.remote_id }), crate::slug(folder_title), crate::slug(folder_title)),
        };
        let mut permissions = Vec::new();
        for (grantee, permission) in entries {
            let (key, name) = match grantee {
                Grantee::Role(role) => ("role", role),
                Grantee::User(login) => ("user", login),
                Grantee::Team(name) => ("team", name),
            };
            // A row whose user or team Grafana could not name cannot be written back.
            if name.starts_with('#') || permission.starts_with('(') {
                return None;
            }
            let mut item = Map::new();
            item.insert(key.to_owned(), json!(name));
            item.insert("permission".to_owned(), json!(permission));
            permissions.push(Value::Object(item));
        }
        let mut fields = Fields::new();
        fields.insert("folder".to_owned(), folder);
        fields.insert("permissions".to_owned(), Value::Array(permissions));
        Some(mac_core::ImportedFields {
            local_id: format!("{local_id}-permissions"),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let (folders, users, teams) = tokio::join!(self.folders(), self.load_users(), self.load_teams());
        let folders = folders?;
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
                    unreadable.insert(folder.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned());
                }
            }
        }
        objects.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        let mut folders: BTreeSet<String> = objects.iter().map(|object| object.remote_id.clone()).collect();
        folders.extend(unreadable.iter().cloned());
        self.remember(Directory { users, teams, unreadable, folders: Some(folders) });
        Ok(objects)
    }

    /// One GET: the ACL of a folder that does not exist is a 404 (GetFolderPermissionList,
    /// pkg/api/folder_permission.go), and every row carries the folder's title.
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "folders", remote_id, "permissions"], &[]).await {
            Ok(answer) => {
                let title = answer.body.pointer("/0/title").cloned().unwrap_or_default();
                Ok(Some(acl_object(&json!({ "uid": remote_id, "title": title }), &answer.body)))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One ACL GET per folder is all 8.5 offers: a saved plan re-reads only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the folder's uid, which is also the remote id.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        self.write(desired, refs).await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let written = self.write(desired, refs).await?;
        // Pointed at another folder: the folder it leaves gets Grafana's defaults back, as
        // after a delete.
        if written.remote_id != current.remote_id {
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

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().unwrap_or_default()
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
            ],
        }));
        let errors = validate_fields(&bad).expect_err("invalid");
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
            ]
        );
        let good =
            fields(json!({ "folder": { "uid": "x" }, "permissions": [{ "role": "Viewer", "permission": "View" }] }));
        assert!(validate_fields(&good).is_ok());
    }

    #[test]
    fn observed_rows_compare_in_any_order() {
        let remote = acl_object(
            &json!({ "uid": "f", "title": "F" }),
            &json!([
                { "role": "Editor", "userId": 0, "teamId": 0, "permission": 2 },
                { "userId": 7, "userLogin": "alice", "teamId": 0, "permission": 4 },
                { "userId": 0, "teamId": 3, "team": "SRE", "permission": 1 },
            ]),
        );
        let entries = observed_entries(&remote);
        assert_eq!(
            entries,
            [
                (Grantee::Role("Editor".into()), "Edit".to_owned()),
                (Grantee::User("alice".into()), "Admin".to_owned()),
                (Grantee::Team("SRE".into()), "View".to_owned()),
            ]
        );
    }
}
