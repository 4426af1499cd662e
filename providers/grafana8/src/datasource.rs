//! `datasource`: a Grafana data source (`/api/datasources`, API.md §4). Needs an org Admin
//! credential, as Grafana 8 requires for data source reads and writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, Links, ObjectId, Remote,
    RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checks::{self, SecretField};
use crate::client::Client;

/// Data source reads fetched at once: the list lacks `secureJsonFields` and `basicAuthUser`,
/// so each data source is read in full (data sources are few, unlike rules).
const CONCURRENT_READS: usize = 8;

/// The `datasource` kind.
#[derive(Debug)]
pub(crate) struct DatasourceKind {
    client: Arc<Client>,
}

/// A data source definition (`[[grafana8.datasource]]`); what is left out is written as
/// Grafana's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Datasource {
    /// The name, unique per org (how data sources made by hand are adopted).
    pub name: String,
    /// The plugin type, e.g. `prometheus`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `proxy` (the server queries; the default) or `direct` (the browser does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    /// The URL Grafana queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The database, for SQL data sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The user, for SQL data sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The basic authentication user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_user: Option<String>,
    /// Whether requests use basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<bool>,
    /// Whether the browser sends credentials (cookies) along.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_credentials: Option<bool>,
    /// Whether it is the org's default data source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// The plugin's settings (`jsonData`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_data: Option<Map<String, Value>>,
    /// The uid; one derived from the local id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Secrets (`secureJsonData`), each a reference: Grafana stores them and never returns them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_json_data: Option<BTreeMap<String, SecretField>>,
}

/// A data source as Grafana answers it (`GET /api/datasources/uid/:uid`), and as a listed one
/// records it. Grafana 8 still echoes the legacy plaintext `password` and
/// `basicAuthPassword` (API.md §4.3): they are not fields here, so they never travel on into
/// plans, saved plans, state or logs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrafanaDatasource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type", default)]
    type_: Option<String>,
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    basic_auth_user: Option<String>,
    #[serde(default)]
    basic_auth: Option<bool>,
    #[serde(default)]
    with_credentials: Option<bool>,
    #[serde(default)]
    is_default: Option<bool>,
    #[serde(default = "checks::empty_table")]
    json_data: Value,
    #[serde(default, with = "checks::stored_keys")]
    secure_json_fields: Vec<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
}

/// An item of `GET /api/datasources`.
#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(default)]
    uid: Option<String>,
}

/// The answer to a POST or PUT.
#[derive(Debug, Deserialize)]
struct Written {
    datasource: GrafanaDatasource,
}

/// The write body (API.md §4.2): every field, so that a PUT, which replaces, keeps none of the
/// server's old values by accident; secrets revealed by the engine.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    access: &'a str,
    url: &'a str,
    database: &'a str,
    user: &'a str,
    basic_auth_user: &'a str,
    basic_auth: bool,
    with_credentials: bool,
    is_default: bool,
    /// An omitted jsonData would wipe it on update (API.md §4.4).
    json_data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_json_data: Option<&'a BTreeMap<String, SecretField>>,
    uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
}

/// A data source, compared, without the values a write gets when the definition leaves them
/// out, so that a plan never shows them. The strings and flags are the Go zero values of
/// pkg/models/datasource.go:74-90 (AddDataSourceCommand, v8.5.4), `access` the `proxy` mac
/// writes (as Grafana's provisioning does: pkg/services/provisioning/datasources/
/// config_reader.go:137-139), `json_data` the `{}` mac writes, no secret keys stored.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableDatasource {
    name: String,
    #[serde(rename = "type")]
    type_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basic_auth_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basic_auth: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    with_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    json_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_json_fields: Option<Vec<String>>,
}

/// `access` unless it is the default, `proxy`.
fn access(access: Option<&str>) -> Option<String> {
    access.filter(|access| *access != "proxy").map(str::to_owned)
}

/// A string unless it is empty (Go's zero value).
fn text(value: Option<&str>) -> Option<String> {
    value.filter(|value| !value.is_empty()).map(str::to_owned)
}

/// `true`, or `None` for Go's zero value.
fn flag(value: Option<bool>) -> Option<bool> {
    value.filter(|set| *set)
}

/// `jsonData` unless it is the `{}` mac writes.
fn json_data(value: Value) -> Option<Value> {
    (value != checks::empty_table()).then_some(value)
}

