//! `datasource`: a Grafana data source (`/api/datasources`, API.md §4). Needs an org Admin
//! credential, as Grafana 8 requires for data source reads and writes.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::sync::Arc;

use futures::future::join_all;
use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::checks;
use crate::client::Client;

/// Data source reads fetched at once: the list lacks `secureJsonFields` and `basicAuthUser`,
/// so each data source is read in full (data sources are few, unlike rules).
const CONCURRENT_READS: usize = 8;

#[derive(Debug)]
pub struct DatasourceHandler {
    client: Arc<Client>,
}

const STRING_FIELDS: [(&str, &str); 7] = [
    ("name", "name"),
    ("type", "type"),
    ("access", "access"),
    ("url", "url"),
    ("database", "database"),
    ("user", "user"),
    ("basic_auth_user", "basicAuthUser"),
];
const BOOL_FIELDS: [(&str, &str); 3] =
    [("basic_auth", "basicAuth"), ("with_credentials", "withCredentials"), ("is_default", "isDefault")];
const KNOWN_FIELDS: [&str; 13] = [
    "name",
    "type",
    "access",
    "url",
    "database",
    "user",
    "basic_auth_user",
    "basic_auth",
    "with_credentials",
    "is_default",
    "json_data",
    "secure_json_data",
    "uid",
];

