//! `alertmanager_config`: the tenant's Alertmanager configuration — one document and its
//! template files, one per instance (per tenant).
//!
//! Secrets (receivers' URLs, keys and passwords; see [`SECRET_FIELDS`]) are written only as
//! references (`{ env = … }`), revealed at apply. Cortex's GET returns the document with them in
//! clear: [`list`](Kind::list) replaces each by [`mac_core::secrets::SENSITIVE`] before anything
//! else sees it, so no value reaches a plan, state or output, and a changed reference shows as a
//! changed digest. A secret changed by hand on the server is therefore not seen.
//!
//! A definition owns the whole document, or, with `shared = true`, only its parts of it
//! (`crate::shared`): the list then gives one more object per project with parts in the
//! document (remote id `alertmanager_config/shared/PROJECT`, from its owner marker), a plan
//! compares only those parts, and a write or delete reads the document again, merges and posts
//! it whole, other projects' secrets as Cortex returned them.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, RemoteObject, Resolver,
    SecretRef, async_trait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{AlertmanagerDocument, Client};
use crate::shared::{self, Inventory, List, Owned, sorted};

/// The remote id and adoption key of the one configuration of a tenant.
const ID: &str = "alertmanager_config";

/// The fields of Alertmanager's configuration that hold secrets (its `Secret` and `SecretURL`
/// types, and prometheus/common's in `http_config`), as pointers into a definition; `*` is any
/// one segment. From the versions Cortex 1.21.1 embeds: Alertmanager v0.31.1
/// (config/config.go `GlobalConfig`, config/notifiers.go) and prometheus/common v0.67.5
/// (config/http_config.go).
pub const SECRET_FIELDS: &[&str] = &[
    "/config/global/slack_api_url",
    "/config/global/smtp_auth_password",
    "/config/global/smtp_auth_secret",
    "/config/global/opsgenie_api_key",
    "/config/global/victorops_api_key",
    "/config/global/wechat_api_secret",
    "/config/global/telegram_bot_token",
    "/config/global/slack_app_token",
    "/config/global/rocketchat_token",
    "/config/global/rocketchat_token_id",
    "/config/global/smtp_tls_config/key",
    "/config/global/http_config/tls_config/key",
    "/config/global/http_config/oauth2/client_certificate_key",
    "/config/global/http_config/oauth2/tls_config/key",
    "/config/global/http_config/proxy_connect_header/*/*",
    "/config/global/http_config/http_headers/*/secrets/*",
    "/config/global/http_config/oauth2/proxy_connect_header/*/*",
    "/config/global/http_config/basic_auth/password",
    "/config/global/http_config/authorization/credentials",
    "/config/global/http_config/bearer_token",
    "/config/global/http_config/oauth2/client_secret",
    "/config/receivers/*/email_configs/*/auth_password",
    "/config/receivers/*/email_configs/*/auth_secret",
    "/config/receivers/*/email_configs/*/tls_config/key",
    "/config/receivers/*/slack_configs/*/api_url",
    "/config/receivers/*/slack_configs/*/app_token",
    "/config/receivers/*/incidentio_configs/*/alert_source_token",
    "/config/receivers/*/msteamsv2_configs/*/webhook_url",
    "/config/receivers/*/mattermost_configs/*/webhook_url",
    "/config/receivers/*/rocketchat_configs/*/token",
    "/config/receivers/*/rocketchat_configs/*/token_id",
    "/config/receivers/*/pagerduty_configs/*/routing_key",
    "/config/receivers/*/pagerduty_configs/*/service_key",
    "/config/receivers/*/opsgenie_configs/*/api_key",
    "/config/receivers/*/victorops_configs/*/api_key",
    "/config/receivers/*/pushover_configs/*/user_key",
    "/config/receivers/*/pushover_configs/*/token",
    "/config/receivers/*/wechat_configs/*/api_secret",
    "/config/receivers/*/webhook_configs/*/url",
    "/config/receivers/*/telegram_configs/*/bot_token",
    "/config/receivers/*/discord_configs/*/webhook_url",
    "/config/receivers/*/msteams_configs/*/webhook_url",
    "/config/receivers/*/sns_configs/*/sigv4/secret_key",
    "/config/receivers/*/*/*/http_config/basic_auth/password",
    "/config/receivers/*/*/*/http_config/authorization/credentials",
    "/config/receivers/*/*/*/http_config/bearer_token",
    "/config/receivers/*/*/*/http_config/oauth2/client_secret",
    "/config/receivers/*/*/*/http_config/tls_config/key",
    "/config/receivers/*/*/*/http_config/oauth2/client_certificate_key",
    "/config/receivers/*/*/*/http_config/oauth2/tls_config/key",
    "/config/receivers/*/*/*/http_config/proxy_connect_header/*/*",
    "/config/receivers/*/*/*/http_config/http_headers/*/secrets/*",
    "/config/receivers/*/*/*/http_config/oauth2/proxy_connect_header/*/*",
];

