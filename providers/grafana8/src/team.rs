//! `team`: a team of the instance's org — its name, email, members and preferences
//! (`/api/teams*`, pkg/api/team.go, team_members.go at v8.5.4).
//!
//! Members are named by login or email and looked up once per plan in the org's user list
//! (`GET /api/org/users`, this kind's context), so that the planner reads them as input and a
//! saved plan writes the members it showed. Grafana 8.5 has no bulk read of members or team
//! preferences: a plan reads `⌈teams/1000⌉ + 2 × teams + 2` requests (the team search, one
//! member list and one preferences GET per team, the org's users, and the dashboard search
//! that turns a home dashboard's id into its uid).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, KeyReference, Kind, ObjectId, Remote,
    RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::Client;
use crate::folder_permission::{Users, load_users, resolve_login};

/// Teams and dashboards listed per request (pkg/api/team.go's and search's default page size).
const PAGE_SIZE: usize = 1000;
/// Team reads in flight at once while listing.
const CONCURRENCY: usize = 8;
/// Themes a preference may name (pkg/api/preferences.go); empty is the org's default.
const THEMES: [&str; 3] = ["", "light", "dark"];
/// Timezones a preference may name (pkg/api/preferences.go); empty is the org's default.
const TIMEZONES: [&str; 3] = ["", "utc", "browser"];

/// A `team` definition: one team of the instance's org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// The team's name, unique in the org; a team of that name made by hand is offered to adopt.
    pub name: String,
    /// The team's email address (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Its members, each by login or email; looked up in the org's users when planning.
    #[serde(default)]
    pub members: Vec<String>,
    /// The team's preferences; left out, mac leaves Grafana's as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<TeamPreferences>,
}

/// A team's preferences (`/api/teams/:id/preferences`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPreferences {
    /// The theme: `light`, `dark`, or `""` for the org's default.
    #[serde(default)]
    #[schemars(extend("enum" = THEMES))]
    pub theme: String,
    /// The timezone: `utc`, `browser`, or `""` for the org's default.
    #[serde(default)]
    #[schemars(extend("enum" = TIMEZONES))]
    pub timezone: String,
    /// The home dashboard's uid, or `{ ref = "dashboard.ID" }` of one defined here; left out: none.
    ///
    /// Last, as `mac import` writes a reference (an inline table) after plain values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_dashboard: Option<String>,
}

/// A team as the remote object records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredTeam {
    name: String,
    #[serde(default)]
    email: String,
    /// Members sorted by login.
    #[serde(default)]
    members: Vec<StoredMember>,
    #[serde(default)]
    preferences: StoredPreferences,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredMember {
    login: String,
    user_id: i64,
}

/// The team's preferences row; `home_dashboard_uid` is its `homeDashboardId` looked up in the
/// dashboard search (`#ID` for an id the search does not know).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoredPreferences {
    #[serde(default)]
    theme: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    week_start: String,
    #[serde(default)]
    home_dashboard_id: i64,
    #[serde(default)]
    home_dashboard_uid: Option<String>,
}

/// A team in the comparable form: members as keyed items, so that a plan shows who joins or
/// leaves rather than a new list.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableTeam {
    name: String,
    email: String,
    members: Vec<ComparableMember>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferences: Option<ComparablePreferences>,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct ComparableMember {
    login: String,
}

#[derive(Debug, Serialize)]
struct ComparablePreferences {
    home_dashboard: Option<String>,
    theme: String,
    timezone: String,
}

/// The org's users, read with the teams for resolving member names: login → user id, and
/// email (lower-cased) → login. `Err` says why they could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OrgUsers {
    users: Result<Users, String>,
}

impl Default for OrgUsers {
    fn default() -> Self {
        OrgUsers { users: Err("the org's users were not read with the plan".to_owned()) }
    }
}

/// A user of the org as `GET /api/org/users/lookup` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUser {
    login: Option<String>,
    user_id: Option<i64>,
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

/// A team as the search lists it (`models.TeamDTO`).
#[derive(Debug, Clone, Deserialize)]
struct TeamHit {
    id: i64,
    name: String,
    #[serde(default)]
    email: String,
}

