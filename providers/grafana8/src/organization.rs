//! `organization`: a Grafana organisation and its role lists, as Terraform's Grafana provider
//! models `grafana_organization` (name, `admin_user`, `admins`, `editors`, `viewers`), over
//! `/api/orgs*` (pkg/api/org.go, org_users.go at v8.5.4).
//!
//! Organisations are server-wide: only a server admin lists, creates or deletes them. Users
//! are named by login or email and looked up once per plan in the server's user list (this
//! kind's context). A plan reads `⌈orgs/1000⌉ + orgs + ⌈users/1000⌉` requests: Grafana 8.5 has
//! no bulk read of org memberships, so each org's users are one GET.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, KeyReference, Kind, LinkedObject, ObjectId,
    Remote, RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::Client;
use crate::folder_permission::{Users, resolve_login};

/// Orgs and users listed per request (the searches' default page size).
const PAGE_SIZE: usize = 1000;
/// The role lists of a definition, by field, with the role each grants.
const LISTS: [(&str, &str); 3] = [("admins", "Admin"), ("editors", "Editor"), ("viewers", "Viewer")];

/// An `organization` definition: a Grafana organisation and who has which role in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// The organisation's name, unique on the server; one of that name made by hand is offered to adopt.
    pub name: String,
    /// The login of the server's admin user, kept in the org whatever the lists say (default `admin`).
    ///
    /// Grafana makes the user who creates an org its Admin; as in Terraform's
    /// `grafana_organization`, this user is never removed nor compared.
    #[serde(default = "default_admin_user")]
    pub admin_user: String,
    /// The org's Admins, by login or email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    /// The org's Editors, by login or email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub editors: Vec<String>,
    /// The org's Viewers, by login or email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub viewers: Vec<String>,
}

fn default_admin_user() -> String {
    "admin".to_owned()
}

impl Organization {
    fn lists(&self) -> [(&'static str, &'static str, &Vec<String>); 3] {
        [
            (LISTS[0].0, LISTS[0].1, &self.admins),
            (LISTS[1].0, LISTS[1].1, &self.editors),
            (LISTS[2].0, LISTS[2].1, &self.viewers),
        ]
    }
}

/// An org as the remote object records it: its name and members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredOrg {
    name: String,
    /// Members sorted by login.
    #[serde(default)]
    members: Vec<StoredMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredMember {
    login: String,
    #[serde(default)]
    email: String,
    user_id: i64,
    role: String,
}

/// An org in the comparable form: members as keyed items (login and role), `admin_user` left
/// out.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableOrg {
    name: String,
    members: Vec<ComparableMember>,
    /// The member never compared (see [`Organization::admin_user`]).
    #[serde(skip)]
    admin_user: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct ComparableMember {
    login: String,
    role: String,
}

/// The server's users, for resolving names: login → user id, email (lower-cased) → login.
/// `Err` says why they could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerUsers {
    users: Result<Users, String>,
    /// The org the instance manages (`GET /api/org`), which an import leaves out.
    #[serde(default)]
    own_org: Option<i64>,
}

impl Default for ServerUsers {
    fn default() -> Self {
        ServerUsers { users: Err("the server's users were not read with the plan".to_owned()), own_org: None }
    }
}

/// A page of `GET /api/orgs` is a plain list of `models.OrgDTO`.
#[derive(Debug, Clone, Deserialize)]
struct OrgHit {
    id: i64,
    name: String,
}

/// A row of `GET /api/orgs/:id/users` (`models.OrgUserDTO`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUserRow {
    user_id: i64,
    #[serde(default)]
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// A page of `GET /api/users/search`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserPage {
    #[serde(default)]
    users: Vec<UserHit>,
    #[serde(default)]
    total_count: u64,
}

#[derive(Debug, Deserialize)]
struct UserHit {
    id: i64,
    #[serde(default)]
    login: String,
    #[serde(default)]
    email: String,
}

/// `POST /api/orgs`'s answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    org_id: i64,
}

/// A search hit in an org being deleted: a dashboard or folder it holds.
#[derive(Debug, Deserialize)]
struct HeldHit {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    title: String,
    #[serde(default, rename = "type")]
    type_: String,
}

/// A data source an org being deleted holds.
#[derive(Debug, Deserialize)]
struct HeldDatasource {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug)]
pub(crate) struct OrganizationKind {
    client: Arc<Client>,
}

