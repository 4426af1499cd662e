//! `user`: a Grafana user created by a server admin (`/api/admin/users`, pkg/api/admin_users.go
//! at v8.5.4) — login, email, name — and its role in the instance's org.
//!
//! Users are server-wide: listing them (`GET /api/users/search`) and creating, updating or
//! deleting one need a server admin, which in Grafana 8.5 only a user is (basic auth; API keys
//! and service accounts never are). A plan reads `⌈users/1000⌉ + 1` requests: the user search,
//! and the org's user list for each user's role. The password comes only from a secret
//! reference; it is set on create and never read back or compared (Grafana keeps only a hash).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, LinkedObject, ObjectId, Remote,
    RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checks::SecretField;
use crate::client::Client;

/// Users listed per request (the user search's default page size).
const PAGE_SIZE: usize = 1000;
/// The roles a user may have in an org (pkg/models/org_user.go `RoleType`).
pub(crate) const ORG_ROLES: [&str; 3] = ["Viewer", "Editor", "Admin"];
/// What a plan shows as the role of a user who is not a member of the instance's org.
const NOT_A_MEMBER: &str = "(not a member of this org)";

/// A `user` definition: a Grafana user, and its role in the instance's org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["password"]))]
pub struct User {
    /// The login, unique on the server; a user with that login made by hand is offered to adopt.
    pub login: String,
    /// The email address, unique on the server.
    pub email: String,
    /// The name shown in Grafana (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The role in the instance's org: `Viewer` (the default), `Editor` or `Admin`.
    #[serde(default = "viewer")]
    #[schemars(extend("enum" = ORG_ROLES))]
    pub role: String,
    /// The initial password, from `{ env = "…" }` or `{ file = "…" }`.
    ///
    /// Set when the user is created, and never read back or compared afterwards: a user who
    /// changed it keeps theirs. Required; its variable is read only when mac creates the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretField>,
}

fn viewer() -> String {
    "Viewer".to_owned()
}

/// A user as the remote object records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredUser {
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    /// The role in the instance's org; `None`: not a member of it.
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    is_grafana_admin: bool,
}

/// A user in the comparable form (no password: it is never compared).
#[derive(Debug, Serialize)]
pub(crate) struct ComparableUser {
    login: String,
    email: String,
    name: String,
    role: String,
}

/// A page of `GET /api/users/search` (`models.SearchUserQueryResult`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserPage {
    #[serde(default)]
    users: Vec<UserHit>,
    #[serde(default)]
    total_count: u64,
}

/// `models.UserSearchHitDTO`, and the fields of `GET /api/users/:id` it shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserHit {
    id: i64,
    #[serde(default)]
    login: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default, alias = "isGrafanaAdmin")]
    is_admin: bool,
}

/// A user of the org (`GET /api/org/users`): its role.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgMember {
    user_id: i64,
    #[serde(default)]
    role: String,
}

/// `GET /api/org`: the org the credential acts in.
#[derive(Debug, Deserialize)]
struct CurrentOrg {
    id: i64,
}

/// `POST /api/admin/users`'s answer.
#[derive(Debug, Deserialize)]
struct Created {
    id: i64,
}

#[derive(Debug)]
pub(crate) struct UserKind {
    client: Arc<Client>,
}

impl UserKind {
    pub(crate) fn new(client: Arc<Client>) -> UserKind {
        UserKind { client }
    }

    /// A 403 on a server-admin route is the credential not being a server admin.
    fn forbidden(err: HandlerError) -> HandlerError {
        crate::checks::needs_server_admin("users", err)
    }

    async fn search(&self, query: Option<&str>) -> Result<Vec<UserHit>, HandlerError> {
        let mut users = Vec::new();
        for page in 1.. {
            let mut params = vec![("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            if let Some(query) = query {
                params.push(("query", query.to_owned()));
            }
            let found: UserPage = self
                .client
                .get(&["api", "users", "search"], &params)
                .await
                .map_err(UserKind::forbidden)?
                .parse("GET /api/users/search")?;
            let received = found.users.len();
            users.extend(found.users);
            if received < PAGE_SIZE || users.len() as u64 >= found.total_count {
                break;
            }
        }
        Ok(users)
    }

    /// User id → role in the instance's org (`GET /api/org/users`).
    async fn org_roles(&self) -> Result<BTreeMap<i64, String>, HandlerError> {
        let members: Vec<OrgMember> = self
            .client
            .get(&["api", "org", "users"], &[])
            .await
            .map_err(UserKind::forbidden)?
            .parse("GET /api/org/users")?;
        Ok(members.into_iter().map(|member| (member.user_id, member.role)).collect())
    }

    async fn objects(&self, hits: Vec<UserHit>) -> Result<Vec<RemoteObject>, HandlerError> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let roles = self.org_roles().await?;
        Ok(hits
            .into_iter()
            .map(|hit| {
                let role = roles.get(&hit.id).cloned();
                user_object(
                    hit.id,
                    StoredUser {
                        login: hit.login,
                        email: hit.email,
                        name: hit.name,
                        role,
                        is_grafana_admin: hit.is_admin,
                    },
                )
            })
            .collect())
    }