/// A row of `GET /api/teams/:id/members` (`models.TeamMemberDTO`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberRow {
    user_id: i64,
    #[serde(default)]
    login: String,
}

/// `dtos.Prefs`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrefsAnswer {
    #[serde(default)]
    theme: String,
    #[serde(default)]
    home_dashboard_id: i64,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    week_start: String,
}

/// A dashboard search hit: its numeric id and uid.
#[derive(Debug, Deserialize)]
struct DashboardHit {
    id: i64,
    uid: String,
}

/// `GET /api/dashboards/uid/:uid`: the dashboard's numeric id, which preferences store.
#[derive(Debug, Deserialize)]
struct DashboardAnswer {
    dashboard: DashboardId,
}

#[derive(Debug, Deserialize)]
struct DashboardId {
    id: i64,
}

#[derive(Debug)]
pub(crate) struct TeamKind {
    client: Arc<Client>,
}

impl TeamKind {
    pub(crate) fn new(client: Arc<Client>) -> TeamKind {
        TeamKind { client }
    }

    fn forbidden(err: HandlerError) -> HandlerError {
        if err.kind == HandlerErrorKind::Unauthorized {
            HandlerError::new(
                HandlerErrorKind::Unauthorized,
                format!("managing teams needs an org Admin credential (Grafana 8.5): {}", err.message),
            )
        } else {
            err
        }
    }