impl OrganizationKind {
    pub(crate) fn new(client: Arc<Client>) -> OrganizationKind {
        OrganizationKind { client }
    }

    /// A 403 on the org routes is the credential not being a server admin.
    fn forbidden(err: HandlerError) -> HandlerError {
        crate::checks::needs_server_admin("organizations", err)
    }

    /// `GET /api/orgs`, paged. Its pages count from 0: the offset is `perpage * page`
    /// (pkg/services/sqlstore/org.go `SearchOrgs`), so `page=1` would skip the first.
    async fn search(&self, name: Option<&str>) -> Result<Vec<OrgHit>, HandlerError> {
        let mut orgs = Vec::new();
        for page in 0.. {
            let mut query = vec![("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            if let Some(name) = name {
                query.push(("name", name.to_owned()));
            }
            let found: Vec<OrgHit> = self
                .client
                .get(&["api", "orgs"], &query)
                .await
                .map_err(OrganizationKind::forbidden)?
                .parse("GET /api/orgs")?;
            let received = found.len();
            orgs.extend(found);
            if received < PAGE_SIZE {
                break;
            }
        }
        Ok(orgs)
    }

    async fn read_org(&self, org: OrgHit) -> Result<RemoteObject, HandlerError> {
        let rows: Vec<OrgUserRow> = self
            .client
            .get(&["api", "orgs", &org.id.to_string(), "users"], &[])
            .await
            .map_err(OrganizationKind::forbidden)?
            .parse("GET /api/orgs/:id/users")?;
        let mut members: Vec<StoredMember> = rows
            .into_iter()
            .map(|row| StoredMember { login: row.login, email: row.email, user_id: row.user_id, role: row.role })
            .collect();
        members.sort_by(|a, b| a.login.cmp(&b.login));
        Ok(org_object(org.id, StoredOrg { name: org.name, members }))
    }

    async fn read_orgs(&self, orgs: Vec<OrgHit>) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut objects = Vec::with_capacity(orgs.len());
        for chunk in orgs.chunks(8) {
            for read in futures::future::join_all(chunk.iter().cloned().map(|org| self.read_org(org))).await {
                objects.push(read?);
            }
        }
        Ok(objects)
    }