impl ComparableDatasource {
    fn observed(remote: &Remote<'_, GrafanaDatasource>) -> ComparableDatasource {
        let source = &remote.fields;
        ComparableDatasource {
            name: source.name.clone().unwrap_or_default(),
            type_: source.type_.clone().unwrap_or_default(),
            access: access(Some(source.access.as_deref().unwrap_or("proxy"))),
            url: text(source.url.as_deref()),
            database: text(source.database.as_deref()),
            user: text(source.user.as_deref()),
            basic_auth_user: text(source.basic_auth_user.as_deref()),
            basic_auth: flag(source.basic_auth),
            with_credentials: flag(source.with_credentials),
            is_default: flag(source.is_default),
            json_data: json_data(source.json_data.clone()),
            uid: Some(remote.remote_id().to_owned()),
            secure_json_fields: (!source.secure_json_fields.is_empty()).then(|| source.secure_json_fields.clone()),
        }
    }
}

impl DatasourceKind {
    pub fn new(client: Arc<Client>) -> DatasourceKind {
        DatasourceKind { client }
    }

    fn forbidden(err: HandlerError) -> HandlerError {
        if err.kind == HandlerErrorKind::Unauthorized {
            HandlerError::new(
                HandlerErrorKind::Unauthorized,
                format!("{}; managing data sources needs an org Admin API key or user (Grafana 8)", err.message),
            )
        } else {
            err
        }
    }

    async fn read_uid(&self, uid: &str) -> Result<Option<GrafanaDatasource>, HandlerError> {
        match self.client.get(&["api", "datasources", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.parse("GET /api/datasources/uid/:uid")?)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(DatasourceKind::forbidden(err)),
        }
    }

    /// The write body; `uid` is the one to write (an adopted data source keeps Grafana's).
    fn body(desired: &Datasource, uid: String, version: Option<i64>) -> Result<Value, HandlerError> {
        let body = Body {
            name: &desired.name,
            type_: &desired.type_,
            access: desired.access.as_deref().unwrap_or("proxy"),
            url: desired.url.as_deref().unwrap_or_default(),
            database: desired.database.as_deref().unwrap_or_default(),
            user: desired.user.as_deref().unwrap_or_default(),
            basic_auth_user: desired.basic_auth_user.as_deref().unwrap_or_default(),
            basic_auth: desired.basic_auth.unwrap_or(false),
            with_credentials: desired.with_credentials.unwrap_or(false),
            is_default: desired.is_default.unwrap_or(false),
            json_data: desired.json_data.clone().map_or_else(checks::empty_table, Value::Object),
            secure_json_data: desired.secure_json_data.as_ref(),
            uid,
            version,
        };
        serde_json::to_value(body).map_err(|err| HandlerError::new(HandlerErrorKind::Other, err.to_string()))
    }
}

/// The uid a data source gets: the one its definition names, else one derived from the id.
fn uid_of(id: &ObjectId, desired: &Datasource) -> String {
    desired.uid.clone().unwrap_or_else(|| crate::folder::derived_uid(&id.local_id))
}

fn datasource_object(source: GrafanaDatasource) -> RemoteObject {
    let adoption_key = source.name.clone().unwrap_or_default();
    let remote_id = source.uid.clone();
    RemoteObject {
        remote_id,
        adoption_key: Some(adoption_key),
        fields: mac_core::JsonText::from_serialize(&source).unwrap_or_default(),
        part_ids: Default::default(),
    }
}

#[async_trait]
impl Kind for DatasourceKind {
    type Desired = Datasource;
    type Remote = GrafanaDatasource;
    type Comparable = ComparableDatasource;
    type Context = ();