/// A tenant's Alertmanager configuration, as a `cortex.alertmanager_config` definition writes
/// it (one per instance).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["config"]))]
pub struct AlertmanagerConfig {
    /// Own only the parts defined here — receivers, the root route's child routes (`route.routes`,
    /// known by their matchers), `templates` entries, template files, time intervals and inhibit
    /// rules — and keep the rest of the tenant's document (other projects' parts and secrets) on
    /// every write. Needs the project's name (`project = "…"` in mac.toml), which marks the parts
    /// in the document. Default `false`: the definition is the whole document.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    /// Alertmanager's configuration document as a table (`global`, `route`, `receivers`,
    /// `inhibit_rules`, `templates`, …; Alertmanager's YAML keys). Secret fields, such as a
    /// webhook's `url` or a Slack `api_url`, only as `{ env = "VAR" }` or `{ file = "path" }`.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Notification template files by name (the names `config.templates` lists): the text, or
    /// `{ file = "templates/x.tmpl" }`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub template_files: IndexMap<String, TemplateFile>,
}

/// A template file's text: inline, or `{ file = "templates/x.tmpl" }`.
pub type TemplateFile = mac_core::TextFile;

/// The configuration as `list` records it: the document parsed, secrets replaced by
/// [`mac_core::secrets::SENSITIVE`], and the template files.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct StoredConfig {
    #[serde(default)]
    config: Value,
    #[serde(default)]
    template_files: IndexMap<String, String>,
    /// For one project's parts of a shared document: whose, and which (its owner marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared: Option<SharedPart>,
}

/// One project's parts of a shared document, as its owner marker lists them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SharedPart {
    project: String,
    owned: Owned,
}

/// The comparable form: the document without its secret fields (their digests are compared by
/// the engine), keys sorted, and each template file's text.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableConfig {
    config: Value,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    template_files: BTreeMap<String, Option<String>>,
}

/// The kind of one tenant's configuration.
#[derive(Debug)]
pub(crate) struct AlertmanagerConfigKind {
    client: Arc<Client>,
    /// The project's name (`project = "…"` in mac.toml).
    project: Option<String>,
    /// The name that marks this instance's parts of a shared document: the project's, followed
    /// by `@NAME` for an instance `cortex.NAME`, so that two instances of one project sharing a
    /// tenant are two owners.
    owner: Option<String>,
}

impl AlertmanagerConfigKind {
    pub(crate) fn new(client: Arc<Client>, project: Option<String>, instance: &str) -> AlertmanagerConfigKind {
        let owner = project.as_ref().map(|project| match instance.strip_prefix("cortex.") {
            // `@`, which a project name of a shared configuration may not hold: project `team`
            // with instance `cortex.b` and project `team.b` are two owners.
            Some(name) => format!("{project}@{name}"),
            None => project.clone(),
        });
        AlertmanagerConfigKind { client, project, owner }
    }
}

/// Whether `pointer` is one of [`SECRET_FIELDS`] (`*`: any one segment).
fn is_secret(pointer: &str) -> bool {
    SECRET_FIELDS.iter().any(|pattern| {
        pattern.split('/').count() == pointer.split('/').count()
            && pattern.split('/').zip(pointer.split('/')).all(|(want, have)| want == "*" || want == have)
    })
}

/// `value` (at `pointer`) with every secret field replaced by what `replace` makes of its pointer,
/// or left out when it makes nothing.
fn map_secrets(value: Value, pointer: &str, replace: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
    if is_secret(pointer) {
        return replace(pointer);
    }
    Some(match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(key, child)| {
                    let child = map_secrets(child, &format!("{pointer}/{}", escape(&key)), replace)?;
                    Some((key, child))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .filter_map(|(index, child)| map_secrets(child, &format!("{pointer}/{index}"), replace))
                .collect(),
        ),
        other => other,
    })
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The document without its secrets, for comparison.
/// A URL's password is compared as the list shows it, masked (see [`redacted`]).
fn without_secrets(config: Value) -> Value {
    sorted(without_url_passwords(map_secrets(config, "/config", &|_| None).unwrap_or(Value::Null)))
}

/// Every receiver a route names is defined: a route to an undefined receiver is refused by
/// Alertmanager, and Cortex would refuse the whole document.
fn check_receivers(config: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let defined: Vec<&str> = config
        .get("receivers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|receiver| receiver.get("name").and_then(Value::as_str))
        .collect();
    let Some(route) = config.get("route") else {
        errors.push(FieldError::at("/config", "the configuration needs a `route` (with its `receiver`)"));
        return errors;
    };
    if route.get("receiver").is_none() {
        errors.push(FieldError::at("/config/route", "the top `route` needs a `receiver`"));
    }
    fn walk<'a>(route: &'a Value, pointer: String, found: &mut Vec<(String, &'a str)>) {
        if let Some(receiver) = route.get("receiver").and_then(Value::as_str) {
            found.push((format!("{pointer}/receiver"), receiver));
        }
        for (index, child) in route.get("routes").and_then(Value::as_array).into_iter().flatten().enumerate() {
            walk(child, format!("{pointer}/routes/{index}"), found);
        }
    }
    let mut named = Vec::new();
    walk(route, "/config/route".to_owned(), &mut named);
    for (pointer, receiver) in named {
        if !defined.contains(&receiver) {
            let known = if defined.is_empty() { "none".to_owned() } else { defined.join(", ") };
            errors.push(FieldError::at(
                pointer,
                format!("receiver `{receiver}` is not defined in `receivers` (defined: {known})"),
            ));
        }
    }
    errors
}

/// The environment variable an import names for a secret: `CORTEX_RECEIVERS_OPS_SLACK_CONFIGS_1_API_URL`.
fn secret_variable(pointer: &str, config: &Value) -> String {
    let mut name = String::from("CORTEX");
    let mut segments: Vec<String> = Vec::new();
    let mut current = Some(config);
    for segment in pointer.trim_start_matches("/config/").split('/') {
        // A receiver is named by its name rather than its position.
        let next = current.and_then(|value| match value {
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|index| items.get(index)),
            Value::Object(map) => map.get(segment),
            _ => None,
        });
        match next.and_then(|value| value.get("name")).and_then(Value::as_str) {
            Some(receiver) if segments.last().is_some_and(|last| last == "receivers") => {
                segments.push(receiver.to_owned())
            }
            _ => segments.push(segment.to_owned()),
        }
        current = next;
    }
    for segment in segments {
        let word: String =
            segment.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        let word = word.trim_matches('_');
        if !word.is_empty() {
            name.push('_');
            name.push_str(word);
        }
    }
    name
}