    async fn search(&self, name: Option<&str>) -> Result<Vec<TeamHit>, HandlerError> {
        let mut teams = Vec::new();
        for page in 1.. {
            let mut query = vec![("perpage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            if let Some(name) = name {
                query.push(("name", name.to_owned()));
            }
            let found: TeamPage = self
                .client
                .get(&["api", "teams", "search"], &query)
                .await
                .map_err(TeamKind::forbidden)?
                .parse("GET /api/teams/search")?;
            let received = found.teams.len();
            teams.extend(found.teams);
            if received < PAGE_SIZE || teams.len() as u64 >= found.total_count {
                break;
            }
        }
        Ok(teams)
    }

    /// Every dashboard's id → uid (`GET /api/search?type=dash-db`, paged).
    async fn dashboard_uids(&self) -> Result<BTreeMap<i64, String>, HandlerError> {
        let mut uids = BTreeMap::new();
        for page in 1.. {
            let query = [("type", "dash-db".to_owned()), ("limit", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let hits: Vec<DashboardHit> =
                self.client.get(&["api", "search"], &query).await?.parse("GET /api/search")?;
            let received = hits.len();
            uids.extend(hits.into_iter().map(|hit| (hit.id, hit.uid)));
            if received < PAGE_SIZE {
                break;
            }
        }
        Ok(uids)
    }

    /// A team's members and preferences, as the remote object records them.
    async fn read_team(&self, team: TeamHit, dashboards: &BTreeMap<i64, String>) -> Result<RemoteObject, HandlerError> {
        let id = team.id.to_string();
        let members_path = ["api", "teams", &id, "members"];
        let preferences_path = ["api", "teams", &id, "preferences"];
        let (members, preferences) =
            tokio::join!(self.client.get(&members_path, &[]), self.client.get(&preferences_path, &[]));
        let members: Vec<MemberRow> = members.map_err(TeamKind::forbidden)?.parse("GET /api/teams/:id/members")?;
        let preferences: PrefsAnswer =
            preferences.map_err(TeamKind::forbidden)?.parse("GET /api/teams/:id/preferences")?;
        let home_dashboard_uid = (preferences.home_dashboard_id != 0).then(|| {
            dashboards
                .get(&preferences.home_dashboard_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", preferences.home_dashboard_id))
        });
        let mut members: Vec<StoredMember> =
            members.into_iter().map(|row| StoredMember { login: row.login, user_id: row.user_id }).collect();
        members.sort_by(|a, b| a.login.cmp(&b.login));
        Ok(team_object(
            team.id,
            StoredTeam {
                name: team.name,
                email: team.email,
                members,
                preferences: StoredPreferences {
                    theme: preferences.theme,
                    timezone: preferences.timezone,
                    week_start: preferences.week_start,
                    home_dashboard_id: preferences.home_dashboard_id,
                    home_dashboard_uid,
                },
            },
        ))
    }

    async fn read_teams(&self, teams: Vec<TeamHit>) -> Result<Vec<RemoteObject>, HandlerError> {
        if teams.is_empty() {
            return Ok(Vec::new());
        }
        let dashboards = self.dashboard_uids().await?;
        let mut objects = Vec::with_capacity(teams.len());
        for chunk in teams.chunks(CONCURRENCY) {
            let reads = chunk.iter().cloned().map(|team| self.read_team(team, &dashboards));
            for read in futures::future::join_all(reads).await {
                objects.push(read?);
            }
        }
        Ok(objects)
    }

    /// The user id of a member: from the plan's directory, or — for a user the same apply
    /// created (a `grafana8.user` named by login) — looked up now (`GET /api/org/users/lookup`).
    async fn member_id(&self, users: &OrgUsers, login: &str, index: usize) -> Result<i64, HandlerError> {
        if let Some(id) = users.users.as_ref().ok().and_then(|known| known.id(login)) {
            return Ok(id);
        }
        let found: Vec<OrgUser> = self
            .client
            .get(&["api", "org", "users", "lookup"], &[("query", login.to_owned()), ("limit", "100".to_owned())])
            .await
            .map_err(TeamKind::forbidden)?
            .parse("GET /api/org/users/lookup")?;
        found.into_iter().find(|user| user.login.as_deref() == Some(login)).and_then(|user| user.user_id).ok_or_else(
            || {
                HandlerError::new(HandlerErrorKind::Invalid, format!("Grafana has no user `{login}` in this org"))
                    .at(format!("/members/{index}"))
            },
        )
    }

    /// `POST /api/teams`; a create retried after a lost answer finds its own team by name.
    async fn create(&self, body: &TeamBody<'_>) -> Result<i64, HandlerError> {
        let url = self.client.url(&["api", "teams"], &[]);
        match self.client.send(Method::POST, url, Some(&json!(body))).await {
            Ok(answer) => Ok(answer.parse::<Created>("POST /api/teams")?.team_id),
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let found = self.search(Some(body.name)).await?;
                match found.into_iter().find(|team| team.name == body.name) {
                    Some(team) => Ok(team.id),
                    None => Err(err.at("/name")),
                }
            }
            Err(err) => Err(TeamKind::forbidden(err).at("/name")),
        }
    }

    /// The numeric id preferences store for a home dashboard's uid.
    async fn dashboard_id(&self, uid: &str) -> Result<i64, HandlerError> {
        let answer: DashboardAnswer = self
            .client
            .get(&["api", "dashboards", "uid", uid], &[])
            .await
            .map_err(|err| err.at("/preferences/home_dashboard"))?
            .parse("GET /api/dashboards/uid/:uid")?;
        Ok(answer.dashboard.id)
    }
}

fn team_object(id: i64, stored: StoredTeam) -> RemoteObject {
    RemoteObject {
        remote_id: id.to_string(),
        adoption_key: Some(stored.name.clone()),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

/// A member named by login or email → its login.
fn resolve_member(users: &OrgUsers, name: &str) -> Result<String, String> {
    resolve_login(&users.users, name, " in this org")
}

fn validate_team(desired: &Team) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    crate::checks::non_empty(&[("name", &desired.name)], &mut errors);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, member) in desired.members.iter().enumerate() {
        let member = member.trim();
        if member.is_empty() {
            errors.push(FieldError::at(format!("/members/{index}"), "a member is a non-empty login or email"));
        } else if member == KNOWN_AFTER_APPLY {
            // A `grafana8.user` of this project: the loader made each a distinct reference.
        } else if let Some(first) = seen.insert(member.to_lowercase(), index) {
            errors.push(FieldError::at(
                format!("/members/{index}"),
                format!("`{member}` is already a member (entry {first})"),
            ));
        }
    }
    if let Some(preferences) = &desired.preferences {
        if !THEMES.contains(&preferences.theme.as_str()) {
            errors.push(FieldError::at(
                "/preferences/theme",
                format!("`theme` must be \"light\", \"dark\" or \"\" (the default), not {}", json!(preferences.theme)),
            ));
        }
        if !TIMEZONES.contains(&preferences.timezone.as_str()) {
            errors.push(FieldError::at(
                "/preferences/timezone",
                format!(
                    "`timezone` must be \"utc\", \"browser\" or \"\" (the default), not {}",
                    json!(preferences.timezone)
                ),
            ));
        }
        if preferences.home_dashboard.as_deref().is_some_and(|uid| uid.trim().is_empty()) {
            errors.push(FieldError::at("/preferences/home_dashboard", "`home_dashboard` must be a dashboard uid"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn comparable_preferences(stored: &StoredPreferences) -> ComparablePreferences {
    ComparablePreferences {
        home_dashboard: stored.home_dashboard_uid.clone(),
        theme: stored.theme.clone(),
        timezone: stored.timezone.clone(),
    }
}

/// `POST /api/teams`'s answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    team_id: i64,
}

#[derive(Serialize)]
struct TeamBody<'a> {
    name: &'a str,
    email: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrefsBody<'a> {
    theme: &'a str,
    home_dashboard_id: i64,
    timezone: &'a str,
    week_start: &'a str,
}

#[async_trait]
impl Kind for TeamKind {
    type Desired = Team;
    type Remote = StoredTeam;
    type Comparable = ComparableTeam;
    type Context = OrgUsers;

    fn validate(&self, desired: &Team) -> Result<(), Vec<FieldError>> {
        validate_team(desired)
    }

    /// A member named by the login of a `grafana8.user` defined here is created first.
    fn key_references(&self, desired: &Team) -> Vec<KeyReference> {
        desired
            .members
            .iter()
            .enumerate()
            .map(|(index, login)| KeyReference {
                pointer: format!("/members/{index}"),
                kind: "user".to_owned(),
                key_field: "login".to_owned(),
                key: login.trim().to_owned(),
                value_field: Some("login".to_owned()),
            })
            .collect()
    }

    /// Teams made by hand are recognised by their name, unique per org.
    fn adoption_key(&self, _id: &ObjectId, desired: &Team, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &Team,
        _refs: &dyn Resolver,
        users: &OrgUsers,
    ) -> Result<ComparableTeam, FieldError> {
        let mut members = Vec::new();
        for (index, member) in desired.members.iter().enumerate() {
            let member = member.trim();
            let login = if member == KNOWN_AFTER_APPLY {
                member.to_owned()
            } else {
                resolve_member(users, member).map_err(|message| FieldError::at(format!("/members/{index}"), message))?
            };
            members.push(ComparableMember { login });
        }
        members.sort();
        Ok(ComparableTeam {
            name: desired.name.clone(),
            email: desired.email.clone(),
            members,
            preferences: desired.preferences.as_ref().map(|preferences| ComparablePreferences {
                home_dashboard: preferences.home_dashboard.clone(),
                theme: preferences.theme.clone(),
                timezone: preferences.timezone.clone(),
            }),
        })
    }

    fn observed(&self, remote: &Remote<'_, StoredTeam>) -> ComparableTeam {
        let team = &remote.fields;
        ComparableTeam {
            name: team.name.clone(),
            email: team.email.clone(),
            members: team.members.iter().map(|member| ComparableMember { login: member.login.clone() }).collect(),
            preferences: Some(comparable_preferences(&team.preferences)),
        }
    }

    /// Preferences only when the definition manages them.
    fn observed_for(&self, remote: &Remote<'_, StoredTeam>, desired: &ComparableTeam) -> ComparableTeam {
        let observed = self.observed(remote);
        ComparableTeam { preferences: desired.preferences.as_ref().and(observed.preferences), ..observed }
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/members").then_some("login")
    }

    fn describe(&self, remote: &Remote<'_, StoredTeam>) -> String {
        let count = remote.fields.members.len();
        format!("team {:?}, {count} member{}", remote.fields.name, if count == 1 { "" } else { "s" })
    }

    fn import(
        &self,
        remote: &Remote<'_, StoredTeam>,
        refs: &dyn ImportRefs,
        _users: &OrgUsers,
    ) -> Option<ImportedFields> {
        let team = &remote.fields;
        let stored = &team.preferences;
        let preferences = (stored.home_dashboard_id != 0 || !stored.theme.is_empty() || !stored.timezone.is_empty())
            .then(|| TeamPreferences {
                home_dashboard: stored.home_dashboard_uid.clone(),
                theme: stored.theme.clone(),
                timezone: stored.timezone.clone(),
            });
        // A home dashboard the search could not name cannot be written back.
        if preferences.as_ref().is_some_and(|p| p.home_dashboard.as_deref().is_some_and(|uid| uid.starts_with('#'))) {
            return None;
        }
        let definition = Team {
            name: team.name.clone(),
            email: team.email.clone(),
            members: team.members.iter().map(|member| member.login.clone()).collect(),
            preferences,
        };
        let mut fields = serde_json::to_value(definition).ok()?.as_object()?.clone();
        // A home dashboard this import also writes is named by reference.
        if let Some(uid) = &stored.home_dashboard_uid
            && let Some(local_id) = refs.local_id("dashboard", uid)
            && let Some(serde_json::Value::Object(preferences)) = fields.get_mut("preferences")
        {
            preferences.insert("home_dashboard".to_owned(), json!({ "ref": format!("dashboard.{local_id}") }));
        }
        Some(ImportedFields {
            local_id: crate::slug(&team.name),
            fields,
            file: "teams".to_owned(),
            scope: None,
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let teams = self.search(None).await?;
        self.read_teams(teams).await
    }

    async fn read_context(&self) -> Result<OrgUsers, HandlerError> {
        Ok(OrgUsers { users: load_users(&self.client).await })
    }

    /// `GET /api/teams/:id` (a team of another org, or none, is 404).
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "teams", remote_id], &[]).await {
            Ok(answer) => {
                let team: TeamHit = answer.parse("GET /api/teams/:id")?;
                Ok(self.read_teams(vec![team]).await?.pop())
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(TeamKind::forbidden(err)),
        }
    }

    /// Members and preferences are read team by team: a saved plan re-reads only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the name: `GET /api/teams/search?name=…` matches it exactly.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        let found: Vec<TeamHit> = self.search(Some(key)).await?.into_iter().filter(|team| team.name == key).collect();
        Ok(self.read_teams(found).await?.pop())
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &Team,
        _refs: &dyn Resolver,
        users: &OrgUsers,
    ) -> Result<RemoteObject, HandlerError> {
        let body = TeamBody { name: &desired.name, email: &desired.email };
        let (team_id, stored) = match current {
            None => (self.create(&body).await?, None),
            Some(current) => {
                let stored: StoredTeam = current.fields.parse().map_err(|err| {
                    HandlerError::new(HandlerErrorKind::Other, format!("the recorded team is unreadable: {err}"))
                })?;
                let team_id: i64 = current.remote_id.parse().map_err(|_| {
                    HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("team id `{}` is not a number", current.remote_id),
                    )
                })?;
                if stored.name != desired.name || stored.email != desired.email {
                    let url = self.client.url(&["api", "teams", &current.remote_id], &[]);
                    self.client
                        .send_json(Method::PUT, url, &body)
                        .await
                        .map_err(|err| TeamKind::forbidden(err).at("/name"))?;
                }
                (team_id, Some(stored))
            }
        };
        let id = team_id.to_string();
        let had: BTreeMap<String, i64> = stored
            .iter()
            .flat_map(|stored| &stored.members)
            .map(|member| (member.login.clone(), member.user_id))
            .collect();
        let mut wanted = BTreeSet::new();
        for (index, member) in desired.members.iter().enumerate() {
            let member = member.trim();
            // A user this apply created is not in the plan's directory: named by its login.
            let login = resolve_member(users, member).unwrap_or_else(|_| member.to_owned());
            if !had.contains_key(&login) {
                let user_id = self.member_id(users, &login, index).await?;
                let url = self.client.url(&["api", "teams", &id, "members"], &[]);
                self.client
                    .send(Method::POST, url, Some(&json!({ "userId": user_id })))
                    .await
                    .map_err(|err| TeamKind::forbidden(err).at(format!("/members/{index}")))?;
            }
            wanted.insert(login);
        }
        for (login, user_id) in &had {
            if !wanted.contains(login) {
                let url = self.client.url(&["api", "teams", &id, "members", &user_id.to_string()], &[]);
                match self.client.send(Method::DELETE, url, None).await {
                    Ok(_) => {}
                    Err(err) if err.kind == HandlerErrorKind::NotFound => {}
                    Err(err) => return Err(TeamKind::forbidden(err).at("/members")),
                }
            }
        }
        // The read-back names the home dashboard by the uids known here, without a search.
        let mut dashboards: BTreeMap<i64, String> = stored
            .iter()
            .filter_map(|stored| {
                Some((stored.preferences.home_dashboard_id, stored.preferences.home_dashboard_uid.clone()?))
            })
            .collect();
        if let Some(preferences) = &desired.preferences {
            let old = stored.as_ref().map(|stored| stored.preferences.clone()).unwrap_or_default();
            let home_dashboard_id = match &preferences.home_dashboard {
                None => 0,
                Some(uid) if old.home_dashboard_uid.as_ref() == Some(uid) => old.home_dashboard_id,
                Some(uid) => self.dashboard_id(uid).await?,
            };
            if let Some(uid) = &preferences.home_dashboard {
                dashboards.insert(home_dashboard_id, uid.clone());
            }
            let changed = stored.is_none()
                || old.theme != preferences.theme
                || old.timezone != preferences.timezone
                || old.home_dashboard_id != home_dashboard_id;
            if changed {
                let body = PrefsBody {
                    theme: &preferences.theme,
                    home_dashboard_id,
                    timezone: &preferences.timezone,
                    week_start: &old.week_start,
                };
                let url = self.client.url(&["api", "teams", &id, "preferences"], &[]);
                self.client
                    .send_json(Method::PUT, url, &body)
                    .await
                    .map_err(|err| TeamKind::forbidden(err).at("/preferences"))?;
            }
        }
        let team = TeamHit { id: team_id, name: desired.name.clone(), email: desired.email.clone() };
        self.read_team(team, &dashboards).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "teams", &current.remote_id], &[]);
        match self.client.send(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(TeamKind::forbidden(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, LocalRef, Resolved, Typed};
    use serde_json::Value;

    struct NoRefs;
    impl Resolver for NoRefs {
        fn resolve(&self, _reference: &LocalRef) -> Option<Resolved<'_>> {
            None
        }
    }

    fn kind() -> Typed<TeamKind> {
        Typed(TeamKind::new(Arc::new(crate::client::unreachable())))
    }

    /// The planner resolves members from the recorded context only: the same recorded
    /// context plans the same, and none (not read) is said so at the member.
    #[test]
    fn members_resolve_against_the_recorded_org_users() {
        let mut index = Users::default();
        index.insert("alice".to_owned(), 7, None);
        index.insert("bob".to_owned(), 8, Some("bob@example.com"));
        let users = OrgUsers { users: Ok(index) };
        let recorded = serde_json::to_value(&users).expect("context");
        let desired = mac_core::DesiredObject {
            id: ObjectId::new("grafana8", "team", "payments"),
            fields: mac_core::JsonText::from_value(
                &json!({ "name": "Payments", "members": ["Bob@Example.com", "alice"] }),
            ),
        };
        let compared = kind()
            .compare(&desired, None, &NoRefs, &kind().prepare_context(&recorded).expect("context"))
            .expect("compared");
        assert_eq!(
            compared.desired,
            json!({ "name": "Payments", "email": "", "members": [{ "login": "alice" }, { "login": "bob" }] })
        );
        let error = kind()
            .compare(&desired, None, &NoRefs, &kind().prepare_context(&Value::Null).expect("context"))
            .expect_err("not read");
        assert_eq!(
            (error.pointer.as_str(), error.message.as_str()),
            ("/members/0", "cannot look up user `Bob@Example.com`: the org's users were not read with the plan")
        );
    }
}
