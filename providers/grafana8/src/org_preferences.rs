//! `org_preferences`: the organisation's preferences — home dashboard, theme, timezone and
//! week start (`/api/org/preferences`, pkg/api/preferences.go at v8.5.4).
//!
//! One per org, so a singleton: at most one definition per provider instance, and its remote
//! id is always [`REMOTE_ID`]. Ownership is shared: mac owns only the fields a definition
//! sets; the others are neither compared nor written (a write is one PATCH of the fields
//! defined). The preferences always exist, so a first definition adopts them (`--adopt`).
//! Deleting the definition (prune) resets all four to Grafana's defaults (the server's theme,
//! Grafana's home dashboard, the browser's timezone and week start) with one PUT: the
//! definition that owned them is gone, so nothing says which fields it owned.
//!
//! Grafana 8.5 stores the home dashboard by numeric id; definitions name it by uid
//! (`{ ref = "dashboard.ID" }` for one defined here). A plan reads the preferences and, when a
//! home dashboard is set, one search for its uid: 1 or 2 requests.

use std::collections::BTreeMap;
use std::sync::Arc;

use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, Remote, RemoteObject,
    Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::Client;

/// The remote id of the one preferences object of an org.
const REMOTE_ID: &str = "org";
/// Themes Grafana 8.5 accepts; `""` is the server's default (pkg/api/preferences.go).
const THEMES: [&str; 3] = ["", "light", "dark"];
/// Week starts the 8.5 preferences form offers; `""` is the browser's.
const WEEK_STARTS: [&str; 4] = ["", "monday", "saturday", "sunday"];

/// An `org_preferences` definition: the fields set are owned, the others left as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPreferences {
    /// The home dashboard's uid: `{ ref = "dashboard.ID" }` for one defined here; `""` for Grafana's default home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_dashboard: Option<String>,
    /// The UI theme: `light`, `dark`, or `""` for the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = THEMES))]
    pub theme: Option<String>,
    /// The default timezone: `browser`, `utc`, an IANA zone such as `Europe/Paris`, or `""` for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The first day of the week: `monday`, `saturday`, `sunday`, or `""` for the browser's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = WEEK_STARTS))]
    pub week_start: Option<String>,
}

/// The answer of `GET /api/org/preferences` (`dtos.Prefs`).
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

/// The preferences as the remote object records them, the home dashboard by id and uid.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct StoredPreferences {
    #[serde(default)]
    theme: String,
    #[serde(default)]
    home_dashboard_id: i64,
    /// `""` without a home dashboard, `#ID` for an id no dashboard has.
    #[serde(default)]
    home_dashboard_uid: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    week_start: String,
}

/// The preferences, compared: only the fields the definition owns.
#[derive(Debug, Default, Serialize)]
pub(crate) struct ComparablePreferences {
    #[serde(skip_serializing_if = "Option::is_none")]
    home_dashboard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    theme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    week_start: Option<String>,
}

/// A hit of `GET /api/search`.
#[derive(Debug, Deserialize)]
struct SearchHit {
    #[serde(default)]
    uid: Option<String>,
}

/// The part of `GET /api/dashboards/uid/:uid` a write needs.
#[derive(Debug, Deserialize)]
struct DashboardAnswer {
    dashboard: DashboardId,
}

#[derive(Debug, Deserialize)]
struct DashboardId {
    id: i64,
}

/// The `org_preferences` kind.
#[derive(Debug)]
pub(crate) struct OrgPreferencesKind {
    client: Arc<Client>,
}

impl OrgPreferencesKind {
    pub(crate) fn new(client: Arc<Client>) -> OrgPreferencesKind {
        OrgPreferencesKind { client }
    }

