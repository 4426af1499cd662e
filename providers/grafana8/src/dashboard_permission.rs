//! `dashboard_permission`: the whole permission list (ACL) of one dashboard, as
//! `folder_permission` is of a folder, whose entries, checks, name look-ups and comparison
//! it shares (`crate::folder_permission`).
//!
//! Grafana 8.5 addresses a dashboard's ACL by the dashboard's numeric id only
//! (`/api/dashboards/id/:dashboardId/permissions`, pkg/api/api.go), so the definition names
//! the dashboard by uid — `{ ref = "dashboard.ID" }` for one defined here — and the id is
//! looked up: from the search pages when listing, with one GET of the dashboard when writing.
//! The remote id is the dashboard's uid.
//!
//! A plan reads `⌈dashboards/1000⌉` search pages, then one ACL GET per dashboard (8.5 has no
//! bulk ACL endpoint; the GETs run 8 at a time), and the org's users and teams: `dashboards +
//! 3` requests for up to 1000 dashboards. Only the dashboard's own rows are compared: rows it
//! inherits from its folder are not its list. Deleting a `dashboard_permission` gives the
//! dashboard back its folder's permissions (an empty own list), or, in General, Grafana's
//! default list (role Editor may Edit, role Viewer may View).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, Remote, RemoteObject,
    Reread, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::folder_permission::{
    AclRow, ComparableEntry, DEFAULT_ACL, Directory, PermissionEntry, comparable_entries, entry_key_references,
    imported_entries, is_default_list, items_to_write_now, observed_rows, parse, permission_value, validate_entries,
    wanted_entries, with_directory,
};

/// Dashboards listed per search request (Grafana's default limit).
const PAGE_SIZE: usize = 1000;
/// ACL reads in flight at once while listing.
const CONCURRENCY: usize = 8;

/// A `dashboard_permission` definition: the whole permission list of one dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardPermission {
    /// The dashboard's uid: `{ ref = "dashboard.ID" }` for one defined here, or the uid of one that is not.
    pub dashboard: String,
    /// Every entry of the dashboard's own list; `[]` leaves it its folder's permissions only.
    pub permissions: Vec<PermissionEntry>,
}

/// A dashboard's own permission list as the remote object records it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredDashboardAcl {
    dashboard_uid: String,
    dashboard_id: i64,
    #[serde(default)]
    title: Option<String>,
    /// The folder's uid; `""` for General, where a dashboard without a list of its own has
    /// Grafana's default list.
    #[serde(default)]
    folder_uid: String,
    #[serde(default)]
    items: Vec<AclRow>,
}

/// A dashboard's list, compared: its uid and its entries, sorted.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableDashboardAcl {
    dashboard_uid: String,
    permissions: Vec<ComparableEntry>,
}

/// A hit of `GET /api/search?type=dash-db`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DashboardHit {
    id: Option<i64>,
    uid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    folder_uid: Option<String>,
}

/// The part of `GET /api/dashboards/uid/:uid` a write needs.
#[derive(Debug, Deserialize)]
struct DashboardAnswer {
    dashboard: DashboardIds,
    #[serde(default)]
    meta: DashboardMeta,
}

#[derive(Debug, Deserialize)]
struct DashboardIds {
    id: i64,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DashboardMeta {
    #[serde(default)]
    folder_uid: Option<String>,
}

/// The `dashboard_permission` kind.
#[derive(Debug)]
pub(crate) struct DashboardPermissionKind {
    client: Arc<Client>,
}

impl DashboardPermissionKind {
    pub(crate) fn new(client: Arc<Client>) -> DashboardPermissionKind {
        DashboardPermissionKind { client }
    }