/// The remote id and adoption key of `project`'s parts of a shared document.
fn shared_id(project: &str) -> String {
    format!("{ID}/shared/{project}")
}

fn remote_object(remote_id: String, stored: &StoredConfig) -> RemoteObject {
    let fields = match serde_json::to_value(stored) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    RemoteObject {
        adoption_key: Some(remote_id.clone()),
        remote_id,
        fields: mac_core::JsonText::from_map(&fields),
        part_ids: Default::default(),
    }
}

fn remote(config: Value, template_files: IndexMap<String, String>) -> RemoteObject {
    remote_object(ID.to_owned(), &StoredConfig { config, template_files, shared: None })
}

/// The document's objects: the whole document, and each project's parts of it (one per owner
/// marker). `config` is already redacted.
fn remotes(config: &Value, template_files: &IndexMap<String, String>) -> Vec<RemoteObject> {
    let mut objects = vec![remote(config.clone(), template_files.clone())];
    for (project, owned) in shared::markers(template_files) {
        let stored = StoredConfig {
            config: config.clone(),
            template_files: template_files.clone(),
            shared: Some(SharedPart { project: project.clone(), owned }),
        };
        objects.push(remote_object(shared_id(&project), &stored));
    }
    objects
}

/// The document's secrets replaced by the marker, before anything else sees them; and the
/// password of any URL that carries one (`proxy_url`, a receiver's `api_url` are not secret
/// fields, but prometheus/common keeps a URL's userinfo password secret too).
fn redacted(config: Value) -> Value {
    let config = map_secrets(config, "/config", &|_| Some(Value::String(mac_core::secrets::SENSITIVE.to_owned())))
        .unwrap_or(Value::Null);
    without_url_passwords(config)
}

fn without_url_passwords(value: Value) -> Value {
    match value {
        Value::String(text) if text.contains("://") && text.contains('@') => {
            match mac_provider_kit::reqwest::Url::parse(&text) {
                Ok(mut url) if url.password().is_some() => {
                    let _ = url.set_password(Some(mac_core::secrets::SENSITIVE));
                    Value::String(url.to_string())
                }
                _ => Value::String(text),
            }
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(key, child)| (key, without_url_passwords(child))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_url_passwords).collect()),
        other => other,
    }
}

/// The keys a shared configuration may set, at the top of its document.
const SHARED_KEYS: [&str; 6] =
    ["receivers", "route", "templates", "time_intervals", "mute_time_intervals", "inhibit_rules"];

const SHARED_OWNS: &str = "a shared configuration (shared = true) owns only its receivers, the root route's child \
                           routes (`route.routes`), `templates` entries, template files, time intervals and inhibit rules";

/// What a shared configuration may not say, and what it must, offline.
fn check_shared(project: Option<&str>, desired: &AlertmanagerConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match project {
        None => errors.push(FieldError::at(
            "/shared",
            "a shared configuration needs this project's name (`project = \"…\"` in mac.toml): it marks which parts \
             of the tenant's document are this project's",
        )),
        Some(project) if project.is_empty() || project.contains(['/', '\\', '*', '"']) || project.contains("..") => {
            errors.push(FieldError::at(
                "/shared",
                format!(
                    "project name `{project}` cannot name its owner marker (a template file `mac-owner.NAME.tmpl`): use \
                     letters, digits, `-`, `_` or `.`"
                ),
            ))
        }
        Some(_) => {}
    }
    for (index, receiver) in List::Receivers.items(&Value::Object(desired.config.clone())).iter().enumerate() {
        if List::Receivers.key(receiver).as_deref() == Some(shared::DEFAULT_RECEIVER) {
            errors.push(FieldError::at(
                format!("/config/receivers/{index}/name"),
                format!(
                    "`{}` is the receiver of the tenant's root route when mac makes the document: a shared \
                     configuration may not own it (every team's unmatched alerts would go to it); choose another name",
                    shared::DEFAULT_RECEIVER
                ),
            ));
        }
    }
    for key in desired.config.keys() {
        if !SHARED_KEYS.contains(&key.as_str()) {
            errors.push(FieldError::at(
                format!("/config/{}", escape(key)),
                format!(
                    "`{key}` is the whole tenant's: {SHARED_OWNS}; set it in a configuration that owns the whole \
                     document, or by hand"
                ),
            ));
        }
    }
    if let Some(route) = desired.config.get("route").and_then(Value::as_object) {
        for key in route.keys().filter(|key| *key != "routes") {
            errors.push(FieldError::at(
                format!("/config/route/{}", escape(key)),
                format!("the root route's `{key}` is the whole tenant's: {SHARED_OWNS}"),
            ));
        }
    }
    let config = Value::Object(desired.config.clone());
    for list in List::ALL {
        let mut seen = std::collections::BTreeSet::new();
        for (index, item) in list.items(&config).iter().enumerate() {
            let pointer = format!("/config{}/{index}", list.pointer());
            match list.key(item) {
                None if list == List::Routes => errors.push(FieldError::at(
                    pointer,
                    "a shared configuration's route needs `matchers` (or `match`/`match_re`): they are what \
                     identifies it as this project's",
                )),
                None => errors.push(FieldError::at(pointer, format!("a {} needs a `name`", list.singular()))),
                Some(key) if !seen.insert(key.clone()) => {
                    errors.push(FieldError::at(pointer, format!("{} `{key}` is defined twice", list.singular())))
                }
                Some(_) => {}
            }
        }
    }
    for name in desired.template_files.keys().filter(|name| shared::is_marker_name(name)) {
        errors.push(FieldError::at(
            format!("/template_files/{}", escape(name)),
            "template files named `mac-owner.…` are mac's owner markers",
        ));
    }
    errors
}