    /// Sets the user's role in the instance's org: `PATCH /api/org/users/:id`, or — for a user
    /// who is not a member — `POST /api/org/users` (pkg/api/org_users.go).
    async fn set_role(&self, user_id: i64, login: &str, role: &str, member: bool) -> Result<(), HandlerError> {
        let result = if member {
            let url = self.client.url(&["api", "org", "users", &user_id.to_string()], &[]);
            self.client.send(Method::PATCH, url, Some(&json!({ "role": role }))).await
        } else {
            let url = self.client.url(&["api", "org", "users"], &[]);
            self.client.send(Method::POST, url, Some(&json!({ "loginOrEmail": login, "role": role }))).await
        };
        result.map(|_| ()).map_err(|err| UserKind::forbidden(err).at("/role"))
    }

    async fn create(&self, desired: &User) -> Result<RemoteObject, HandlerError> {
        let Some(SecretField::Revealed(password)) = &desired.password else {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                "creating a user needs its initial password: password = { env = \"…\" }",
            )
            .at("/password"));
        };
        // The org the user joins: the instance's (Grafana puts a user created without one in
        // `auto_assign_org_id`, org 1), as Viewer (`auto_assign_org_role`).
        let org: CurrentOrg = self.client.get(&["api", "org"], &[]).await?.parse("GET /api/org")?;
        let body = json!({
            "login": desired.login,
            "email": desired.email,
            "name": desired.name,
            "password": password,
            "orgId": org.id,
        });
        let url = self.client.url(&["api", "admin", "users"], &[]);
        let user_id = match self.client.send(Method::POST, url, Some(&body)).await {
            Ok(answer) => answer.parse::<Created>("POST /api/admin/users")?.id,
            Err(err) => return Err(UserKind::forbidden(err).at("/login")),
        };
        if desired.role != "Viewer" {
            self.set_role(user_id, &desired.login, &desired.role, true).await?;
        }
        Ok(user_object(user_id, stored(desired, false)))
    }

    async fn update(&self, current: &RemoteObject, desired: &User) -> Result<RemoteObject, HandlerError> {
        let old: StoredUser = current.fields.parse().map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("the recorded user is unreadable: {err}"))
        })?;
        let user_id: i64 = current.remote_id.parse().map_err(|_| {
            HandlerError::new(HandlerErrorKind::Other, format!("user id `{}` is not a number", current.remote_id))
        })?;
        if old.login != desired.login || old.email != desired.email || old.name != desired.name {
            // pkg/api/user.go `UpdateUser` (server admins): login, email and name together.
            let url = self.client.url(&["api", "users", &current.remote_id], &[]);
            let body = json!({ "login": desired.login, "email": desired.email, "name": desired.name });
            self.client
                .send(Method::PUT, url, Some(&body))
                .await
                .map_err(|err| UserKind::forbidden(err).at("/login"))?;
        }
        if old.role.as_deref() != Some(desired.role.as_str()) {
            self.set_role(user_id, &desired.login, &desired.role, old.role.is_some()).await?;
        }
        Ok(user_object(user_id, stored(desired, old.is_grafana_admin)))
    }
}

fn stored(desired: &User, is_grafana_admin: bool) -> StoredUser {
    StoredUser {
        login: desired.login.clone(),
        email: desired.email.clone(),
        name: desired.name.clone(),
        role: Some(desired.role.clone()),
        is_grafana_admin,
    }
}