impl DatasourceHandler {
    pub fn new(client: Arc<Client>) -> DatasourceHandler {
        DatasourceHandler { client }
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

    async fn read_uid(&self, uid: &str) -> Result<Option<Value>, HandlerError> {
        match self.client.get(&["api", "datasources", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(DatasourceHandler::forbidden(err)),
        }
    }

    /// The write body (API.md §4.2): every field, so that a PUT, which replaces, keeps none
    /// of the server's old values by accident; secrets revealed by the engine.
    fn body(desired: &DesiredObject, version: Option<&Value>) -> Value {
        let fields = &desired.fields;
        let mut body = Map::new();
        for (field, api) in STRING_FIELDS {
            let default = if field == "access" { "proxy" } else { "" };
            body.insert(api.to_owned(), json!(fields.get(field).and_then(Value::as_str).unwrap_or(default)));
        }
        for (field, api) in BOOL_FIELDS {
            body.insert(api.to_owned(), json!(fields.get(field).and_then(Value::as_bool).unwrap_or(false)));
        }
        // An omitted jsonData would wipe it on update (API.md §4.4).
        body.insert("jsonData".to_owned(), fields.get("json_data").cloned().unwrap_or_else(|| json!({})));
        if let Some(secure) = fields.get("secure_json_data") {
            body.insert("secureJsonData".to_owned(), secure.clone());
        }
        body.insert("uid".to_owned(), json!(uid_of(desired)));
        if let Some(version) = version {
            body.insert("version".to_owned(), version.clone());
        }
        Value::Object(body)
    }
}

/// The uid a data source gets: the one its definition names, else one derived from the id.
fn uid_of(desired: &DesiredObject) -> String {
    desired
        .fields
        .get("uid")
        .and_then(Value::as_str)
        .map_or_else(|| crate::folder::derived_uid(&desired.id.local_id), str::to_owned)
}

fn datasource_object(body: &Value) -> RemoteObject {
    let uid = body.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut fields = body.clone();
    if let Value::Object(map) = &mut fields {
        // Grafana 8 still echoes the legacy plaintext passwords (API.md §4.3): they must not
        // travel on into plans, saved plans or logs.
        map.remove("password");
        map.remove("basicAuthPassword");
    }
    RemoteObject { remote_id: uid, adoption_key: Some(name), fields, part_ids: Default::default() }
}

/// The comparable form of a data source, from definition fields (`api` false) or from
/// Grafana's JSON (`api` true).
fn comparable(source: &Map<String, Value>, api: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (field, api_name) in STRING_FIELDS {
        let key = if api { api_name } else { field };
        let default = if field == "access" { "proxy" } else { "" };
        out.insert(field.to_owned(), json!(source.get(key).and_then(Value::as_str).unwrap_or(default)));
    }
    for (field, api_name) in BOOL_FIELDS {
        let key = if api { api_name } else { field };
        out.insert(field.to_owned(), json!(source.get(key).and_then(Value::as_bool).unwrap_or(false)));
    }
    let json_data = source.get(if api { "jsonData" } else { "json_data" }).cloned().unwrap_or_else(|| json!({}));
    out.insert("json_data".to_owned(), json_data);
    out
}

/// An observed data source in the comparable form, defaults still in.
fn observed_comparable(remote: &RemoteObject) -> Value {
    let source = remote.fields.as_object().cloned().unwrap_or_default();
    let mut out = comparable(&source, true);
    out.insert("uid".to_owned(), json!(remote.remote_id));
    out.insert("secure_json_fields".to_owned(), checks::stored_secret_keys(source.get("secureJsonFields")));
    Value::Object(out)
}

/// A comparable data source without the values a write gets when the definition leaves
/// them out, so that a plan never shows them. The strings and flags are the Go zero values
/// of pkg/models/datasource.go:74-90 (AddDataSourceCommand, v8.5.4), `access` the `proxy`
/// mac writes (as Grafana's provisioning does: pkg/services/provisioning/datasources/
/// config_reader.go:137-139), `json_data` the `{}` mac writes, no secret keys stored.
fn without_defaults(mut source: Value) -> Value {
    use mac_core::diff::remove_default;
    remove_default(&mut source, "/access", &json!("proxy"));
    for (field, _) in STRING_FIELDS.iter().filter(|(field, _)| !matches!(*field, "name" | "type" | "access")) {
        remove_default(&mut source, &format!("/{field}"), &json!(""));
    }
    for (field, _) in BOOL_FIELDS {
        remove_default(&mut source, &format!("/{field}"), &json!(false));
    }
    remove_default(&mut source, "/json_data", &json!({}));
    remove_default(&mut source, "/secure_json_fields", &json!([]));
    source
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for DatasourceHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::unknown_keys(fields, "", &KNOWN_FIELDS, &mut errors);
        checks::required_strings(fields, &["name", "type"], &mut errors);
        let strings: Vec<&str> = STRING_FIELDS.iter().map(|(field, _)| *field).collect();
        let bools: Vec<&str> = BOOL_FIELDS.iter().map(|(field, _)| *field).collect();
        checks::typed(fields, &strings, &bools, &["json_data", "secure_json_data"], &mut errors);
        if let Some(access) = fields.get("access").and_then(Value::as_str)
            && !matches!(access, "proxy" | "direct")
        {
            errors.push(FieldError::at(
                "/access",
                "`access` must be \"proxy\" (the server queries) or \"direct\" (the browser does)",
            ));
        }
        checks::uid(fields, &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secure_json_data/*"]
    }

    /// Data sources made by hand are recognised by their name, unique per org.
    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        desired.fields.get("name").and_then(Value::as_str).map(str::to_owned)
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        let mut out = comparable(&desired.fields, false);
        if let Some(uid) = desired.fields.get("uid") {
            out.insert("uid".to_owned(), uid.clone());
        }
        // Secret values are compared by digest in the engine; here only which keys are set.
        out.insert(
            "secure_json_fields".to_owned(),
            checks::defined_secret_keys(desired.fields.get("secure_json_data")),
        );
        Ok(without_defaults(Value::Object(out)))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        without_defaults(observed_comparable(remote))
    }

    fn observed_for(&self, remote: &RemoteObject, desired: &Value) -> Value {
        // Narrowed to the secret keys the definition sets before the defaults go: none left
        // is the default.
        without_defaults(checks::observed_against(observed_comparable(remote), desired, "secure_json_fields"))
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let field = |key: &str| remote.fields.get(key).and_then(Value::as_str).unwrap_or_default();
        format!("{} data source {:?}, uid {:?}", field("type"), field("name"), remote.remote_id)
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let source = remote.fields.as_object()?;
        if source.get("readOnly").and_then(Value::as_bool) == Some(true) {
            // Provisioned by Grafana's own files: not mac's to manage.
            return None;
        }
        let name = source.get("name")?.as_str()?.to_owned();
        let comparable = comparable(source, true);
        let mut fields = Map::new();
        for (key, value) in comparable {
            let default = matches!(&value, Value::String(text) if text.is_empty())
                || value == json!(false)
                || (key == "access" && value == json!("proxy"))
                || (key == "json_data" && value == json!({}));
            if !default {
                fields.insert(key, value);
            }
        }
        fields.insert("uid".to_owned(), json!(remote.remote_id));
        // Grafana never returns secure values: a placeholder per stored key, for the user to set.
        if let Some(secrets) = crate::secret_placeholders(source.get("secureJsonFields"), &["datasource", &name]) {
            fields.insert("secure_json_data".to_owned(), secrets);
        }
        let slug = crate::slug(&name);
        Some(mac_core::ImportedFields {
            local_id: slug,
            fields,
            file: "datasources".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    fn links(&self, remote: &RemoteObject) -> mac_core::Links {
        crate::links::datasource(remote)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let answer = self.client.get(&["api", "datasources"], &[]).await.map_err(DatasourceHandler::forbidden)?;
        let uids: Vec<String> = answer
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|source| source.get("uid").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let mut sources = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(CONCURRENT_READS) {
            for read in join_all(chunk.iter().map(|uid| self.read_uid(uid))).await {
                if let Some(body) = read? {
                    sources.push(datasource_object(&body));
                }
            }
        }
        Ok(sources)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.read_uid(remote_id).await?.as_ref().map(datasource_object))
    }

    /// The list lacks secret keys, so listing reads each data source: a saved plan re-reads
    /// only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the name: `GET /api/datasources/name/:name` (pkg/api/api.go).
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "datasources", "name", key], &[]).await {
            Ok(answer) => Ok(Some(datasource_object(&answer.body))),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(DatasourceHandler::forbidden(err)),
        }
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let body = DatasourceHandler::body(desired, None);
        match self.client.send(Method::POST, self.client.url(&["api", "datasources"], &[]), Some(&body)).await {
            Ok(answer) => {
                let created = answer.body.get("datasource").cloned().unwrap_or_default();
                Ok(datasource_object(&created))
            }
            // A create retried after a lost answer finds its own data source by uid.
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let uid = uid_of(desired);
                match self.read_uid(&uid).await? {
                    Some(existing) if existing.get("name") == body.get("name") => Ok(datasource_object(&existing)),
                    _ => Err(err.at("/name")),
                }
            }
            Err(err) => Err(DatasourceHandler::forbidden(err).at("/name")),
        }
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let existing = self.read_uid(&current.remote_id).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("data source {} was deleted since the plan; plan again", current.remote_id),
            )
        })?;
        if existing.get("readOnly").and_then(Value::as_bool) == Some(true) {
            return Err(HandlerError::new(
                HandlerErrorKind::Conflict,
                format!(
                    "data source `{}` is provisioned by Grafana's configuration files (read-only); change it there, or remove it from mac",
                    existing.get("name").and_then(Value::as_str).unwrap_or_default()
                ),
            ));
        }
        let id = existing.get("id").and_then(Value::as_i64).unwrap_or_default().to_string();
        let mut body = DatasourceHandler::body(desired, existing.get("version"));
        if desired.fields.get("uid").is_none()
            && let Value::Object(map) = &mut body
        {
            // An adopted data source keeps the uid Grafana gave it.
            map.insert("uid".to_owned(), json!(current.remote_id));
        }
        // There is no PUT by uid in 8.5 (API.md §4.1): by id, with the version read just now.
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "datasources", &id], &[]), Some(&body))
            .await
            .map_err(DatasourceHandler::forbidden)?;
        Ok(datasource_object(&answer.body.get("datasource").cloned().unwrap_or_default()))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        match self
            .client
            .send(Method::DELETE, self.client.url(&["api", "datasources", "uid", &current.remote_id], &[]), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(DatasourceHandler::forbidden(err)),
        }
    }
}