/// A shared configuration against the tenant's document as the plan read it: no part another
/// project (or nobody) has, every route's receiver defined here or there, and no receiver this
/// project gives up while another's route still uses it.
fn check_claims(project: &str, desired: &AlertmanagerConfig, inventory: &Inventory) -> Result<(), FieldError> {
    let config = Value::Object(desired.config.clone());
    // `templates` entries are shared (see `shared`): listing another's is no claim.
    for list in List::ALL.into_iter().filter(|list| *list != List::Templates) {
        for (index, item) in list.items(&config).iter().enumerate() {
            let Some(key) = list.key(item) else { continue };
            if let Some(owner) = inventory.owner(list.name(), &key).filter(|owner| *owner != project) {
                return Err(FieldError::at(
                    format!("/config{}/{index}", list.pointer()),
                    format!("{} `{key}` {}", list.singular(), shared::holder(owner)),
                ));
            }
        }
    }
    for name in desired.template_files.keys() {
        if let Some(owner) = inventory.owner(shared::TEMPLATE_FILES, name).filter(|owner| *owner != project) {
            return Err(FieldError::at(
                format!("/template_files/{}", escape(name)),
                format!("template file `{name}` {}", shared::holder(owner)),
            ));
        }
    }
    let defined = shared::parts(&config, std::iter::empty()).remove(List::Receivers.name()).unwrap_or_default();
    let remote_receivers = inventory.parts.get(List::Receivers.name());
    let known = |receiver: &str| {
        defined.contains(receiver)
            || remote_receivers
                .and_then(|receivers| receivers.get(receiver))
                .is_some_and(|owner| owner.as_str() != project)
    };
    let mut named = Vec::new();
    fn walk<'a>(route: &'a Value, pointer: String, found: &mut Vec<(String, &'a str)>) {
        if let Some(receiver) = route.get("receiver").and_then(Value::as_str) {
            found.push((format!("{pointer}/receiver"), receiver));
        }
        for (index, child) in route.get("routes").and_then(Value::as_array).into_iter().flatten().enumerate() {
            walk(child, format!("{pointer}/routes/{index}"), found);
        }
    }
    for (index, route) in List::Routes.items(&config).iter().enumerate() {
        walk(route, format!("/config/route/routes/{index}"), &mut named);
    }
    if let Some((pointer, receiver)) = named.into_iter().find(|(_, receiver)| !known(receiver)) {
        return Err(FieldError::at(
            pointer,
            format!(
                "receiver `{receiver}` is defined neither in `receivers` nor by another part of the tenant's \
                 Alertmanager configuration"
            ),
        ));
    }
    // Time intervals, as receivers: Alertmanager refuses a route naming one nobody defines,
    // and Cortex the whole document (the names of both lists are one namespace).
    let interval_lists = [List::TimeIntervals, List::MuteTimeIntervals];
    let defined_intervals: std::collections::BTreeSet<String> =
        interval_lists.iter().flat_map(|list| list.items(&config).iter().filter_map(|item| list.key(item))).collect();
    let remote_interval =
        |name: &str| interval_lists.iter().find_map(|list| inventory.owner(list.name(), name).map(str::to_owned));
    for (index, route) in List::Routes.items(&config).iter().enumerate() {
        for interval in shared::intervals_named(route) {
            let known = defined_intervals.contains(&interval)
                || remote_interval(&interval).is_some_and(|owner| owner != project);
            if !known {
                return Err(FieldError::at(
                    format!("/config/route/routes/{index}"),
                    format!(
                        "time interval `{interval}` is defined neither in `time_intervals`/`mute_time_intervals` nor \
                         by another part of the tenant's Alertmanager configuration"
                    ),
                ));
            }
        }
    }
    for list in interval_lists {
        let given_up =
            inventory.parts.get(list.name()).into_iter().flatten().filter(|(interval, owner)| {
                owner.as_str() == project && !defined_intervals.contains(interval.as_str())
            });
        for (interval, _) in given_up {
            if let Some(used) =
                inventory.interval_uses.iter().find(|used| used.interval == *interval && used.owner != project)
            {
                return Err(FieldError::at(
                    format!("/config/{}", list.name()),
                    format!(
                        "time interval `{interval}`, which this configuration no longer defines, is still used by {}{} \
                         of the tenant's Alertmanager configuration: keep defining it until that route changes",
                        used.route,
                        if used.owner.is_empty() { String::new() } else { format!(" (project `{}`)", used.owner) },
                    ),
                ));
            }
        }
    }
    let given_up = remote_receivers
        .into_iter()
        .flatten()
        .filter(|(receiver, owner)| owner.as_str() == project && !defined.contains(receiver.as_str()));
    for (receiver, _) in given_up {
        if let Some(used) = inventory.uses.iter().find(|used| used.receiver == *receiver && used.owner != project) {
            return Err(FieldError::at(
                if desired.config.contains_key("receivers") { "/config/receivers" } else { "/config" },
                format!(
                    "receiver `{receiver}`, which this configuration no longer defines, is still used by {}{} of the \
                     tenant's Alertmanager configuration: keep defining it until that route changes",
                    used.route,
                    if used.owner.is_empty() { String::new() } else { format!(" (project `{}`)", used.owner) },
                ),
            ));
        }
    }
    Ok(())
}