    fn validate(&self, desired: &Datasource) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::non_empty(&[("name", &desired.name), ("type", &desired.type_)], &mut errors);
        if let Some(access) = &desired.access
            && !matches!(access.as_str(), "proxy" | "direct")
        {
            errors.push(FieldError::at(
                "/access",
                "`access` must be \"proxy\" (the server queries) or \"direct\" (the browser does)",
            ));
        }
        checks::valid_uid(desired.uid.as_deref(), &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secure_json_data/*"]
    }

    /// Data sources made by hand are recognised by their name, unique per org.
    fn adoption_key(&self, _id: &ObjectId, desired: &Datasource, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &Datasource,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableDatasource, FieldError> {
        // Secret values are compared by digest in the engine; here only which keys are set.
        Ok(ComparableDatasource {
            name: desired.name.clone(),
            type_: desired.type_.clone(),
            access: access(Some(desired.access.as_deref().unwrap_or("proxy"))),
            url: text(desired.url.as_deref()),
            database: text(desired.database.as_deref()),
            user: text(desired.user.as_deref()),
            basic_auth_user: text(desired.basic_auth_user.as_deref()),
            basic_auth: flag(desired.basic_auth),
            with_credentials: flag(desired.with_credentials),
            is_default: flag(desired.is_default),
            json_data: json_data(desired.json_data.clone().map_or_else(checks::empty_table, Value::Object)),
            uid: desired.uid.clone(),
            secure_json_fields: checks::desired_secret_keys(desired.secure_json_data.as_ref()),
        })
    }

    fn observed(&self, remote: &Remote<'_, GrafanaDatasource>) -> ComparableDatasource {
        ComparableDatasource::observed(remote)
    }

    /// The uid only when the definition names one (an adopted data source keeps Grafana's),
    /// and of the stored secret keys those the definition sets: Grafana keeps stored secrets
    /// a write does not mention.
    fn observed_for(
        &self,
        remote: &Remote<'_, GrafanaDatasource>,
        desired: &ComparableDatasource,
    ) -> ComparableDatasource {
        let observed = ComparableDatasource::observed(remote);
        let wanted = desired.secure_json_fields.as_deref().unwrap_or_default();
        ComparableDatasource {
            uid: if desired.uid.is_some() { observed.uid } else { None },
            secure_json_fields: checks::compared_secret_keys(&remote.fields.secure_json_fields, wanted),
            ..observed
        }
    }

    fn describe(&self, remote: &Remote<'_, GrafanaDatasource>) -> String {
        let source = &remote.fields;
        format!(
            "{} data source {:?}, uid {:?}",
            source.type_.as_deref().unwrap_or_default(),
            source.name.as_deref().unwrap_or_default(),
            remote.remote_id()
        )
    }

    fn import(
        &self,
        remote: &Remote<'_, GrafanaDatasource>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let source = &remote.fields;
        if source.read_only {
            // Provisioned by Grafana's own files: not mac's to manage.
            return None;
        }
        let name = source.name.clone()?;
        let observed = ComparableDatasource::observed(remote);
        let definition = Datasource {
            name: name.clone(),
            type_: observed.type_,
            access: observed.access,
            url: observed.url,
            database: observed.database,
            user: observed.user,
            basic_auth_user: observed.basic_auth_user,
            basic_auth: observed.basic_auth,
            with_credentials: observed.with_credentials,
            is_default: observed.is_default,
            json_data: observed.json_data.and_then(|json_data| json_data.as_object().cloned()),
            uid: Some(remote.remote_id().to_owned()),
            secure_json_data: None,
        };
        checks::imported_with_secrets(
            definition,
            "secure_json_data",
            &source.secure_json_fields,
            &["datasource", &name],
            &name,
            "datasources",
        )
    }

    fn links(&self, remote: &Remote<'_, GrafanaDatasource>) -> Links {
        Links { title: remote.fields.name.clone(), ..Links::default() }
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let answer = self.client.get(&["api", "datasources"], &[]).await.map_err(DatasourceKind::forbidden)?;
        let uids: Vec<String> =
            answer.parse::<Vec<Listed>>("GET /api/datasources")?.into_iter().filter_map(|listed| listed.uid).collect();
        let mut sources = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(CONCURRENT_READS) {
            for read in join_all(chunk.iter().map(|uid| self.read_uid(uid))).await {
                if let Some(source) = read? {
                    sources.push(datasource_object(source));
                }
            }
        }
        Ok(sources)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.read_uid(remote_id).await?.map(datasource_object))
    }

    /// The list lacks secret keys, so listing reads each data source: a saved plan re-reads
    /// only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the name: `GET /api/datasources/name/:name` (pkg/api/api.go).
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "datasources", "name", key], &[]).await {
            Ok(answer) => Ok(Some(datasource_object(answer.parse("GET /api/datasources/name/:name")?))),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(DatasourceKind::forbidden(err)),
        }
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &Datasource,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        match current {
            None => self.create(id, desired).await,
            Some(current) => self.update(current, desired).await,
        }
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        match self
            .client
            .send(Method::DELETE, self.client.url(&["api", "datasources", "uid", &current.remote_id], &[]), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(DatasourceKind::forbidden(err)),
        }
    }
}

impl DatasourceKind {
    async fn create(&self, id: &ObjectId, desired: &Datasource) -> Result<RemoteObject, HandlerError> {
        let uid = uid_of(id, desired);
        let body = DatasourceKind::body(desired, uid.clone(), None)?;
        match self.client.send(Method::POST, self.client.url(&["api", "datasources"], &[]), Some(&body)).await {
            Ok(answer) => Ok(datasource_object(answer.parse::<Written>("POST /api/datasources")?.datasource)),
            // A create retried after a lost answer finds its own data source by uid.
            Err(err) if err.kind == HandlerErrorKind::Conflict => match self.read_uid(&uid).await? {
                Some(existing) if existing.name.as_deref() == Some(desired.name.as_str()) => {
                    Ok(datasource_object(existing))
                }
                _ => Err(err.at("/name")),
            },
            Err(err) => Err(DatasourceKind::forbidden(err).at("/name")),
        }
    }

    async fn update(&self, current: &RemoteObject, desired: &Datasource) -> Result<RemoteObject, HandlerError> {
        let existing = self.read_uid(&current.remote_id).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("data source {} was deleted since the plan; plan again", current.remote_id),
            )
        })?;
        if existing.read_only {
            return Err(HandlerError::new(
                HandlerErrorKind::Conflict,
                format!(
                    "data source `{}` is provisioned by Grafana's configuration files (read-only); change it there, or remove it from mac",
                    existing.name.as_deref().unwrap_or_default()
                ),
            ));
        }
        let id = existing.id.unwrap_or_default().to_string();
        // An adopted data source keeps the uid Grafana gave it.
        let uid = desired.uid.clone().unwrap_or_else(|| current.remote_id.clone());
        let body = DatasourceKind::body(desired, uid, existing.version)?;
        // There is no PUT by uid in 8.5 (API.md §4.1): by id, with the version read just now.
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "datasources", &id], &[]), Some(&body))
            .await
            .map_err(DatasourceKind::forbidden)?;
        Ok(datasource_object(answer.parse::<Written>("PUT /api/datasources/:id")?.datasource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_parse_as_written_as_compared_and_as_revealed() {
        let parse = |secrets: Value| {
            serde_json::from_value::<Datasource>(
                json!({ "name": "M", "type": "prometheus", "secure_json_data": secrets }),
            )
        };
        let written = parse(json!({ "basicAuthPassword": { "env": "PASSWORD" } })).expect("a reference");
        assert_eq!(written.secure_json_data.expect("secrets")["basicAuthPassword"], SecretField::env("PASSWORD"));
        let stripped = parse(json!({})).expect("the engine strips secret values before comparing");
        assert_eq!(stripped.secure_json_data, Some(BTreeMap::new()));
        let revealed = parse(json!({ "basicAuthPassword": "hunter2" })).expect("a revealed value");
        let revealed = revealed.secure_json_data.expect("secrets");
        assert_eq!(revealed["basicAuthPassword"], SecretField::Revealed("hunter2".to_owned()));
        assert!(!format!("{revealed:?}").contains("hunter2"), "never printed");
        let error = parse(json!({ "basicAuthPassword": 5 })).expect_err("neither");
        assert!(error.to_string().contains("never written inline"), "{error}");
    }

    #[test]
    fn the_comparable_form_leaves_out_what_a_write_defaults() {
        let kind = DatasourceKind::new(Arc::new(crate::client::unreachable()));
        let desired: Datasource = serde_json::from_value(json!({
            "name": "M", "type": "prometheus", "url": "http://p:9090", "access": "proxy", "basic_auth": false,
            "is_default": true, "json_data": { "httpMethod": "POST" },
        }))
        .expect("parses");
        let id = ObjectId::new("grafana8", "datasource", "m");
        struct NoRefs;
        impl Resolver for NoRefs {
            fn resolve(&self, _reference: &mac_core::LocalRef) -> Option<mac_core::Resolved<'_>> {
                None
            }
        }
        let compared = kind.desired(&id, &desired, &NoRefs, &()).expect("compares");
        assert_eq!(
            serde_json::to_value(compared).expect("serialises"),
            json!({ "name": "M", "type": "prometheus", "url": "http://p:9090", "is_default": true, "json_data": { "httpMethod": "POST" } })
        );
    }
}