    /// The preferences, the home dashboard's uid looked up by one search when one is set.
    async fn read_preferences(&self) -> Result<RemoteObject, HandlerError> {
        let prefs: PrefsAnswer =
            self.client.get(&["api", "org", "preferences"], &[]).await?.parse("GET /api/org/preferences")?;
        let home_dashboard_uid = if prefs.home_dashboard_id > 0 {
            let query = [("dashboardIds", prefs.home_dashboard_id.to_string())];
            let hits: Vec<SearchHit> = self.client.get(&["api", "search"], &query).await?.parse("GET /api/search")?;
            hits.into_iter().find_map(|hit| hit.uid).unwrap_or_else(|| format!("#{}", prefs.home_dashboard_id))
        } else {
            String::new()
        };
        let stored = StoredPreferences {
            theme: prefs.theme,
            home_dashboard_id: prefs.home_dashboard_id,
            home_dashboard_uid,
            timezone: prefs.timezone,
            week_start: prefs.week_start,
        };
        Ok(RemoteObject {
            remote_id: REMOTE_ID.to_owned(),
            adoption_key: Some(REMOTE_ID.to_owned()),
            // Plain data: serialising it cannot fail.
            fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
            part_ids: BTreeMap::new(),
        })
    }

    /// A dashboard's numeric id from its uid.
    async fn dashboard_id(&self, uid: &str) -> Result<i64, HandlerError> {
        match self.client.get(&["api", "dashboards", "uid", uid], &[]).await {
            Ok(answer) => Ok(answer.parse::<DashboardAnswer>("GET /api/dashboards/uid/:uid")?.dashboard.id),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!("there is no dashboard with uid `{uid}` in Grafana"),
            )
            .at("/home_dashboard")),
            Err(err) => Err(err),
        }
    }
}

fn check_choice(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, choices: &[&str]) {
    if let Some(value) = value
        && !choices.contains(&value.as_str())
    {
        let named: Vec<String> = choices.iter().map(|choice| format!("{choice:?}")).collect();
        errors.push(FieldError::at(
            format!("/{field}"),
            format!("`{field}` must be one of {}, not {value:?}", named.join(", ")),
        ));
    }
}

#[async_trait]
impl Kind for OrgPreferencesKind {
    type Desired = OrgPreferences;
    type Remote = StoredPreferences;
    type Comparable = ComparablePreferences;
    type Context = ();