/// A definition's document and template files as Cortex gets them (secrets revealed).
fn desired_files(desired: &AlertmanagerConfig) -> Result<IndexMap<String, String>, HandlerError> {
    let mut template_files = IndexMap::new();
    for (name, file) in &desired.template_files {
        let Some(text) = file.text() else {
            return Err(HandlerError::new(HandlerErrorKind::Invalid, format!("template file `{name}` was not read"))
                .at(format!("/template_files/{}", escape(name))));
        };
        template_files.insert(name.clone(), text.to_owned());
    }
    Ok(template_files)
}

fn yaml_error() -> HandlerError {
    HandlerError::new(HandlerErrorKind::Other, "cannot write the Alertmanager configuration as YAML")
}

fn not_yaml() -> HandlerError {
    HandlerError::new(
        HandlerErrorKind::Unavailable,
        "the tenant's Alertmanager configuration on Cortex is not a YAML document",
    )
}

impl AlertmanagerConfigKind {
    /// The tenant's document as Cortex has it (secrets in clear: never kept, never quoted).
    /// The document, and what a rewrite of it would change (see [`shared::rewrite_changes`]).
    async fn read_document(&self) -> Result<Option<(shared::Document, Vec<String>)>, HandlerError> {
        let Some(document) = self.client.alertmanager_config().await? else { return Ok(None) };
        let config: Value = serde_norway::from_str(&document.alertmanager_config).map_err(|_| not_yaml())?;
        let changes = shared::rewrite_changes(&document.alertmanager_config);
        Ok(Some(((config, document.template_files), changes)))
    }

    /// `project`'s parts of the document replaced by `desired` (`None`: removed), the rest kept
    /// as read; returns `project`'s parts as now stored.
    async fn merge_and_write(
        &self,
        project: &str,
        desired: Option<shared::Parts<'_>>,
    ) -> Result<Option<RemoteObject>, HandlerError> {
        let lock = self.client.alertmanager_lock();
        let _held = lock.lock().await;
        let current = match self.read_document().await? {
            Some((_, changes)) if !changes.is_empty() => return Err(rewrite_refused(&changes)),
            current => current.map(|(document, _)| document),
        };
        let merged = shared::merge(current, project, desired)
            .map_err(|message| HandlerError::new(HandlerErrorKind::Invalid, message))?;
        let Some((config, template_files)) = merged else { return Ok(None) };
        let text = serde_norway::to_string(&config).map_err(|_| yaml_error())?;
        let document = AlertmanagerDocument { alertmanager_config: text, template_files };
        self.client.put_alertmanager_config(&document).await?;
        let config = redacted(config);
        let owned = shared::markers(&document.template_files).remove(project).unwrap_or_default();
        let stored = StoredConfig {
            config,
            template_files: document.template_files,
            shared: Some(SharedPart { project: project.to_owned(), owned }),
        };
        Ok(Some(remote_object(shared_id(project), &stored)))
    }

    /// The project a shared definition writes as (checked offline: present).
    fn project(&self) -> Result<&str, HandlerError> {
        self.owner.as_deref().ok_or_else(|| {
            HandlerError::new(HandlerErrorKind::Invalid, "a shared configuration needs `project = \"…\"` in mac.toml")
                .at("/shared")
        })
    }

    /// The objects of the document and what a plan knows of it, from one GET.
    async fn observe(&self) -> Result<(Vec<RemoteObject>, Inventory), HandlerError> {
        let Some(((config, template_files), rewrite_changes)) = self.read_document().await? else {
            return Ok((Vec::new(), Inventory::default()));
        };
        // Redacted at once; the clear text goes no further.
        let config = redacted(config);
        let mut inventory = Inventory::of(&config, &template_files);
        inventory.rewrite_changes = rewrite_changes;
        Ok((remotes(&config, &template_files), inventory))
    }
}

#[async_trait]
impl Kind for AlertmanagerConfigKind {
    type Desired = AlertmanagerConfig;
    type Remote = StoredConfig;
    type Comparable = ComparableConfig;
    type Context = Inventory;