    /// `GET /api/users/search`, paged (server admins).
    async fn load_users(&self) -> Result<Users, String> {
        let mut index = Users::default();
        let mut seen = 0;
        for page in 1.. {
            let query = [("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let found: UserPage = self
                .client
                .get(&["api", "users", "search"], &query)
                .await
                .map_err(|err| OrganizationKind::forbidden(err).message)?
                .parse("GET /api/users/search")
                .map_err(|err| err.message)?;
            let received = found.users.len();
            seen += received;
            for user in found.users {
                index.insert(user.login, user.id, Some(&user.email));
            }
            if received < PAGE_SIZE || seen as u64 >= found.total_count {
                break;
            }
        }
        Ok(index)
    }

    /// A user's id by login: from the plan's directory, or — for a user the same apply
    /// created — looked up now (`GET /api/users/lookup`).
    async fn user_id(&self, users: &ServerUsers, login: &str, at: &str) -> Result<i64, HandlerError> {
        if let Some(id) = users.users.as_ref().ok().and_then(|index| index.id(login)) {
            return Ok(id);
        }
        #[derive(Deserialize)]
        struct Found {
            id: i64,
        }
        match self.client.get(&["api", "users", "lookup"], &[("loginOrEmail", login.to_owned())]).await {
            Ok(answer) => Ok(answer.parse::<Found>("GET /api/users/lookup")?.id),
            Err(err) if err.kind == HandlerErrorKind::NotFound => {
                Err(HandlerError::new(HandlerErrorKind::Invalid, format!("Grafana has no user `{login}`")).at(at))
            }
            Err(err) => Err(OrganizationKind::forbidden(err)),
        }
    }

    /// What an org being deleted holds: its dashboards and folders (`GET /api/search`) and
    /// data sources, read in that org (`?targetOrgId=`, which the credential's user may use
    /// as a member of it).
    async fn held(&self, org_id: &str) -> Vec<LinkedObject> {
        let target = [("targetOrgId", org_id.to_owned())];
        let search_query = [("targetOrgId", org_id.to_owned()), ("limit", "100".to_owned())];
        let (search, datasources) = tokio::join!(
            self.client.get(&["api", "search"], &search_query),
            self.client.get(&["api", "datasources"], &target)
        );
        let (Ok(search), Ok(datasources)) = (search, datasources) else {
            return vec![LinkedObject {
                kind: "content".to_owned(),
                remote_id: org_id.to_owned(),
                title: Some("that these credentials may not read (not a member of the org)".to_owned()),
                uid: None,
                managed_as: None,
            }];
        };
        let hits: Vec<HeldHit> = search.parse("GET /api/search").unwrap_or_default();
        let datasources: Vec<HeldDatasource> = datasources.parse("GET /api/datasources").unwrap_or_default();
        let mut held: Vec<LinkedObject> = hits
            .into_iter()
            .map(|hit| LinkedObject {
                kind: if hit.type_ == "dash-folder" { "folder" } else { "dashboard" }.to_owned(),
                remote_id: hit.uid.clone(),
                title: Some(hit.title),
                uid: Some(hit.uid),
                managed_as: None,
            })
            .collect();
        held.extend(datasources.into_iter().map(|source| LinkedObject {
            kind: "datasource".to_owned(),
            remote_id: source.uid.clone(),
            title: Some(source.name),
            uid: Some(source.uid),
            managed_as: None,
        }));
        held
    }
}

fn org_object(id: i64, stored: StoredOrg) -> RemoteObject {
    RemoteObject {
        remote_id: id.to_string(),
        adoption_key: Some(stored.name.clone()),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

/// A user named by login or email → its login.
fn resolve_user(users: &ServerUsers, name: &str) -> Result<String, String> {
    resolve_login(&users.users, name, "")
}

#[async_trait]
impl Kind for OrganizationKind {
    type Desired = Organization;
    type Remote = StoredOrg;
    type Comparable = ComparableOrg;
    type Context = ServerUsers;

    fn validate(&self, desired: &Organization) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        crate::checks::non_empty(&[("name", &desired.name), ("admin_user", &desired.admin_user)], &mut errors);
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (field, _, names) in desired.lists() {
            for (index, name) in names.iter().enumerate() {
                let at = format!("/{field}/{index}");
                let name = name.trim();
                if name.is_empty() {
                    errors.push(FieldError::at(at, "a user is a non-empty login or email"));
                } else if name == KNOWN_AFTER_APPLY {
                    // A `grafana8.user` of this project: the loader made each a distinct reference.
                } else if let Some(first) = seen.insert(name.to_lowercase(), format!("{field}[{index}]")) {
                    errors.push(FieldError::at(
                        at,
                        format!("`{name}` is already listed at {first}: a user has one role"),
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// A user named by the login of a `grafana8.user` defined here is created first.
    fn key_references(&self, desired: &Organization) -> Vec<KeyReference> {
        desired
            .lists()
            .into_iter()
            .flat_map(|(field, _, names)| {
                names.iter().enumerate().map(move |(index, login)| KeyReference {
                    pointer: format!("/{field}/{index}"),
                    kind: "user".to_owned(),
                    key_field: "login".to_owned(),
                    key: login.trim().to_owned(),
                    value_field: Some("login".to_owned()),
                })
            })
            .collect()
    }

    /// Orgs made by hand are recognised by their name, unique on the server.
    fn adoption_key(&self, _id: &ObjectId, desired: &Organization, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        id: &ObjectId,
        desired: &Organization,
        refs: &dyn Resolver,
        users: &ServerUsers,
    ) -> Result<ComparableOrg, FieldError> {
        // Renamed while an instance of this project names it (`org = "…"`): that instance
        // would lose its org at the next run. Its own remote object is what it is now.
        if let Some(mac_core::Resolved::Known(current)) =
            refs.resolve(&mac_core::LocalRef::new("organization", &id.local_id))
            && let Some(serde_json::Value::String(current_name)) = current.fields.to_map().remove("name")
            && current_name != desired.name
        {
            let naming = crate::named_orgs::instances_naming(self.client.base_url(), &current_name);
            if !naming.is_empty() {
                return Err(FieldError::at(
                    "/name",
                    format!(
                        "the organisation `{current_name}` is the org of provider instance{} {} (`org = {current_name:?}`), \
                         which would not find it under a new name: first set `org_id = {}` on {} in mac.toml, \
                         apply this rename, then name it `org = {:?}` again if you wish",
                        if naming.len() == 1 { "" } else { "s" },
                        naming.iter().map(|instance| format!("`{instance}`")).collect::<Vec<_>>().join(", "),
                        current.remote_id,
                        if naming.len() == 1 { "it" } else { "them" },
                        desired.name
                    ),
                ));
            }
        }
        let mut members = Vec::new();
        for (field, role, names) in desired.lists() {
            for (index, name) in names.iter().enumerate() {
                let name = name.trim();
                let login = if name == KNOWN_AFTER_APPLY {
                    name.to_owned()
                } else {
                    resolve_user(users, name).map_err(|message| FieldError::at(format!("/{field}/{index}"), message))?
                };
                if login != desired.admin_user {
                    members.push(ComparableMember { login, role: role.to_owned() });
                }
            }
        }
        members.sort();
        Ok(ComparableOrg { name: desired.name.clone(), members, admin_user: desired.admin_user.clone() })
    }

    fn observed(&self, remote: &Remote<'_, StoredOrg>) -> ComparableOrg {
        let org = &remote.fields;
        ComparableOrg {
            name: org.name.clone(),
            members: org
                .members
                .iter()
                .map(|member| ComparableMember { login: member.login.clone(), role: member.role.clone() })
                .collect(),
            admin_user: String::new(),
        }
    }

    /// `admin_user` is never compared: left out on both sides.
    fn observed_for(&self, remote: &Remote<'_, StoredOrg>, desired: &ComparableOrg) -> ComparableOrg {
        let mut observed = self.observed(remote);
        observed.members.retain(|member| member.login != desired.admin_user);
        observed
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/members").then_some("login")
    }

    fn describe(&self, remote: &Remote<'_, StoredOrg>) -> String {
        let count = remote.fields.members.len();
        format!(
            "organization {:?} with everything in it (dashboards, folders, data sources, alerting), {count} member{}",
            remote.fields.name,
            if count == 1 { "" } else { "s" }
        )
    }

    /// Every org but the one the instance manages: a provider instance's own org is not
    /// mac's to recreate.
    fn import(
        &self,
        remote: &Remote<'_, StoredOrg>,
        _refs: &dyn ImportRefs,
        users: &ServerUsers,
    ) -> Option<ImportedFields> {
        if users.own_org.is_some_and(|own| own.to_string() == remote.remote_id()) {
            return None;
        }
        let org = &remote.fields;
        let mut definition = Organization {
            name: org.name.clone(),
            admin_user: default_admin_user(),
            admins: Vec::new(),
            editors: Vec::new(),
            viewers: Vec::new(),
        };
        for member in &org.members {
            if member.login == definition.admin_user {
                continue;
            }
            match member.role.as_str() {
                "Admin" => definition.admins.push(member.login.clone()),
                "Editor" => definition.editors.push(member.login.clone()),
                _ => definition.viewers.push(member.login.clone()),
            }
        }
        let mut fields = serde_json::to_value(definition).ok()?.as_object()?.clone();
        // The default is left out, as a person would write it.
        fields.remove("admin_user");
        Some(ImportedFields {
            local_id: crate::slug(&org.name),
            fields,
            file: "organizations".to_owned(),
            scope: None,
            part_ids: BTreeMap::new(),
        })
    }

    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        let mut held = BTreeMap::new();
        for org_id in remote_ids {
            let found = self.held(org_id).await;
            if !found.is_empty() {
                held.insert(org_id.clone(), found);
            }
        }
        Ok(held)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let orgs = self.search(None).await?;
        self.read_orgs(orgs).await
    }

    async fn read_context(&self) -> Result<ServerUsers, HandlerError> {
        #[derive(Deserialize)]
        struct CurrentOrg {
            id: i64,
        }
        let (users, own_org) = tokio::join!(self.load_users(), self.client.get(&["api", "org"], &[]));
        let own_org = own_org.ok().and_then(|answer| answer.parse::<CurrentOrg>("GET /api/org").ok()).map(|org| org.id);
        Ok(ServerUsers { users, own_org })
    }

    /// `GET /api/orgs/:id` (server admins; an unknown id is 404).
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "orgs", remote_id], &[]).await {
            Ok(answer) => {
                let org: OrgHit = answer.parse("GET /api/orgs/:id")?;
                Ok(Some(self.read_org(org).await?))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(OrganizationKind::forbidden(err)),
        }
    }

    /// Members are read org by org: a saved plan re-reads only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the name: `GET /api/orgs/name/:name`.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "orgs", "name", key], &[]).await {
            Ok(answer) => {
                let org: OrgHit = answer.parse("GET /api/orgs/name/:name")?;
                Ok(Some(self.read_org(org).await?))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(OrganizationKind::forbidden(err)),
        }
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &Organization,
        _refs: &dyn Resolver,
        users: &ServerUsers,
    ) -> Result<RemoteObject, HandlerError> {
        let (org_id, had) = match current {
            None => {
                let url = self.client.url(&["api", "orgs"], &[]);
                let created: Created = match self
                    .client
                    .send(Method::POST, url, Some(&json!({ "name": desired.name })))
                    .await
                {
                    Ok(answer) => answer.parse("POST /api/orgs")?,
                    // A create retried after a lost answer finds its own org by name.
                    Err(err) if err.kind == HandlerErrorKind::Conflict => {
                        match self.search(Some(&desired.name)).await?.into_iter().find(|org| org.name == desired.name) {
                            Some(org) => Created { org_id: org.id },
                            None => return Err(err.at("/name")),
                        }
                    }
                    Err(err) => return Err(OrganizationKind::forbidden(err).at("/name")),
                };
                // The creator is now its Admin (pkg/services/sqlstore/org.go `CreateOrgWithMember`).
                let stored = self.read_org(OrgHit { id: created.org_id, name: desired.name.clone() }).await?;
                let had: StoredOrg =
                    stored.fields.parse().map_err(|err| HandlerError::new(HandlerErrorKind::Other, err.to_string()))?;
                (created.org_id, had)
            }
            Some(current) => {
                let had: StoredOrg = current.fields.parse().map_err(|err| {
                    HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("the recorded organization is unreadable: {err}"),
                    )
                })?;
                let org_id: i64 = current.remote_id.parse().map_err(|_| {
                    HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("org id `{}` is not a number", current.remote_id),
                    )
                })?;
                if had.name != desired.name {
                    let url = self.client.url(&["api", "orgs", &current.remote_id], &[]);
                    self.client
                        .send(Method::PUT, url, Some(&json!({ "name": desired.name })))
                        .await
                        .map_err(|err| OrganizationKind::forbidden(err).at("/name"))?;
                }
                (org_id, had)
            }
        };
        let id = org_id.to_string();
        let current_roles: BTreeMap<&str, (&str, i64)> =
            had.members.iter().map(|member| (member.login.as_str(), (member.role.as_str(), member.user_id))).collect();
        let mut wanted = BTreeSet::new();
        for (field, role, names) in desired.lists() {
            for (index, name) in names.iter().enumerate() {
                let at = format!("/{field}/{index}");
                let name = name.trim();
                let login = resolve_user(users, name).unwrap_or_else(|_| name.to_owned());
                wanted.insert(login.clone());
                match current_roles.get(login.as_str()) {
                    Some((have, _)) if *have == role => {}
                    Some((_, user_id)) => {
                        let url = self.client.url(&["api", "orgs", &id, "users", &user_id.to_string()], &[]);
                        self.client
                            .send(Method::PATCH, url, Some(&json!({ "role": role })))
                            .await
                            .map_err(|err| OrganizationKind::forbidden(err).at(at.clone()))?;
                    }
                    None => {
                        // Resolved first, so that an unknown user is an error at its entry.
                        self.user_id(users, &login, &at).await?;
                        let url = self.client.url(&["api", "orgs", &id, "users"], &[]);
                        self.client
                            .send(Method::POST, url, Some(&json!({ "loginOrEmail": login, "role": role })))
                            .await
                            .map_err(|err| OrganizationKind::forbidden(err).at(at.clone()))?;
                    }
                }
            }
        }
        for member in &had.members {
            if member.login != desired.admin_user && !wanted.contains(&member.login) {
                let url = self.client.url(&["api", "orgs", &id, "users", &member.user_id.to_string()], &[]);
                match self.client.send(Method::DELETE, url, None).await {
                    Ok(_) => {}
                    Err(err) if err.kind == HandlerErrorKind::NotFound => {}
                    Err(err) => return Err(OrganizationKind::forbidden(err)),
                }
            }
        }
        self.read_org(OrgHit { id: org_id, name: desired.name.clone() }).await
    }

    /// `DELETE /api/orgs/:id`. Grafana refuses the org the credential acts in (pkg/api/org.go
    /// `DeleteOrgByID`); the plan has already blocked an org that holds anything.
    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "orgs", &current.remote_id], &[]);
        match self.client.send(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(OrganizationKind::forbidden(err)),
        }
    }
}