    async fn dashboards(&self) -> Result<Vec<DashboardHit>, HandlerError> {
        let mut dashboards = Vec::new();
        for page in 1.. {
            let query = [("type", "dash-db".to_owned()), ("limit", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let answer = self.client.get(&["api", "search"], &query).await?;
            let hits: Vec<DashboardHit> = parse(&answer, "GET /api/search")?;
            let full_page = hits.len() >= PAGE_SIZE;
            dashboards.extend(hits.into_iter().filter(|hit| hit.uid.is_some() && hit.id.is_some()));
            if !full_page {
                break;
            }
        }
        Ok(dashboards)
    }

    /// Every dashboard's readable list, sorted by uid, and the uids of dashboards whose list
    /// these credentials may not read.
    async fn read_acls(&self) -> Result<(Vec<RemoteObject>, BTreeSet<String>), HandlerError> {
        let mut objects = Vec::new();
        let mut unreadable = BTreeSet::new();
        let mut pending = self.dashboards().await?.into_iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < CONCURRENCY
                && let Some(hit) = pending.next()
            {
                let client = self.client.clone();
                running.spawn(async move {
                    let acl = read_acl(&client, &hit).await;
                    (hit, acl)
                });
            }
            let Some(done) = running.join_next().await else { break };
            let (hit, acl) = done.map_err(|err| {
                HandlerError::new(HandlerErrorKind::Other, format!("reading a dashboard's permissions failed: {err}"))
            })?;
            match acl? {
                Some(object) => objects.push(object),
                None => {
                    unreadable.insert(hit.uid.unwrap_or_default());
                }
            }
        }
        objects.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        Ok((objects, unreadable))
    }

    /// The dashboard's id, title and folder uid from its uid; `None` when there is none.
    async fn dashboard(&self, uid: &str) -> Result<Option<DashboardHit>, HandlerError> {
        match self.client.get(&["api", "dashboards", "uid", uid], &[]).await {
            Ok(answer) => {
                let found: DashboardAnswer = parse(&answer, "GET /api/dashboards/uid/:uid")?;
                Ok(Some(DashboardHit {
                    id: Some(found.dashboard.id),
                    uid: Some(uid.to_owned()),
                    title: found.dashboard.title,
                    folder_uid: found.meta.folder_uid,
                }))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn post(&self, dashboard_id: i64, items: Vec<Value>) -> Result<(), HandlerError> {
        let id = dashboard_id.to_string();
        let url = self.client.url(&["api", "dashboards", "id", &id, "permissions"], &[]);
        self.client.send(Method::POST, url, Some(&json!({ "items": items }))).await.map(|_| ())
    }
}

/// Reads one dashboard's list: `Ok(None)` when these credentials may not (403).
async fn read_acl(client: &Client, hit: &DashboardHit) -> Result<Option<RemoteObject>, HandlerError> {
    let id = hit.id.unwrap_or_default().to_string();
    match client.get(&["api", "dashboards", "id", &id, "permissions"], &[]).await {
        Ok(answer) => {
            let rows: Vec<AclRow> = parse(&answer, "GET /api/dashboards/id/:id/permissions")?;
            Ok(Some(acl_object(hit, rows)))
        }
        Err(err) if err.kind == HandlerErrorKind::Unauthorized => Ok(None),
        Err(err) => Err(err),
    }
}

/// A remote list: id the dashboard's uid; the dashboard's own rows (inherited ones left out).
fn acl_object(hit: &DashboardHit, rows: Vec<AclRow>) -> RemoteObject {
    let uid = hit.uid.clone().unwrap_or_default();
    let stored = StoredDashboardAcl {
        dashboard_uid: uid.clone(),
        dashboard_id: hit.id.unwrap_or_default(),
        title: hit.title.clone().or_else(|| rows.first().and_then(|row| row.title.clone())),
        folder_uid: hit.folder_uid.clone().unwrap_or_default(),
        items: rows.into_iter().filter(|row| !row.inherited).collect(),
    };
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

/// What the dashboard has without a list of its own: its folder's (nothing own), or in
/// General Grafana's default list.
fn default_items(folder_uid: &str) -> Vec<Value> {
    if !folder_uid.is_empty() {
        return Vec::new();
    }
    DEFAULT_ACL
        .iter()
        .filter_map(|(role, permission)| Some(json!({ "role": role, "permission": permission_value(permission)? })))
        .collect()
}

#[async_trait]
impl Kind for DashboardPermissionKind {
    type Desired = DashboardPermission;
    type Remote = StoredDashboardAcl;
    type Comparable = ComparableDashboardAcl;
    /// `None`: not read (a plan that did not list this kind).
    type Context = Option<Directory>;

    fn validate(&self, desired: &DashboardPermission) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if desired.dashboard.trim().is_empty() {
            errors.push(FieldError::at(
                "/dashboard",
                "`dashboard` must be a dashboard's uid, or { ref = \"dashboard.ID\" } for one defined here",
            ));
        }
        validate_entries(&desired.permissions, "dashboard", &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn key_references(&self, desired: &DashboardPermission) -> Vec<mac_core::KeyReference> {
        entry_key_references(&desired.permissions)
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &DashboardPermission, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.dashboard.clone()).filter(|uid| !uid.contains(KNOWN_AFTER_APPLY))
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &DashboardPermission,
        _refs: &dyn Resolver,
        directory: &Option<Directory>,
    ) -> Result<ComparableDashboardAcl, FieldError> {
        let uid = desired.dashboard.clone();
        if let Some(directory) = directory
            && uid != KNOWN_AFTER_APPLY
        {
            if directory.unreadable.contains(&uid) {
                return Err(FieldError::at(
                    "/dashboard",
                    format!(
                        "these credentials may not read the permissions of dashboard {uid}; managing them needs an org Admin or the dashboard's Admin permission"
                    ),
                ));
            }
            if !directory.folders.contains(&uid) {
                return Err(FieldError::at("/dashboard", format!("there is no dashboard with uid `{uid}` in Grafana")));
            }
        }
        let wanted = wanted_entries(&desired.permissions, directory)?;
        Ok(ComparableDashboardAcl { dashboard_uid: uid, permissions: comparable_entries(&wanted) })
    }

    fn observed(&self, remote: &Remote<'_, StoredDashboardAcl>) -> ComparableDashboardAcl {
        ComparableDashboardAcl {
            dashboard_uid: remote.remote_id().to_owned(),
            permissions: comparable_entries(&observed_rows(&remote.fields.items)),
        }
    }

    fn describe(&self, remote: &Remote<'_, StoredDashboardAcl>) -> String {
        let title = remote.fields.title.as_deref().unwrap_or_default();
        let count = remote.fields.items.len();
        let after = if remote.fields.folder_uid.is_empty() {
            "Grafana's defaults are restored"
        } else {
            "the dashboard keeps its folder's permissions"
        };
        format!("the permissions of dashboard {title:?}, {count} entr{}; {after}", if count == 1 { "y" } else { "ies" })
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/permissions").then_some("who")
    }

    /// Imports only dashboards with a list of their own: not those that only inherit their
    /// folder's, nor those in General with Grafana's default list.
    fn import(
        &self,
        remote: &Remote<'_, StoredDashboardAcl>,
        refs: &dyn ImportRefs,
        _directory: &Option<Directory>,
    ) -> Option<ImportedFields> {
        let entries = observed_rows(&remote.fields.items);
        let in_general = remote.fields.folder_uid.is_empty();
        if (in_general && is_default_list(&entries)) || (!in_general && entries.is_empty()) {
            return None;
        }
        let title = remote.fields.title.as_deref().unwrap_or_default();
        let permissions = imported_entries(entries)?;
        let (dashboard, name) = match refs.local_id("dashboard", remote.remote_id()) {
            Some(local_id) => (json!({ "ref": format!("dashboard.{local_id}") }), local_id.to_owned()),
            None => (json!(remote.remote_id()), crate::slug(title)),
        };
        let mut fields = serde_json::to_value(DashboardPermission { dashboard: String::new(), permissions })
            .ok()?
            .as_object()?
            .clone();
        fields.insert("dashboard".to_owned(), dashboard);
        Some(ImportedFields {
            local_id: format!("{name}-permissions"),
            fields,
            file: name,
            scope: Some(title.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.read_acls().await?.0)
    }

    /// The lists, and the directory: users and teams read alongside them, the dashboards
    /// the list found unreadable, and every dashboard's uid.
    async fn list_with_context(&self) -> Result<(Vec<RemoteObject>, Option<Directory>), HandlerError> {
        with_directory(&self.client, self.read_acls()).await
    }

    /// Two GETs: the dashboard (for its id), then its list.
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        let Some(hit) = self.dashboard(remote_id).await? else { return Ok(None) };
        let id = hit.id.unwrap_or_default().to_string();
        match self.client.get(&["api", "dashboards", "id", &id, "permissions"], &[]).await {
            Ok(answer) => {
                let rows: Vec<AclRow> = parse(&answer, "GET /api/dashboards/id/:id/permissions")?;
                Ok(Some(acl_object(&hit, rows)))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One ACL GET per dashboard is all 8.5 offers: a saved plan re-reads only its own.
    fn reread(&self) -> Reread {
        Reread::EachObject
    }

    /// The natural key is the dashboard's uid, which is also the remote id.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &DashboardPermission,
        _refs: &dyn Resolver,
        directory: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let uid = desired.dashboard.as_str();
        let hit = self.dashboard(uid).await?.ok_or_else(|| {
            HandlerError::new(HandlerErrorKind::NotFound, format!("there is no dashboard with uid `{uid}` in Grafana"))
                .at("/dashboard")
        })?;
        let items = items_to_write_now(&self.client, &desired.permissions, directory).await?;
        self.post(hit.id.unwrap_or_default(), items).await.map_err(|err| err.at("/permissions"))?;
        // Pointed at another dashboard: the one it leaves gets its inherited list back.
        if let Some(current) = current
            && current.remote_id != uid
        {
            self.delete(current).await?;
        }
        self.read(uid).await?.ok_or_else(|| {
            HandlerError::new(HandlerErrorKind::NotFound, format!("dashboard {uid} disappeared while it was written"))
        })
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        // The folder may have changed since: ask Grafana where the dashboard is now.
        let Some(hit) = self.dashboard(&current.remote_id).await? else { return Ok(()) };
        let folder_uid = hit.folder_uid.clone().unwrap_or_default();
        match self.post(hit.id.unwrap_or_default(), default_items(&folder_uid)).await {
            Ok(()) => Ok(()),
            // The dashboard is gone, and its permissions with it.
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};

    fn kind() -> Typed<DashboardPermissionKind> {
        Typed(DashboardPermissionKind::new(Arc::new(crate::client::unreachable())))
    }

    #[test]
    fn validation_names_the_dashboard_and_each_bad_entry() {
        let bad = mac_core::JsonText::from_value(&json!({
            "dashboard": " ",
            "permissions": [{ "role": "Admin", "permission": "View" }],
        }));
        let errors = kind().validate(&bad).expect_err("invalid");
        let found: Vec<(&str, &str)> =
            errors.iter().map(|error| (error.pointer.as_str(), error.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (
                    "/dashboard",
                    "`dashboard` must be a dashboard's uid, or { ref = \"dashboard.ID\" } for one defined here"
                ),
                (
                    "/permissions/0/role",
                    "role `Admin` cannot be granted: org Admins may always administer every dashboard; `role` must be Viewer or Editor"
                ),
            ]
        );
    }

    #[test]
    fn a_dashboard_in_a_folder_falls_back_to_nothing_of_its_own() {
        assert!(default_items("ops").is_empty());
        assert_eq!(
            default_items(""),
            [json!({ "role": "Viewer", "permission": 1 }), json!({ "role": "Editor", "permission": 2 })]
        );
    }
}