    fn validate(&self, desired: &AlertmanagerConfig) -> Result<(), Vec<FieldError>> {
        let mut errors = if desired.shared {
            let mut errors = check_shared(self.owner.as_deref(), desired);
            if let Some(project) = self.project.as_deref().filter(|project| project.contains('@')) {
                errors.push(FieldError::at(
                    "/shared",
                    format!("project name `{project}` may not hold `@` in a shared configuration: it separates a project's name from its instance's in owner markers"),
                ));
            }
            errors
        } else {
            check_receivers(&desired.config)
        };
        let listed: Vec<&str> = desired
            .config
            .get("templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for name in desired.template_files.keys() {
            if name.contains('/') || name.is_empty() {
                errors.push(FieldError::at(
                    format!("/template_files/{}", escape(name)),
                    "a template file's name is a file name, without `/`",
                ));
            } else if !listed.is_empty()
                && !listed.iter().any(|pattern| pattern.ends_with(name.as_str()) || pattern.contains('*'))
            {
                errors.push(FieldError::at(
                    format!("/template_files/{}", escape(name)),
                    format!(
                        "template file `{name}` is not listed in `config.templates`, so Alertmanager would not read it"
                    ),
                ));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, AlertmanagerConfig)>,
    ) -> Vec<(usize, FieldError)> {
        let mut first: Option<String> = None;
        let mut errors = Vec::new();
        for (position, (id, _)) in definitions.enumerate() {
            match &first {
                None => first = Some(id.local_id.clone()),
                Some(first) => errors.push((
                    position,
                    FieldError::at(
                        "",
                        format!("a tenant has one Alertmanager configuration, and `{first}` is already it"),
                    ),
                )),
            }
        }
        errors
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        SECRET_FIELDS.to_vec()
    }

    fn text_file_fields(&self) -> Vec<&'static str> {
        vec!["/template_files/*"]
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &AlertmanagerConfig, _refs: &dyn Resolver) -> Option<String> {
        if desired.shared {
            // Each project's parts are an object of their own: a project that never wrote to
            // the tenant creates its parts, whatever others have there.
            return self.owner.as_deref().map(shared_id);
        }
        Some(ID.to_owned())
    }

    /// One document per tenant (one share per owner): a new local id for a managed
    /// configuration is refused with a `[[moved]]` hint, not planned as a create and a delete
    /// of the same document, which would leave the tenant without one.
    fn unique_key(&self, id: &ObjectId, desired: &AlertmanagerConfig) -> Option<String> {
        self.adoption_key(id, desired, &NoRefs)
    }