fn user_object(id: i64, stored: StoredUser) -> RemoteObject {
    RemoteObject {
        remote_id: id.to_string(),
        adoption_key: Some(stored.login.clone()),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

#[async_trait]
impl Kind for UserKind {
    type Desired = User;
    type Remote = StoredUser;
    type Comparable = ComparableUser;
    type Context = ();

    fn validate(&self, desired: &User) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        crate::checks::non_empty(&[("login", &desired.login), ("email", &desired.email)], &mut errors);
        // Required even for a user that exists: should it be deleted by hand, the next apply
        // creates it again, and a plan that cannot be applied must not be shown.
        if desired.password.is_none() {
            errors.push(FieldError::at(
                "",
                "`password` is required: password = { env = \"…\" } (read only when mac creates the user; never compared)",
            ));
        }
        if !ORG_ROLES.contains(&desired.role.as_str()) {
            errors.push(FieldError::at(
                "/role",
                format!("`role` must be \"Viewer\", \"Editor\" or \"Admin\", not {}", json!(desired.role)),
            ));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/password"]
    }

    fn secrets_on_create_only(&self) -> bool {
        true
    }

    /// Users made by hand are recognised by their login, unique on the server.
    fn adoption_key(&self, _id: &ObjectId, desired: &User, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.login.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &User,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableUser, FieldError> {
        Ok(ComparableUser {
            login: desired.login.clone(),
            email: desired.email.clone(),
            name: desired.name.clone(),
            role: desired.role.clone(),
        })
    }

    fn observed(&self, remote: &Remote<'_, StoredUser>) -> ComparableUser {
        let user = &remote.fields;
        ComparableUser {
            login: user.login.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role.clone().unwrap_or_else(|| NOT_A_MEMBER.to_owned()),
        }
    }

    fn describe(&self, remote: &Remote<'_, StoredUser>) -> String {
        format!(
            "user {:?} ({}), deleted from the whole server, every org included",
            remote.fields.login, remote.fields.email
        )
    }

    /// Members of the instance's org, server admins left out: mac never deletes one, and the
    /// credential it runs with is one.
    fn import(&self, remote: &Remote<'_, StoredUser>, _refs: &dyn ImportRefs, _context: &()) -> Option<ImportedFields> {
        let user = &remote.fields;
        if user.is_grafana_admin {
            return None;
        }
        let role = user.role.clone()?;
        let definition = User {
            login: user.login.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            role,
            password: Some(SecretField::env(crate::secret_variable(&["user", &user.login, "password"]))),
        };
        let fields = serde_json::to_value(definition).ok()?.as_object()?.clone();
        Some(ImportedFields {
            local_id: crate::slug(&user.login),
            fields,
            file: "users".to_owned(),
            scope: None,
            part_ids: BTreeMap::new(),
        })
    }

    /// A server admin is never deleted (see `delete`): the plan shows its delete blocked by
    /// that permission, rather than an apply that fails every time. One read per user the plan
    /// may delete.
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        let mut held = BTreeMap::new();
        for remote_id in remote_ids {
            let Some(object) = self.read(remote_id).await? else { continue };
            let user: StoredUser = object.fields.parse().map_err(|err| {
                HandlerError::new(HandlerErrorKind::Other, format!("user {remote_id} is unreadable: {err}"))
            })?;
            if user.is_grafana_admin {
                let permission = LinkedObject {
                    kind: "permission".to_owned(),
                    remote_id: remote_id.clone(),
                    title: Some("Grafana server admin".to_owned()),
                    uid: None,
                    managed_as: None,
                };
                held.insert(remote_id.clone(), vec![permission]);
            }
        }
        Ok(held)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let hits = self.search(None).await?;
        self.objects(hits).await
    }

    /// `GET /api/users/:id` (server admins; an unknown id is 404).
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "users", remote_id], &[]).await {
            Ok(answer) => {
                let hit: UserHit = answer.parse("GET /api/users/:id")?;
                Ok(self.objects(vec![hit]).await?.pop())
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(UserKind::forbidden(err)),
        }
    }

    /// The natural key is the login: the search matches it among others, exactly here.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        let found: Vec<UserHit> = self.search(Some(key)).await?.into_iter().filter(|hit| hit.login == key).collect();
        Ok(self.objects(found).await?.pop())
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &User,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        match current {
            None => self.create(desired).await,
            Some(current) => self.update(current, desired).await,
        }
    }

    /// `DELETE /api/admin/users/:id`, which removes the user from every org. A server admin is
    /// refused: deleting one could lock out every administrator, mac's own credential included.
    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let user: StoredUser = current.fields.parse().map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("the recorded user is unreadable: {err}"))
        })?;
        if user.is_grafana_admin {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!(
                    "refusing to delete user `{}`: a Grafana server admin; remove that permission in Grafana first, or keep managing the user",
                    user.login
                ),
            ));
        }
        let url = self.client.url(&["api", "admin", "users", &current.remote_id], &[]);
        match self.client.send(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(UserKind::forbidden(err)),
        }
    }
}