    fn validate(&self, desired: &OrgPreferences) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        check_choice(&mut errors, "theme", &desired.theme, &THEMES);
        check_choice(&mut errors, "week_start", &desired.week_start, &WEEK_STARTS);
        if let Some(timezone) = &desired.timezone
            && timezone.trim() != timezone
        {
            errors.push(FieldError::at("/timezone", "`timezone` must not start or end with spaces"));
        }
        if desired == &OrgPreferences::default() {
            errors.push(FieldError::at(
                "",
                "an org_preferences definition sets at least one of `home_dashboard`, `theme`, `timezone` or `week_start`",
            ));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// One org has one set of preferences: a second definition is an error at its line.
    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, OrgPreferences)>,
    ) -> Vec<(usize, FieldError)> {
        let mut first: Option<String> = None;
        let mut errors = Vec::new();
        for (index, (id, _)) in definitions.enumerate() {
            match &first {
                None => first = Some(id.local_id.clone()),
                Some(first) => errors.push((
                    index,
                    FieldError::at(
                        "",
                        format!(
                            "an organisation has one set of preferences, already defined as `org_preferences.{first}`; a second org is a second provider instance"
                        ),
                    ),
                )),
            }
        }
        errors
    }

    fn adoption_key(&self, _id: &ObjectId, _desired: &OrgPreferences, _refs: &dyn Resolver) -> Option<String> {
        Some(REMOTE_ID.to_owned())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &OrgPreferences,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparablePreferences, FieldError> {
        Ok(ComparablePreferences {
            home_dashboard: desired.home_dashboard.clone(),
            theme: desired.theme.clone(),
            timezone: desired.timezone.clone(),
            week_start: desired.week_start.clone(),
        })
    }

    fn observed(&self, remote: &Remote<'_, StoredPreferences>) -> ComparablePreferences {
        let fields = &remote.fields;
        ComparablePreferences {
            home_dashboard: Some(fields.home_dashboard_uid.clone()),
            theme: Some(fields.theme.clone()),
            timezone: Some(fields.timezone.clone()),
            week_start: Some(fields.week_start.clone()),
        }
    }

    /// Only the fields the definition owns are compared.
    fn observed_for(
        &self,
        remote: &Remote<'_, StoredPreferences>,
        desired: &ComparablePreferences,
    ) -> ComparablePreferences {
        let observed = self.observed(remote);
        ComparablePreferences {
            home_dashboard: observed.home_dashboard.filter(|_| desired.home_dashboard.is_some()),
            theme: observed.theme.filter(|_| desired.theme.is_some()),
            timezone: observed.timezone.filter(|_| desired.timezone.is_some()),
            week_start: observed.week_start.filter(|_| desired.week_start.is_some()),
        }
    }

    fn describe(&self, _remote: &Remote<'_, StoredPreferences>) -> String {
        "the org's preferences: theme, home dashboard, timezone and week start are reset to Grafana's defaults"
            .to_owned()
    }

    /// Imports the fields that differ from Grafana's defaults; nothing when none does.
    fn import(
        &self,
        remote: &Remote<'_, StoredPreferences>,
        refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let stored = &remote.fields;
        let mut fields = Map::new();
        if !stored.home_dashboard_uid.is_empty() {
            // A home dashboard that no longer exists cannot be written back.
            if stored.home_dashboard_uid.starts_with('#') {
                return None;
            }
            let home = match refs.local_id("dashboard", &stored.home_dashboard_uid) {
                Some(local_id) => json!({ "ref": format!("dashboard.{local_id}") }),
                None => json!(stored.home_dashboard_uid),
            };
            fields.insert("home_dashboard".to_owned(), home);
        }
        for (key, value) in
            [("theme", &stored.theme), ("timezone", &stored.timezone), ("week_start", &stored.week_start)]
        {
            if !value.is_empty() {
                fields.insert(key.to_owned(), json!(value));
            }
        }
        if fields.is_empty() {
            return None;
        }
        Some(ImportedFields {
            local_id: REMOTE_ID.to_owned(),
            fields,
            file: "org-preferences".to_owned(),
            scope: None,
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(vec![self.read_preferences().await?])
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        if remote_id != REMOTE_ID {
            return Ok(None);
        }
        Ok(Some(self.read_preferences().await?))
    }

    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    /// One PATCH of the fields defined (and a GET of the home dashboard for its id).
    async fn write(
        &self,
        _current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &OrgPreferences,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        let mut patch = Map::new();
        if let Some(uid) = &desired.home_dashboard {
            let id = if uid.is_empty() { 0 } else { self.dashboard_id(uid).await? };
            patch.insert("homeDashboardId".to_owned(), json!(id));
        }
        for (key, value) in
            [("theme", &desired.theme), ("timezone", &desired.timezone), ("weekStart", &desired.week_start)]
        {
            if let Some(value) = value {
                patch.insert(key.to_owned(), json!(value));
            }
        }
        let url = self.client.url(&["api", "org", "preferences"], &[]);
        self.client.send(Method::PATCH, url, Some(&Value::Object(patch))).await?;
        self.read_preferences().await
    }

    async fn delete(&self, _current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "org", "preferences"], &[]);
        let defaults = json!({ "theme": "", "homeDashboardId": 0, "timezone": "", "weekStart": "" });
        self.client.send(Method::PUT, url, Some(&defaults)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};

    fn kind() -> Typed<OrgPreferencesKind> {
        Typed(OrgPreferencesKind::new(Arc::new(crate::client::unreachable())))
    }

    #[test]
    fn validation_names_each_bad_field() {
        let bad = mac_core::JsonText::from_value(&json!({ "theme": "blue", "week_start": "friday" }));
        let errors = kind().validate(&bad).expect_err("invalid");
        let found: Vec<(&str, &str)> =
            errors.iter().map(|error| (error.pointer.as_str(), error.message.as_str())).collect();
        assert_eq!(
            found,
            [
                ("/theme", "`theme` must be one of \"\", \"light\", \"dark\", not \"blue\""),
                (
                    "/week_start",
                    "`week_start` must be one of \"\", \"monday\", \"saturday\", \"sunday\", not \"friday\""
                ),
            ]
        );
        let empty = kind().validate(&mac_core::JsonText::from_value(&json!({}))).expect_err("empty");
        assert_eq!(empty.len(), 1);
        assert!(kind().validate(&mac_core::JsonText::from_value(&json!({ "theme": "" }))).is_ok());
    }
}