    fn remote_unique_key(&self, remote: &mac_core::Remote<'_, StoredConfig>) -> Option<String> {
        Some(remote.remote_id().to_owned())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &AlertmanagerConfig,
        _refs: &dyn Resolver,
        context: &Inventory,
    ) -> Result<ComparableConfig, FieldError> {
        let template_files =
            desired.template_files.iter().map(|(name, file)| (name.clone(), file.text().map(str::to_owned))).collect();
        let config = without_secrets(Value::Object(desired.config.clone()));
        if desired.shared {
            if !context.rewrite_changes.is_empty() {
                return Err(FieldError::at("/shared", rewrite_refused(&context.rewrite_changes).message));
            }
            let project = self.owner.as_deref().unwrap_or_default();
            check_claims(project, desired, context)?;
            let owned = shared::parts(&config, desired.template_files.keys());
            return Ok(ComparableConfig { config: shared::project(&config, &owned), template_files });
        }
        // Writing the whole document would take every sharing project's parts out.
        let sharing: std::collections::BTreeSet<&str> = context
            .parts
            .values()
            .flat_map(|parts| parts.values())
            .map(String::as_str)
            .filter(|owner| !owner.is_empty())
            .collect();
        if !sharing.is_empty() {
            return Err(FieldError::at(
                "",
                format!(
                    "the tenant's Alertmanager configuration is shared by {} (their `mac-owner.…tmpl` markers): a \
                     configuration of the whole document would take their parts out. Set `shared = true` to own only \
                     this definition's parts, or have them remove theirs first",
                    sharing.iter().map(|owner| format!("`{owner}`")).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(ComparableConfig { config, template_files })
    }

    fn observed(&self, remote: &mac_core::Remote<'_, StoredConfig>) -> ComparableConfig {
        match &remote.fields.shared {
            Some(part) => shared_view(&remote.fields, &part.owned),
            None => ComparableConfig {
                config: without_secrets(remote.fields.config.clone()),
                template_files: remote
                    .fields
                    .template_files
                    .iter()
                    .map(|(name, text)| (name.clone(), Some(text.clone())))
                    .collect(),
            },
        }
    }

    /// A project's parts as they are, and what its definition adds: a part it defines that
    /// the document has under another owner is refused by `desired` before this matters.
    fn observed_for(
        &self,
        remote: &mac_core::Remote<'_, StoredConfig>,
        desired: &ComparableConfig,
    ) -> ComparableConfig {
        match &remote.fields.shared {
            Some(part) => {
                let defined = shared::parts(&desired.config, desired.template_files.keys());
                shared_view(&remote.fields, &shared::union(defined, &part.owned))
            }
            None => self.observed(remote),
        }
    }

    fn owner(&self, remote: &mac_core::Remote<'_, StoredConfig>) -> Option<String> {
        match &remote.fields.shared {
            // The engine compares owners with the project's name.
            Some(part) if self.owner.as_ref() == Some(&part.project) => self.project.clone(),
            Some(part) => Some(part.project.clone()),
            // A document with owner markers is shared: not one project's to adopt whole.
            None => {
                let projects: Vec<String> = shared::markers(&remote.fields.template_files).into_keys().collect();
                (!projects.is_empty()).then(|| projects.join(", "))
            }
        }
    }

    fn describe(&self, remote: &mac_core::Remote<'_, StoredConfig>) -> String {
        if let Some(part) = &remote.fields.shared {
            let count = |list: &str| part.owned.get(list).map_or(0, std::collections::BTreeSet::len);
            return format!(
                "project `{}`'s parts of the tenant's Alertmanager configuration: {} receiver(s), {} route(s), {} \
                 template file(s)",
                part.project,
                count(List::Receivers.name()),
                count(List::Routes.name()),
                count(shared::TEMPLATE_FILES)
            );
        }
        let receivers = remote.fields.config.get("receivers").and_then(Value::as_array).map_or(0, Vec::len);
        format!(
            "the tenant's Alertmanager configuration, {receivers} receiver{}",
            if receivers == 1 { "" } else { "s" }
        )
    }

    fn import(
        &self,
        remote: &mac_core::Remote<'_, StoredConfig>,
        _refs: &dyn ImportRefs,
        _context: &Inventory,
    ) -> Option<ImportedFields> {
        // A project's parts are imported with the whole document, not as a definition of
        // their own.
        if remote.fields.shared.is_some() {
            return None;
        }
        let config = remote.fields.config.clone();
        // Secrets come back as placeholders naming the variable to set.
        let original = config.clone();
        let with_references = map_secrets(config, "/config", &|pointer| {
            let env = secret_variable(pointer, &original);
            serde_json::to_value(SecretRef::Env { env }).ok()
        })?;
        let Value::Object(config) = with_references else { return None };
        let mut fields = Map::new();
        fields.insert("config".to_owned(), Value::Object(config));
        if !remote.fields.template_files.is_empty() {
            let files: Map<String, Value> = remote
                .fields
                .template_files
                .iter()
                .map(|(name, text)| (name.clone(), Value::String(text.clone())))
                .collect();
            fields.insert("template_files".to_owned(), Value::Object(files));
        }
        Some(ImportedFields {
            local_id: "alertmanager".to_owned(),
            fields,
            file: "alertmanager".to_owned(),
            scope: None,
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.observe().await?.0)
    }

    async fn list_with_context(&self) -> Result<(Vec<RemoteObject>, Inventory), HandlerError> {
        self.observe().await
    }

    async fn read_context(&self) -> Result<Inventory, HandlerError> {
        Ok(self.observe().await?.1)
    }

    async fn write(
        &self,
        _current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &AlertmanagerConfig,
        _refs: &dyn Resolver,
        _context: &Inventory,
    ) -> Result<RemoteObject, HandlerError> {
        let template_files = desired_files(desired)?;
        if desired.shared {
            let project = self.project()?;
            // Read again, merged, posted whole: what others changed since the plan is kept.
            return self.merge_and_write(project, Some((&desired.config, &template_files))).await?.ok_or_else(|| {
                HandlerError::new(HandlerErrorKind::Other, "the shared configuration's merge wrote nothing")
            });
        }
        let text = serde_norway::to_string(&desired.config).map_err(|_| yaml_error())?;
        let document = AlertmanagerDocument { alertmanager_config: text, template_files };
        self.client.put_alertmanager_config(&document).await?;
        Ok(remote(redacted(Value::Object(desired.config.clone())), document.template_files))
    }

    /// The whole document is deleted; a project's parts of a shared one are taken out of it,
    /// and the rest posted back (Cortex's DELETE is never used then).
    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let stored: StoredConfig = current.fields.parse().unwrap_or_default();
        if let Some(part) = stored.shared {
            self.merge_and_write(&part.project, None).await?;
            return Ok(());
        }
        let sharing: Vec<String> = shared::markers(&stored.template_files).into_keys().collect();
        if !sharing.is_empty() {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!(
                    "not deleting the tenant's Alertmanager configuration: it is shared by {} (their owner markers), \
                     whose parts would go with it. They remove theirs first",
                    sharing.join(", ")
                ),
            ));
        }
        self.client.delete_alertmanager_config().await
    }
}

/// The parts `wanted` names of a stored document, comparable.
fn shared_view(stored: &StoredConfig, wanted: &Owned) -> ComparableConfig {
    ComparableConfig {
        config: shared::project(&without_secrets(stored.config.clone()), wanted),
        template_files: shared::project_files(&stored.template_files, wanted),
    }
}

/// A shared write refused because it would change values of the document others wrote.
fn rewrite_refused(changes: &[String]) -> HandlerError {
    let mut lines: Vec<&str> = changes.iter().map(String::as_str).collect();
    lines.dedup();
    let shown: Vec<&str> = lines.iter().take(5).copied().collect();
    let more = if lines.len() > 5 { format!(" and {} more", lines.len() - 5) } else { String::new() };
    HandlerError::new(
        HandlerErrorKind::Invalid,
        format!(
            "the tenant's Alertmanager configuration has unquoted numbers or booleans that a rewrite would \
             change for Alertmanager (`1.10` would become `1.1`, `True` `true`), at {}{more} of its text as Cortex \
             returns it (GET /api/v1/alerts): quote them there (`\"1.10\"`), then apply; a shared configuration \
             rewrites the whole document",
            shown.join("; ")
        ),
    )
}

/// No reference resolves: the keys above depend on none.
struct NoRefs;

impl Resolver for NoRefs {
    fn resolve(&self, _reference: &mac_core::LocalRef) -> Option<mac_core::Resolved<'_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Value {
        json!({
            "route": { "receiver": "ops", "routes": [{ "receiver": "pager", "matchers": ["severity=\"page\""] }] },
            "receivers": [
                { "name": "ops", "webhook_configs": [{ "url": "http://hook.example/secret-token" }] },
                { "name": "pager", "slack_configs": [{ "api_url": "https://hooks.slack.example/T0/B0/x", "channel": "#pager" }] },
            ],
        })
    }

    #[test]
    fn secrets_are_redacted_before_anything_keeps_them() {
        let redacted = redacted(config());
        let text = redacted.to_string();
        assert!(!text.contains("secret-token") && !text.contains("hooks.slack"), "{text}");
        assert_eq!(redacted["receivers"][0]["webhook_configs"][0]["url"], mac_core::secrets::SENSITIVE);
        let proxied =
            super::redacted(json!({ "global": { "http_config": { "proxy_url": "http://user:hunter2@proxy:3128/" } } }));
        let proxy_url = proxied["global"]["http_config"]["proxy_url"].as_str().expect("a URL");
        assert!(
            !proxy_url.contains("hunter2") && proxy_url.contains("user:") && proxy_url.contains("@proxy:3128"),
            "{proxy_url}"
        );
        assert_eq!(redacted["receivers"][1]["slack_configs"][0]["channel"], "#pager");
        // Compared without them, so a redacted remote and a definition with references agree.
        let mut definition = config();
        definition["receivers"][0]["webhook_configs"][0]["url"] = json!({ "env": "HOOK" });
        assert_eq!(without_secrets(definition), without_secrets(redacted));
    }

    #[test]
    fn an_undefined_receiver_is_located() {
        let mut bad = config();
        bad["route"]["routes"][0]["receiver"] = json!("pagr");
        let errors = check_receivers(bad.as_object().expect("a map"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/config/route/routes/0/receiver");
        assert_eq!(errors[0].message, "receiver `pagr` is not defined in `receivers` (defined: ops, pager)");
        assert!(check_receivers(config().as_object().expect("a map")).is_empty());
    }

    fn shared_definition(config: Value) -> AlertmanagerConfig {
        AlertmanagerConfig {
            shared: true,
            config: config.as_object().expect("a map").clone(),
            template_files: IndexMap::new(),
        }
    }

    #[test]
    fn a_shared_configuration_owns_no_root_route_field_nor_global() {
        let desired = shared_definition(json!({
            "global": { "resolve_timeout": "5m" },
            "route": { "receiver": "b", "routes": [{ "receiver": "b" }] },
            "receivers": [{ "name": "b" }, { "name": "b" }],
        }));
        let errors = check_shared(Some("team-b"), &desired);
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/config/global", "/config/route/receiver", "/config/receivers/1", "/config/route/routes/0"],
            "{errors:?}"
        );
        assert_eq!(check_shared(None, &shared_definition(json!({})))[0].pointer, "/shared");
        assert!(check_shared(Some("a/b"), &shared_definition(json!({})))[0].message.contains("cannot name"));
    }

    #[test]
    fn a_shared_plan_refuses_another_s_part_and_an_unknown_receiver_at_their_field() {
        let mut files = IndexMap::new();
        let mut owned = Owned::new();
        owned.insert("receivers".to_owned(), ["a-hook".to_owned()].into());
        owned.insert("routes".to_owned(), ["team=\"a\"".to_owned()].into());
        files.insert(shared::marker_name("a"), shared::marker_text("a", &owned));
        let document = json!({
            "route": { "receiver": "default", "routes": [{ "receiver": "a-hook", "matchers": ["team=\"a\""] }] },
            "receivers": [{ "name": "default" }, { "name": "a-hook" }],
        });
        let inventory = Inventory::of(&document, &files);
        let takeover = shared_definition(json!({ "receivers": [{ "name": "b" }, { "name": "a-hook" }] }));
        let error = check_claims("b", &takeover, &inventory).expect_err("a's receiver");
        assert_eq!(error.pointer, "/config/receivers/1");
        assert!(error.message.starts_with("receiver `a-hook` is managed by project `a`"), "{}", error.message);
        // a's own plan may keep it; b may route to it, but not to a receiver nobody has.
        assert_eq!(check_claims("a", &takeover, &inventory), Ok(()));
        let uses = shared_definition(json!({ "route": { "routes": [
            { "receiver": "a-hook", "matchers": ["team=\"b\""] },
            { "receiver": "nobody", "matchers": ["team=\"c\""] },
        ] } }));
        let error = check_claims("b", &uses, &inventory).expect_err("an unknown receiver");
        assert_eq!(error.pointer, "/config/route/routes/1/receiver");
        // a may give up its receiver with its own route, not while a route of nobody's uses it.
        assert_eq!(check_claims("a", &shared_definition(json!({})), &inventory), Ok(()));
        let mut by_hand = document.clone();
        by_hand["route"]["routes"][0]["matchers"] = json!(["team=\"ops\""]);
        let error =
            check_claims("a", &shared_definition(json!({})), &Inventory::of(&by_hand, &files)).expect_err("still used");
        assert!(error.message.contains("is still used by route `team=\"ops\"`"), "{}", error.message);
    }

    #[test]
    fn imported_secrets_name_their_variable() {
        let variable = secret_variable("/config/receivers/1/slack_configs/0/api_url", &config());
        assert_eq!(variable, "CORTEX_RECEIVERS_PAGER_SLACK_CONFIGS_0_API_URL");
    }

    #[test]
    fn key_order_is_no_difference() {
        let a = json!({ "route": { "receiver": "x", "group_by": ["a"] }, "receivers": [{ "name": "x" }] });
        let b = json!({ "receivers": [{ "name": "x" }], "route": { "group_by": ["a"], "receiver": "x" } });
        assert_eq!(without_secrets(a).to_string(), without_secrets(b).to_string());
    }
}
