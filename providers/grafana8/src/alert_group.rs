//! `alert_group`: a unified alerting rule group of Grafana-managed rules (the ruler API,
//! API.md §3). The group is the unit of writing: one POST of the whole group. Rules keep
//! their identity through the uids Grafana gives them, which mac remembers in state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    Batch, BatchMember, FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, KeyReference, Kind,
    Links, LocalRef, ObjectId, Parked, Prepared, Relation, Remote, RemoteObject, Resolved, Resolver, Written,
    async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::folder_ref::{FOLDER_FORMS, FolderRef, folder_reference};
use mac_core::duration;

/// The ruler API's path for Grafana-managed rules.
const RULER: [&str; 6] = ["api", "ruler", "grafana", "api", "v1", "rules"];
/// Data source uids that stand for server-side expressions (`expr.IsDataSource`).
const EXPRESSION_UIDS: [&str; 2] = ["__expr__", "-100"];
/// Defaults Grafana applies (models/alert_rule.go, models/alert_query.go, v8.5.4).
const DEFAULT_INTERVAL_MS: u64 = 60_000;
const DEFAULT_NO_DATA_STATE: &str = "NoData";
const DEFAULT_EXEC_ERR_STATE: &str = "Alerting";
const NO_DATA_STATES: [&str; 3] = ["Alerting", "NoData", "OK"];
const EXEC_ERR_STATES: [&str; 3] = ["Alerting", "Error", "OK"];
/// Added to every query model when missing or 0 (pkg/services/ngalert/models/alert_query.go:13-14,
/// setIntervalMS and setMaxDatapoints, called by PreSave).
const MODEL_DEFAULTS: [(&str, u64); 2] = [("intervalMs", 1000), ("maxDataPoints", 43200)];

// ---------------------------------------------------------------------------------------------
// The definition (public: library users build groups with these types).

/// A unified alerting rule group of Grafana-managed rules (`[[grafana8.alert_group]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["rules"]))]
pub struct AlertGroup {
    /// The folder the group lives in (the ruler API's namespace).
    pub folder: FolderRef,
    /// The group's name in its folder; the definition's id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How often the rules are evaluated, a multiple of 10s such as `"1m"` (Grafana's 1m when absent).
    #[schemars(pattern(mac_core::duration::PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The group's rules, at least one.
    #[serde(default, deserialize_with = "rule_tables")]
    pub rules: Vec<AlertRule>,
}

/// One Grafana-managed alert rule of an [`AlertGroup`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["title", "condition", "data"]))]
pub struct AlertRule {
    /// The rule's key in its group, kept across title changes; its title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rule's title, unique in its folder.
    #[serde(default)]
    pub title: String,
    /// The `ref_id` of the query or expression whose result fires the alert.
    #[serde(default)]
    pub condition: String,
    /// How long the condition must hold before the alert fires, such as `"5m"`.
    #[schemars(pattern(mac_core::duration::PATTERN))]
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// The state when the queries return no data: `Alerting`, `NoData` (the default) or `OK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = NO_DATA_STATES))]
    pub no_data_state: Option<String>,
    /// The state when evaluation fails: `Alerting` (the default), `Error` or `OK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = EXEC_ERR_STATES))]
    pub exec_err_state: Option<String>,
    /// The alert's labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "labels_table")]
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "annotations_table")]
    pub annotations: BTreeMap<String, String>,
    /// The rule's queries and server-side expressions, at least one.
    #[serde(default, deserialize_with = "query_tables")]
    pub data: Vec<AlertQuery>,
}

/// A query or server-side expression of an [`AlertRule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["ref_id", "datasource"]))]
pub struct AlertQuery {
    /// The name other expressions and the condition refer to it by, such as `"A"`.
    #[serde(default)]
    pub ref_id: String,
    /// The data source it queries: its uid, `{ name = "…" }`, or `"__expr__"` for an expression.
    ///
    /// See [`DatasourceRef::expression`].
    #[serde(default = "DatasourceRef::missing")]
    pub datasource: DatasourceRef,
    /// The time range queried, relative to now (10m to now when absent; none for expressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_time_range: Option<RelativeTimeRange>,
    /// The query type (the model's `queryType` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_type: Option<String>,
    /// The query or expression itself, as the data source or expression type takes it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "model_table")]
    pub model: Option<Map<String, Value>>,
}

/// The data source of an [`AlertQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasourceRef {
    /// By uid (`datasource = "uid"`), or `"__expr__"` for a server-side expression.
    Uid(String),
    /// By name (`datasource = { name = "…" }`): one defined in the project, else Grafana's.
    Name(String),
    /// A data source defined in the project, by its local id
    /// (`datasource = { ref = "datasource.ID", field = "uid" }`).
    Defined(String),
}

impl DatasourceRef {
    /// A server-side expression (math, reduce, resample, classic conditions).
    pub fn expression() -> DatasourceRef {
        DatasourceRef::Uid(EXPRESSION_UIDS[0].to_owned())
    }

    /// What an absent `datasource` parses as: a uid that `validate` refuses.
    fn missing() -> DatasourceRef {
        DatasourceRef::Uid(String::new())
    }
}

const DATASOURCE_FORMS: &str =
    "`datasource` must be a data source uid, \"__expr__\" for expressions, or { name = \"…\" }";

/// The forms [`DatasourceRef`]'s `Deserialize` takes (the generic reference to a defined data
/// source is accepted in every field, as the schema of a file says).
impl schemars::JsonSchema for DatasourceRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DatasourceRef".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "description": "A data source's uid, or \"__expr__\" for a server-side expression.", "type": "string" },
                {
                    "description": "A data source by name: one defined here, else Grafana's.",
                    "type": "object",
                    "properties": { "name": { "description": "The data source's name.", "type": "string" } },
                    "required": ["name"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl Serialize for DatasourceRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            DatasourceRef::Uid(uid) => serializer.serialize_str(uid),
            DatasourceRef::Name(name) => {
                let mut table = serializer.serialize_map(Some(1))?;
                table.serialize_entry("name", name)?;
                table.end()
            }
            DatasourceRef::Defined(local_id) => {
                let mut table = serializer.serialize_map(Some(2))?;
                table.serialize_entry("ref", &format!("datasource.{local_id}"))?;
                table.serialize_entry("field", "uid")?;
                table.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for DatasourceRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let invalid = || serde::de::Error::custom(DATASOURCE_FORMS);
        match Value::deserialize(deserializer)? {
            Value::String(uid) => Ok(DatasourceRef::Uid(uid)),
            Value::Object(table) if table.len() == 1 => match table.get("name") {
                Some(Value::String(name)) => Ok(DatasourceRef::Name(name.clone())),
                _ => Err(invalid()),
            },
            // A generic reference is replaced by its value before a definition is parsed;
            // this form is for definitions built in code.
            Value::Object(table) if table.get("field").and_then(Value::as_str) == Some("uid") => {
                match table.get("ref").and_then(Value::as_str).and_then(|to| to.strip_prefix("datasource.")) {
                    Some(local_id) if table.len() == 2 => Ok(DatasourceRef::Defined(local_id.to_owned())),
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}

/// The time range of a query relative to now: `{ from = "10m", to = "0s" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct RelativeTimeRange {
    /// How far back the range starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<TimeOffset>,
    /// How far back the range ends (`"0s"`: now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<TimeOffset>,
}

/// A time before now: a duration such as `"10m"`, or a number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TimeOffset {
    /// A number of seconds.
    Seconds(i64),
    /// A duration such as `"10m"`.
    Duration(String),
}

impl TimeOffset {
    /// The offset in whole seconds; `None` for a duration that does not parse.
    fn seconds(&self) -> Option<i64> {
        match self {
            TimeOffset::Seconds(seconds) => Some(*seconds),
            TimeOffset::Duration(text) => seconds_of(text),
        }
    }
}

/// What [`RelativeTimeRange`]'s `TryFrom<Value>` takes.
impl schemars::JsonSchema for RelativeTimeRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RelativeTimeRange".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let offset = |description: &str| {
            serde_json::json!({
                "description": description,
                "anyOf": [
                    { "description": "A number of seconds.", "type": "number" },
                    { "description": "A duration such as \"10m\".", "type": "string", "pattern": duration::PATTERN },
                ],
            })
        };
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "from": offset("How far back the range starts."),
                "to": offset("How far back the range ends (\"0s\": now)."),
            },
            "additionalProperties": false,
        })
    }
}

impl TryFrom<Value> for RelativeTimeRange {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        const FORMS: &str = "`relative_time_range` must be { from = \"10m\", to = \"0s\" } (durations or seconds)";
        let Value::Object(range) = value else { return Err(FORMS) };
        if range.keys().any(|key| key != "from" && key != "to") {
            return Err(FORMS);
        }
        let offset = |key: &str| -> Result<Option<TimeOffset>, &'static str> {
            match range.get(key) {
                None => Ok(None),
                Some(Value::Number(number)) => number
                    .as_i64()
                    .or_else(|| number.as_f64().map(|seconds| seconds as i64))
                    .map(|seconds| Some(TimeOffset::Seconds(seconds)))
                    .ok_or(FORMS),
                Some(Value::String(text)) if seconds_of(text).is_some() => Ok(Some(TimeOffset::Duration(text.clone()))),
                Some(_) => Err(FORMS),
            }
        };
        Ok(RelativeTimeRange { from: offset("from")?, to: offset("to")? })
    }
}

fn string_table<'de, D: Deserializer<'de>>(deserializer: D, field: &str) -> Result<BTreeMap<String, String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(table) => table
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key, text)),
                _ => Err(()),
            })
            .collect::<Result<_, ()>>()
            .map_err(|()| serde::de::Error::custom(format!("`{field}` must be a table of strings"))),
        _ => Err(serde::de::Error::custom(format!("`{field}` must be a table of strings"))),
    }
}

fn rule_tables<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AlertRule>, D::Error> {
    mac_core::kind::list_of_tables(deserializer, "grafana8.alert_group.rules")
}

fn query_tables<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<AlertQuery>, D::Error> {
    mac_core::kind::list_of_tables(deserializer, "grafana8.alert_group.rules.data")
}

fn labels_table<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    string_table(deserializer, "labels")
}

fn annotations_table<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    string_table(deserializer, "annotations")
}

fn model_table<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Map<String, Value>>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(table) => Ok(Some(table)),
        _ => Err(serde::de::Error::custom("`model` must be a table")),
    }
}

// ---------------------------------------------------------------------------------------------
// What the ruler API returns and takes (API.md §3.2), and what `list` records.

/// A rule group as the ruler API returns it, plus the folder it lives in: a remote object's
/// fields. Fields mac does not read are kept as they came (`other`), so that state holds the
/// group as Grafana returned it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredGroup {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default)]
    pub rules: Vec<StoredRule>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
    /// Added by mac: the folder's uid (the first rule's `namespace_uid`)…
    #[serde(default)]
    pub folder_uid: String,
    /// …and its title, the ruler API's namespace.
    #[serde(default)]
    pub folder_title: String,
}

/// A rule as the ruler API returns and takes it (`GettableExtendedRuleNode`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_alert: Option<StoredAlert>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A rule's `grafana_alert`, in the order Grafana 8.5 writes its keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredAlert {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(rename = "orgId", default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub data: Vec<StoredQuery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(rename = "intervalSeconds", default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_group: Option<String>,
    #[serde(default)]
    pub no_data_state: String,
    #[serde(default)]
    pub exec_err_state: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A query of a stored rule (`AlertQuery`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredQuery {
    #[serde(rename = "refId", default)]
    pub ref_id: String,
    #[serde(rename = "queryType", default)]
    pub query_type: String,
    #[serde(rename = "relativeTimeRange", default, skip_serializing_if = "Option::is_none")]
    pub relative_time_range: Option<StoredRange>,
    #[serde(rename = "datasourceUid", default)]
    pub datasource_uid: String,
    #[serde(default)]
    pub model: Value,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A query's range in seconds before now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRange {
    #[serde(default)]
    pub from: i64,
    #[serde(default)]
    pub to: i64,
}

/// The body of a group's POST.
#[derive(Debug, Serialize)]
struct PostableGroup<'a> {
    name: &'a str,
    interval: &'a str,
    rules: &'a [StoredRule],
}

/// The part of `GET /api/folders/:uid` a write reads.
#[derive(Debug, Deserialize)]
struct FolderTitle {
    #[serde(default)]
    title: Option<String>,
}

/// The folder a group is written to: its uid, and its title, the ruler API's namespace.
#[derive(Debug, Clone)]
struct TargetFolder {
    uid: String,
    title: String,
}

/// A folder whose groups are deleted, as it is now: its title (none if it has none), or gone.
#[derive(Debug, Clone)]
enum FolderNow {
    Titled(Option<String>),
    Gone,
}

/// A group written and left for its batch's read-back: where it is, and its rules' keys and
/// titles, by which the uids Grafana gave them are remembered.
#[derive(Debug)]
struct GroupToRead {
    folder: TargetFolder,
    name: String,
    rule_keys: Vec<(String, String)>,
}

/// The ruler's whole answer (folder title → its groups) as remote objects, in folder title
/// order. Each group becomes its remote object as soon as it is parsed: the answer is never
/// held in its typed form, which took 34 MB at 10k rules for 7.5 MB of JSON.
struct RulerGroups(Vec<RemoteObject>);

impl<'de> Deserialize<'de> for RulerGroups {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RulerGroups, D::Error> {
        use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

        struct Namespaces;
        impl<'de> Visitor<'de> for Namespaces {
            type Value = Vec<(String, RemoteObject)>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of folder titles to lists of rule groups")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut groups = Vec::new();
                while let Some(folder_title) = map.next_key::<String>()? {
                    map.next_value_seed(Groups { folder_title, into: &mut groups })?;
                }
                Ok(groups)
            }
        }

        /// One folder's groups, each converted as it is read.
        struct Groups<'a> {
            folder_title: String,
            into: &'a mut Vec<(String, RemoteObject)>,
        }
        impl<'de> DeserializeSeed<'de> for Groups<'_> {
            type Value = ();

            fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
                deserializer.deserialize_seq(self)
            }
        }
        impl<'de> Visitor<'de> for Groups<'_> {
            type Value = ();

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of rule groups")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some(mut group) = seq.next_element::<StoredGroup>()? {
                    group.folder_uid =
                        group.rules.first().and_then(|rule| rule.alert().namespace_uid.clone()).unwrap_or_default();
                    group.folder_title = self.folder_title.clone();
                    self.into.push((self.folder_title.clone(), group.into_remote()));
                }
                Ok(())
            }
        }

        let mut groups = deserializer.deserialize_map(Namespaces)?;
        // Folder title order, each folder's groups as Grafana listed them.
        groups.sort_by(|(one, _), (other, _)| one.cmp(other));
        Ok(RulerGroups(groups.into_iter().map(|(_, group)| group).collect()))
    }
}

/// A group as stored, with the uids of its rules by their keys ([`rule_keys_to_uids`]).
fn group_object(group: StoredGroup, rule_keys: &[(String, String)]) -> RemoteObject {
    let part_ids = rule_keys_to_uids(rule_keys, &group);
    let mut object = group.into_remote();
    object.part_ids = part_ids;
    object
}

fn lost_read_back() -> HandlerError {
    HandlerError::new(HandlerErrorKind::Other, "the group written was not read back (a bug: please report it)")
}

/// An entry of `GET /api/datasources`.
#[derive(Debug, Deserialize)]
struct DatasourceEntry {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uid: Option<String>,
}

impl StoredGroup {
    /// The annotations of each rule (none: empty), in order.
    fn rule_annotations(&self) -> impl Iterator<Item = &BTreeMap<String, String>> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        self.rules.iter().map(|rule| rule.annotations.as_ref().unwrap_or(&NONE))
    }

    /// The stored rule with this uid.
    fn rule_with_uid(&self, uid: &str) -> Option<&StoredRule> {
        self.rules.iter().find(|rule| rule.alert().uid.as_deref() == Some(uid))
    }

    /// The group as a remote object: id `folder-uid/name`.
    fn into_remote(self) -> RemoteObject {
        let remote_id = format!("{}/{}", self.folder_uid, self.name);
        RemoteObject {
            remote_id: remote_id.clone(),
            adoption_key: Some(remote_id),
            // Plain data (string keys): serialising it cannot fail.
            fields: mac_core::JsonText::from_serialize(&self).unwrap_or_default(),
            part_ids: Default::default(),
        }
    }
}

impl StoredRule {
    /// Its `grafana_alert`; an empty one when it has none.
    fn alert(&self) -> &StoredAlert {
        static NONE: std::sync::LazyLock<StoredAlert> = std::sync::LazyLock::new(StoredAlert::default);
        self.grafana_alert.as_ref().unwrap_or(&NONE)
    }
}

// ---------------------------------------------------------------------------------------------
// The context: Grafana's data sources by name.

/// Grafana's data sources, name → uid, read with the rule list so that `datasource = { name =
/// … }` resolves at plan time and an import names data sources. Listing them needs an org
/// admin: `Unreadable` says why names cannot be resolved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasourceDirectory {
    /// Not read (an offline check).
    #[default]
    NotRead,
    /// Every data source, by name.
    Read(BTreeMap<String, String>),
    /// Why the data sources could not be read.
    Unreadable(String),
}

impl DatasourceDirectory {
    /// The uid a query's data source has.
    fn uid_of(&self, datasource: &DatasourceRef) -> Result<String, String> {
        match datasource {
            DatasourceRef::Uid(uid) => Ok(uid.clone()),
            DatasourceRef::Name(name) => match self {
                DatasourceDirectory::Read(known) => known.get(name).cloned().ok_or_else(|| {
                    let names: Vec<&str> = known.keys().map(String::as_str).collect();
                    format!(
                        "Grafana has no data source named `{name}`{} (it has: {})",
                        mac_core::suggest::hint(name, names.iter().copied()),
                        if names.is_empty() { "none".to_owned() } else { names.join(", ") },
                    )
                }),
                DatasourceDirectory::Unreadable(reason) => {
                    Err(format!("cannot resolve data source `{name}`: {reason}"))
                }
                DatasourceDirectory::NotRead => {
                    Err(format!("cannot resolve data source `{name}`: data sources were not read"))
                }
            },
            // Replaced by the data source's uid before a definition is parsed.
            DatasourceRef::Defined(_) => Err("`datasource` must be a data source uid or { name = \"…\" }".to_owned()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The normal form: every value Grafana fills in made explicit. What is written, and what both
// comparable forms are made from.

/// A group with its defaults filled in.
#[derive(Debug)]
struct FullGroup {
    folder_uid: String,
    name: String,
    interval: String,
    rules: Vec<FullRule>,
}

#[derive(Debug)]
struct FullRule {
    /// The rule's key (its `id`, else its title).
    id: String,
    title: String,
    condition: String,
    for_: String,
    no_data_state: String,
    exec_err_state: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    data: Vec<FullQuery>,
}

#[derive(Debug)]
struct FullQuery {
    ref_id: String,
    datasource_uid: String,
    query_type: String,
    range: StoredRange,
    model: Value,
}

/// A group in the form desired and observed groups are compared in: [`FullGroup`] without the
/// values Grafana 8.5.4 fills in when a write leaves them out, so that a plan never shows
/// them (a new or removed rule reads as it was written).
#[derive(Debug, Serialize)]
pub struct ComparableGroup {
    folder_uid: String,
    name: String,
    /// A group without interval is evaluated every DefaultRuleEvaluationInterval, 60s
    /// (pkg/services/ngalert/api/api_ruler_validation.go:154-158,
    /// pkg/setting/setting_unified_alerting.go:56).
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    rules: Vec<ComparableRule>,
}

#[derive(Debug, Serialize)]
pub struct ComparableRule {
    id: String,
    title: String,
    condition: String,
    /// A Go duration, 0 when absent (api_ruler_validation.go:114).
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    /// NoData and Alerting when not given (api_ruler_validation.go:52-78).
    #[serde(skip_serializing_if = "Option::is_none")]
    no_data_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec_err_state: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    data: Vec<ComparableQuery>,
}

#[derive(Debug, Serialize)]
pub struct ComparableQuery {
    ref_id: String,
    datasource_uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_type: Option<String>,
    /// The range mac writes when a query gives none (Grafana's rule editor's default of 10m;
    /// expressions are not queried over a range).
    #[serde(skip_serializing_if = "Option::is_none")]
    relative_time_range: Option<StoredRange>,
    model: Value,
}

/// The range a query gets when its definition gives none.
fn default_range(datasource_uid: &str) -> StoredRange {
    if EXPRESSION_UIDS.contains(&datasource_uid) {
        StoredRange { from: 0, to: 0 }
    } else {
        StoredRange { from: 600, to: 0 }
    }
}

/// `Some(value)` unless it is the default.
fn unless_default(value: String, default: &str) -> Option<String> {
    (value != default).then_some(value)
}

impl FullGroup {
    fn comparable(self) -> ComparableGroup {
        ComparableGroup {
            folder_uid: self.folder_uid,
            name: self.name,
            interval: unless_default(self.interval, &duration::format(DEFAULT_INTERVAL_MS)),
            rules: self
                .rules
                .into_iter()
                .map(|rule| ComparableRule {
                    id: rule.id,
                    title: rule.title,
                    condition: rule.condition,
                    for_: unless_default(rule.for_, "0s"),
                    no_data_state: unless_default(rule.no_data_state, DEFAULT_NO_DATA_STATE),
                    exec_err_state: unless_default(rule.exec_err_state, DEFAULT_EXEC_ERR_STATE),
                    labels: rule.labels,
                    annotations: rule.annotations,
                    data: rule
                        .data
                        .into_iter()
                        .map(|query| ComparableQuery {
                            relative_time_range: (query.range != default_range(&query.datasource_uid))
                                .then_some(query.range),
                            ref_id: query.ref_id,
                            datasource_uid: query.datasource_uid,
                            query_type: unless_default(query.query_type, ""),
                            model: without_model_defaults(query.model),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A query model without the keys Grafana adds when missing (numbers compared by value).
fn without_model_defaults(mut model: Value) -> Value {
    if let Value::Object(table) = &mut model {
        for (key, default) in MODEL_DEFAULTS {
            if table.get(key).and_then(Value::as_f64) == Some(default as f64) {
                table.shift_remove(key);
            }
        }
    }
    model
}

/// A query model as Grafana stores it: `intervalMs` and `maxDataPoints` added when missing
/// or 0 (models/alert_query.go `PreSave`).
fn stored_model(model: Option<&Map<String, Value>>) -> Value {
    let mut model = model.cloned().unwrap_or_default();
    for (key, default) in MODEL_DEFAULTS {
        let missing = model.get(key).and_then(Value::as_f64).is_none_or(|value| value == 0.0);
        if missing {
            model.insert(key.to_owned(), json!(default));
        }
    }
    Value::Object(model)
}

/// A duration in canonical form; `0s` when absent.
fn canonical_duration(value: Option<&str>) -> String {
    match value {
        Some(text) => duration::canonical(text).unwrap_or_else(|| text.to_owned()),
        None => "0s".to_owned(),
    }
}

/// Whole seconds of a duration string.
fn seconds_of(text: &str) -> Option<i64> {
    duration::parse(text).map(|milliseconds| (milliseconds / 1000) as i64)
}

/// The group a definition describes, in normal form. `datasources` resolves `{ name = … }`.
fn full_group(
    id: &ObjectId,
    group: &AlertGroup,
    refs: &dyn Resolver,
    datasources: &DatasourceDirectory,
) -> Result<FullGroup, FieldError> {
    let folder_uid = match &group.folder {
        FolderRef::Uid(uid) => uid.clone(),
        FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", local_id)) {
            Some(Resolved::Known(folder)) => folder.remote_id.clone(),
            _ => KNOWN_AFTER_APPLY.to_owned(),
        },
    };
    let interval = match &group.interval {
        Some(interval) => canonical_duration(Some(interval)),
        None => duration::format(DEFAULT_INTERVAL_MS),
    };
    let mut rules = Vec::new();
    for (index, rule) in group.rules.iter().enumerate() {
        let mut data = Vec::new();
        for (position, query) in rule.data.iter().enumerate() {
            let datasource_uid = datasources
                .uid_of(&query.datasource)
                .map_err(|message| FieldError::at(format!("/rules/{index}/data/{position}/datasource"), message))?;
            let default = default_range(&datasource_uid);
            let range = query.relative_time_range.as_ref();
            let offset = |offset: Option<&TimeOffset>| offset.and_then(TimeOffset::seconds);
            let model = stored_model(query.model.as_ref());
            let query_type = query
                .query_type
                .as_deref()
                .filter(|text| !text.is_empty())
                .or_else(|| model.get("queryType").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            data.push(FullQuery {
                ref_id: query.ref_id.clone(),
                range: StoredRange {
                    from: offset(range.and_then(|range| range.from.as_ref())).unwrap_or(default.from),
                    to: offset(range.and_then(|range| range.to.as_ref())).unwrap_or(default.to),
                },
                datasource_uid,
                query_type,
                model,
            });
        }
        rules.push(FullRule {
            id: rule.id.clone().unwrap_or_else(|| rule.title.clone()),
            title: rule.title.clone(),
            condition: rule.condition.clone(),
            for_: canonical_duration(rule.for_.as_deref()),
            no_data_state: rule.no_data_state.clone().unwrap_or_else(|| DEFAULT_NO_DATA_STATE.to_owned()),
            exec_err_state: rule.exec_err_state.clone().unwrap_or_else(|| DEFAULT_EXEC_ERR_STATE.to_owned()),
            labels: rule.labels.clone(),
            annotations: rule.annotations.clone(),
            data,
        });
    }
    Ok(FullGroup { folder_uid, name: group_name(id, group), interval, rules })
}

/// An observed group in normal form, without owner markers; rules are keyed by the keys
/// `part_ids` remembers for their uids, else by title.
fn observed_group(group: &StoredGroup, part_ids: &BTreeMap<String, String>) -> FullGroup {
    let uid_to_key: BTreeMap<&str, &str> = part_ids.iter().map(|(key, uid)| (uid.as_str(), key.as_str())).collect();
    let rules = group
        .rules
        .iter()
        .map(|rule| {
            let alert = rule.alert();
            let title = alert.title.clone().unwrap_or_default();
            let uid = alert.uid.as_deref().unwrap_or_default();
            let mut annotations = rule.annotations.clone().unwrap_or_default();
            crate::owner::hide_rule_marker(&mut annotations);
            FullRule {
                id: uid_to_key.get(uid).map_or_else(|| title.clone(), |key| (*key).to_owned()),
                condition: alert.condition.clone(),
                for_: canonical_duration(rule.for_.as_deref()),
                no_data_state: alert.no_data_state.clone(),
                exec_err_state: alert.exec_err_state.clone(),
                labels: rule.labels.clone().unwrap_or_default(),
                annotations,
                data: alert
                    .data
                    .iter()
                    .map(|query| FullQuery {
                        ref_id: query.ref_id.clone(),
                        datasource_uid: query.datasource_uid.clone(),
                        query_type: query.query_type.clone(),
                        range: query.relative_time_range.unwrap_or_default(),
                        model: query.model.clone(),
                    })
                    .collect(),
                title,
            }
        })
        .collect();
    FullGroup {
        folder_uid: group.folder_uid.clone(),
        name: group.name.clone(),
        interval: canonical_duration(group.interval.as_deref()),
        rules,
    }
}

fn group_name(id: &ObjectId, group: &AlertGroup) -> String {
    group.name.clone().unwrap_or_else(|| id.local_id.clone())
}

// ---------------------------------------------------------------------------------------------
// The kind.

#[derive(Debug)]
pub struct AlertGroupHandler {
    client: Arc<Client>,
    /// The project whose owner marker every written rule carries (`crate::owner`).
    project: Option<String>,
}

impl AlertGroupHandler {
    pub fn new(client: Arc<Client>) -> AlertGroupHandler {
        AlertGroupHandler { client, project: None }
    }

    /// Marks every rule written from now on as managed by `project`.
    pub fn with_project(mut self, project: Option<String>) -> AlertGroupHandler {
        self.project = project;
        self
    }

    /// Grafana's data sources by name.
    async fn read_datasources(&self) -> DatasourceDirectory {
        match self.client.get_json::<Vec<DatasourceEntry>>(&["api", "datasources"], &[]).await {
            Ok(entries) => DatasourceDirectory::Read(
                entries.into_iter().filter_map(|entry| Some((entry.name?, entry.uid?))).collect(),
            ),
            Err(err) if err.kind == HandlerErrorKind::Unauthorized => DatasourceDirectory::Unreadable(
                "these credentials may not list data sources (Grafana 8 requires an org Admin); give the data source's uid instead of its name".to_owned(),
            ),
            Err(err) => DatasourceDirectory::Unreadable(err.message),
        }
    }

    /// The folder a group goes to: its uid and (for writing) its current title, which is the
    /// ruler API's namespace.
    async fn target_folder(&self, folder: &FolderRef, refs: &dyn Resolver) -> Result<TargetFolder, HandlerError> {
        match folder {
            FolderRef::Uid(uid) => self.folder_by_uid(uid).await,
            FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", local_id)) {
                Some(Resolved::Known(folder)) => {
                    // Another kind's remote object: its fields as the folder kind records them.
                    let title =
                        folder.fields.to_map().get("title").and_then(Value::as_str).unwrap_or_default().to_owned();
                    Ok(TargetFolder { uid: folder.remote_id.clone(), title })
                }
                _ => {
                    Err(HandlerError::new(HandlerErrorKind::Other, format!("folder `{local_id}` has not been created"))
                        .at("/folder"))
                }
            },
        }
    }

    /// A folder mac does not manage, given by uid, with its current title.
    async fn folder_by_uid(&self, uid: &str) -> Result<TargetFolder, HandlerError> {
        let answer: FolderTitle = self.client.get_json(&["api", "folders", uid], &[]).await.map_err(|err| {
            if err.kind == HandlerErrorKind::NotFound {
                HandlerError::new(HandlerErrorKind::Invalid, format!("there is no folder with uid `{uid}` in Grafana"))
                    .at("/folder")
            } else {
                err
            }
        })?;
        Ok(TargetFolder { uid: uid.to_owned(), title: answer.title.unwrap_or_default() })
    }

    /// The folder with this uid as it is now, for deleting its groups.
    async fn folder_now(&self, uid: &str) -> Result<FolderNow, HandlerError> {
        match self.client.get_json::<FolderTitle>(&["api", "folders", uid], &[]).await {
            Ok(folder) => Ok(FolderNow::Titled(folder.title)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(FolderNow::Gone),
            Err(err) => Err(err),
        }
    }

    /// Postable rules with this project's owner marker.
    fn marked(&self, mut rules: Vec<StoredRule>) -> Vec<StoredRule> {
        for rule in &mut rules {
            crate::owner::mark_rule(rule.annotations.get_or_insert_default(), self.project.as_deref());
        }
        rules
    }

    async fn post(&self, namespace: &[&str], body: &PostableGroup<'_>, rules: &[FullRule]) -> Result<(), HandlerError> {
        self.client
            .send_json(Method::POST, self.client.url(namespace, &[]), body)
            .await
            .map_err(|err| locate_rule_error(err, rules))
    }
}

/// `RULER` followed by `more`.
fn ruler_path<'a>(more: &[&'a str]) -> Vec<&'a str> {
    RULER.iter().copied().chain(more.iter().copied()).collect()
}

fn field_error(error: FieldError) -> HandlerError {
    HandlerError::new(HandlerErrorKind::Invalid, error.message).at(error.pointer)
}

/// Points a Grafana validation error at the rule it names: `… at index [2]: …` or a title.
fn locate_rule_error(error: HandlerError, rules: &[FullRule]) -> HandlerError {
    if let Some(start) = error.message.find("at index [") {
        let digits: String = error.message[start + 10..].chars().take_while(char::is_ascii_digit).collect();
        if let Ok(index) = digits.parse::<usize>() {
            return error.at(format!("/rules/{index}"));
        }
    }
    let by_title = rules.iter().position(|rule| error.message.contains(&format!("alert rule {}", rule.title)));
    match by_title {
        Some(index) => error.at(format!("/rules/{index}")),
        None => error,
    }
}

/// The uid each desired rule is written with: the one remembered for its key, else the
/// stored rule with its title, else none (a new rule). No uid is used twice.
fn assign_uids(current: &StoredGroup, part_ids: &BTreeMap<String, String>, rules: &[FullRule]) -> Vec<Option<String>> {
    let stored: Vec<(&str, &str)> = current
        .rules
        .iter()
        .filter_map(|rule| Some((rule.alert().uid.as_deref()?, rule.alert().title.as_deref()?)))
        .collect();
    let mut used = BTreeSet::new();
    let mut uids = vec![None; rules.len()];
    for (index, rule) in rules.iter().enumerate() {
        if let Some(uid) = part_ids.get(&rule.id)
            && stored.iter().any(|(stored_uid, _)| stored_uid == uid)
            && used.insert(uid.clone())
        {
            uids[index] = Some(uid.clone());
        }
    }
    for (index, rule) in rules.iter().enumerate() {
        if uids[index].is_some() {
            continue;
        }
        if let Some((uid, _)) =
            stored.iter().find(|(uid, stored_title)| *stored_title == rule.title && !used.contains(*uid))
        {
            used.insert((*uid).to_owned());
            uids[index] = Some((*uid).to_owned());
        }
    }
    uids
}

/// After a write: each desired rule's key (with its title) → the uid Grafana holds for its
/// title (titles are unique per folder in Grafana).
fn rule_keys_to_uids(rule_keys: &[(String, String)], group: &StoredGroup) -> BTreeMap<String, String> {
    let stored: BTreeMap<&str, &str> = group
        .rules
        .iter()
        .filter_map(|rule| Some((rule.alert().title.as_deref()?, rule.alert().uid.as_deref()?)))
        .collect();
    rule_keys.iter().filter_map(|(key, title)| Some((key.clone(), (*stored.get(title.as_str())?).to_owned()))).collect()
}

/// The rule as the ruler API takes it (API.md §3.2), from its normal form.
fn postable_rule(rule: &FullRule, uid: Option<&str>) -> StoredRule {
    StoredRule {
        for_: Some(rule.for_.clone()),
        labels: Some(rule.labels.clone()),
        annotations: Some(rule.annotations.clone()),
        grafana_alert: Some(StoredAlert {
            uid: Some(uid.unwrap_or_default().to_owned()),
            title: Some(rule.title.clone()),
            condition: rule.condition.clone(),
            no_data_state: rule.no_data_state.clone(),
            exec_err_state: rule.exec_err_state.clone(),
            data: rule
                .data
                .iter()
                .map(|query| StoredQuery {
                    ref_id: query.ref_id.clone(),
                    query_type: query.query_type.clone(),
                    relative_time_range: Some(query.range),
                    datasource_uid: query.datasource_uid.clone(),
                    model: query.model.clone(),
                    other: Map::new(),
                })
                .collect(),
            ..StoredAlert::default()
        }),
        ..StoredRule::default()
    }
}

#[async_trait]
impl Kind for AlertGroupHandler {
    type Desired = AlertGroup;
    type Remote = StoredGroup;
    type Comparable = ComparableGroup;
    type Context = DatasourceDirectory;

    fn validate(&self, group: &AlertGroup) -> Result<(), Vec<FieldError>> {
        let mut errors = validate_group(group).err().unwrap_or_default();
        errors.extend(crate::owner::reserved_rule_annotation(group.rules.iter().map(|rule| &rule.annotations)));
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, AlertGroup)>,
    ) -> Vec<(usize, FieldError)> {
        rule_titles_unique_per_folder(definitions)
    }

    fn references(&self, group: &AlertGroup) -> Vec<(String, LocalRef)> {
        folder_reference(&group.folder)
    }

    /// `datasource = { name = "…" }` names a data source; one defined in the project is
    /// referred to by its uid (the loader turns the name into a reference).
    fn key_references(&self, group: &AlertGroup) -> Vec<KeyReference> {
        let mut found = Vec::new();
        for (index, rule) in group.rules.iter().enumerate() {
            for (position, query) in rule.data.iter().enumerate() {
                if let DatasourceRef::Name(name) = &query.datasource {
                    found.push(KeyReference {
                        pointer: format!("/rules/{index}/data/{position}/datasource"),
                        kind: "datasource".to_owned(),
                        key_field: "name".to_owned(),
                        key: name.clone(),
                        value_field: Some("uid".to_owned()),
                    });
                }
            }
        }
        found
    }

    fn adoption_key(&self, id: &ObjectId, group: &AlertGroup, refs: &dyn Resolver) -> Option<String> {
        let folder_uid = match &group.folder {
            FolderRef::Uid(uid) => uid.clone(),
            FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", local_id))? {
                Resolved::Known(folder) => folder.remote_id.clone(),
                Resolved::Pending => return None,
            },
        };
        Some(format!("{folder_uid}/{}", group_name(id, group)))
    }

    fn desired(
        &self,
        id: &ObjectId,
        group: &AlertGroup,
        refs: &dyn Resolver,
        datasources: &DatasourceDirectory,
    ) -> Result<ComparableGroup, FieldError> {
        full_group(id, group, refs, datasources).map(FullGroup::comparable)
    }

    fn observed(&self, remote: &Remote<'_, StoredGroup>) -> ComparableGroup {
        observed_group(&remote.fields, &remote.object.part_ids).comparable()
    }

    fn owner(&self, remote: &Remote<'_, StoredGroup>) -> Option<String> {
        crate::owner::group_owner(remote.fields.rule_annotations())
    }

    fn describe(&self, remote: &Remote<'_, StoredGroup>) -> String {
        let group = &remote.fields;
        let rules = group.rules.len();
        format!(
            "rule group {:?} in folder {:?}, {rules} rule{}",
            group.name,
            group.folder_title,
            if rules == 1 { "" } else { "s" }
        )
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        match path {
            "/rules" => Some("id"),
            "/rules/*/data" => Some("ref_id"),
            _ => None,
        }
    }

    fn import(
        &self,
        remote: &Remote<'_, StoredGroup>,
        refs: &dyn ImportRefs,
        datasources: &DatasourceDirectory,
    ) -> Option<ImportedFields> {
        let group = &remote.fields;
        let folder_title = group.folder_title.as_str();
        let (folder, file) = match refs.local_id("folder", &group.folder_uid) {
            Some(local_id) => (FolderRef::Local(local_id.to_owned()), local_id.to_owned()),
            None => (FolderRef::Uid(group.folder_uid.clone()), crate::slug(folder_title)),
        };
        let names: BTreeMap<&str, &str> = match datasources {
            DatasourceDirectory::Read(by_name) => {
                by_name.iter().map(|(name, uid)| (uid.as_str(), name.as_str())).collect()
            }
            _ => BTreeMap::new(),
        };
        let mut part_ids = BTreeMap::new();
        let mut rules = Vec::new();
        for rule in &group.rules {
            let alert = rule.grafana_alert.as_ref()?;
            let title = alert.title.clone()?;
            if let Some(uid) = &alert.uid {
                part_ids.insert(title.clone(), uid.clone());
            }
            let for_ = canonical_duration(rule.for_.as_deref());
            let mut annotations = rule.annotations.clone().unwrap_or_default();
            crate::owner::hide_rule_marker(&mut annotations);
            let data = alert
                .data
                .iter()
                .map(|query| {
                    let uid = query.datasource_uid.as_str();
                    // A data source imported or managed too is referred to as such; one that
                    // is not (provisioned by Grafana's files, say) by its name, else its uid.
                    let datasource = match (refs.local_id("datasource", uid), names.get(uid)) {
                        (Some(local_id), _) => DatasourceRef::Defined(local_id.to_owned()),
                        (None, Some(name)) => DatasourceRef::Name((*name).to_owned()),
                        (None, None) => DatasourceRef::Uid(uid.to_owned()),
                    };
                    let range = query.relative_time_range.unwrap_or_default();
                    let as_duration =
                        |seconds: i64| TimeOffset::Duration(duration::format(seconds.max(0) as u64 * 1000));
                    let mut model = query.model.as_object().cloned().unwrap_or_default();
                    // Grafana adds these when missing; mac does the same when comparing.
                    for (key, default) in MODEL_DEFAULTS {
                        if model.get(key) == Some(&json!(default)) {
                            model.shift_remove(key);
                        }
                    }
                    let query_type = query.query_type.as_str();
                    let model_type = model.get("queryType").and_then(Value::as_str);
                    AlertQuery {
                        ref_id: query.ref_id.clone(),
                        relative_time_range: (range != default_range(uid)).then(|| RelativeTimeRange {
                            from: Some(as_duration(range.from)),
                            to: Some(as_duration(range.to)),
                        }),
                        query_type: (!query_type.is_empty() && model_type != Some(query_type))
                            .then(|| query_type.to_owned()),
                        datasource,
                        model: Some(model),
                    }
                })
                .collect();
            rules.push(AlertRule {
                id: None,
                title,
                condition: alert.condition.clone(),
                for_: (for_ != "0s").then_some(for_),
                no_data_state: unless_default(alert.no_data_state.clone(), DEFAULT_NO_DATA_STATE),
                exec_err_state: unless_default(alert.exec_err_state.clone(), DEFAULT_EXEC_ERR_STATE),
                labels: rule.labels.clone().unwrap_or_default(),
                annotations,
                data,
            });
        }
        let imported = AlertGroup {
            folder,
            name: Some(group.name.clone()),
            interval: Some(canonical_duration(group.interval.as_deref())),
            rules,
        };
        let Ok(Value::Object(fields)) = serde_json::to_value(&imported) else { return None };
        Some(ImportedFields {
            local_id: format!("{}-{}", crate::slug(folder_title), crate::slug(&group.name)),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids,
        })
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        vec![(Relation::LivesIn, "folder"), (Relation::Uses, "datasource")]
    }

    fn links(&self, remote: &Remote<'_, StoredGroup>) -> Links {
        let group = &remote.fields;
        crate::links::rule_group(
            &group.folder_uid,
            format!("{}/{}", group.folder_title, group.name),
            group
                .rules
                .iter()
                .flat_map(|rule| rule.grafana_alert.iter().flat_map(|alert| &alert.data))
                .map(|query| query.datasource_uid.as_str()),
        )
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        // One request for every rule of every folder (API.md §3.5), whatever the number of
        // rules; the data sources are read with it (`read_context`).
        let RulerGroups(groups) = self.client.get_json(&RULER, &[]).await?;
        Ok(groups)
    }

    async fn read_context(&self) -> Result<DatasourceDirectory, HandlerError> {
        Ok(self.read_datasources().await)
    }

    /// Writes the group with one POST, then reads it back for the uids Grafana gave new rules.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        group: &AlertGroup,
        refs: &dyn Resolver,
        context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        match self.write_in_batch(current, id, group, refs, context, &Prepared::nothing()).await? {
            Written::Object(written) => Ok(written),
            Written::ReadBack(parked) => {
                let batch = Batch::Writes(String::new());
                self.read_back(&batch, vec![parked]).await.pop().unwrap_or_else(|| Err(lost_read_back()))
            }
        }
    }

    const BATCHED: bool = true;

    /// A group's writes are batched by folder, as written in the definition: a folder given
    /// by uid has its title (the ruler's namespace) read once for all of them, and the uids
    /// Grafana gives new rules are read once per folder, with one namespace GET answering
    /// every group of the folder.
    fn write_batch(&self, _id: &ObjectId, group: &AlertGroup) -> Option<String> {
        Some(match &group.folder {
            FolderRef::Local(local_id) => format!("folder {local_id}"),
            FolderRef::Uid(uid) => format!("folder uid {uid}"),
        })
    }

    /// A group's deletes are batched by folder uid: the folder's current title, by which the
    /// ruler API addresses it, is read once for all of them.
    fn delete_batch(&self, current: &Remote<'_, StoredGroup>) -> Option<String> {
        Some(current.fields.folder_uid.clone()).filter(|uid| !uid.is_empty())
    }

    async fn prepare_batch(&self, batch: &Batch, members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError> {
        match batch {
            Batch::Writes(_) => {
                // Every member names the same folder: by uid, its title is read once here; a
                // folder defined in the project is known from its own object at write time.
                let folder = members.iter().find_map(|member| match member {
                    BatchMember::Write { desired, .. } => {
                        desired.fields.parse::<AlertGroup>().ok().map(|group| group.folder)
                    }
                    BatchMember::Delete { .. } => None,
                });
                match folder {
                    Some(FolderRef::Uid(uid)) => Ok(Prepared::new(self.folder_by_uid(&uid).await?)),
                    _ => Ok(Prepared::nothing()),
                }
            }
            Batch::Deletes(folder_uid) => Ok(Prepared::new(self.folder_now(folder_uid).await?)),
        }
    }

    /// Writes the group with one POST; the uids Grafana gave new rules are read with the
    /// folder's other groups ([`Kind::read_back`]).
    async fn write_in_batch(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        group: &AlertGroup,
        refs: &dyn Resolver,
        context: &Self::Context,
        prepared: &Prepared,
    ) -> Result<Written, HandlerError> {
        // Names resolve with the directory the plan was made with (it carries it), so that the
        // uids written are the ones the plan showed.
        let wanted = full_group(id, group, refs, context).map_err(field_error)?;
        let TargetFolder { uid: folder_uid, title: folder_title } = match prepared.get::<TargetFolder>() {
            Some(folder) => folder.clone(),
            None => self.target_folder(&group.folder, refs).await?,
        };
        let name = wanted.name.as_str();
        let rules = &wanted.rules;
        let stored = current.map(|current| current.fields.parse::<StoredGroup>().unwrap_or_default());
        let uids = match (current, &stored) {
            (Some(current), Some(stored)) => assign_uids(stored, &current.part_ids, rules),
            _ => vec![None; rules.len()],
        };

        // Grafana 8.5 keeps a rule's stored `for` when an update sends 0 (API.md §3.4): a rule
        // whose `for` goes back to 0 is written as a new rule, after a first POST without it.
        let resets: BTreeSet<usize> = stored
            .as_ref()
            .map(|stored| {
                rules
                    .iter()
                    .zip(&uids)
                    .enumerate()
                    .filter(|(_, (rule, uid))| {
                        rule.for_ == "0s"
                            && uid.as_ref().and_then(|uid| stored.rule_with_uid(uid)).is_some_and(|stored| {
                                stored.for_.as_deref().is_some_and(|stored_for| stored_for != "0s")
                            })
                    })
                    .map(|(index, _)| index)
                    .collect()
            })
            .unwrap_or_default();
        let namespace = ruler_path(&[&folder_title]);
        if !resets.is_empty() {
            let kept: Vec<StoredRule> = rules
                .iter()
                .zip(&uids)
                .enumerate()
                .filter(|(index, _)| !resets.contains(index))
                .map(|(_, (rule, uid))| postable_rule(rule, uid.as_deref()))
                .collect();
            let kept = self.marked(kept);
            self.post(&namespace, &PostableGroup { name, interval: &wanted.interval, rules: &kept }, rules).await?;
        }
        let postable: Vec<StoredRule> = rules
            .iter()
            .zip(&uids)
            .enumerate()
            .map(|(index, (rule, uid))| {
                postable_rule(rule, if resets.contains(&index) { None } else { uid.as_deref() })
            })
            .collect();
        let postable = self.marked(postable);
        self.post(&namespace, &PostableGroup { name, interval: &wanted.interval, rules: &postable }, rules).await?;

        // A group that moved folder or was renamed leaves rules it no longer has behind in
        // its old place: delete what is left there.
        let new_id = format!("{folder_uid}/{name}");
        if let Some(current) = current
            && current.remote_id != new_id
        {
            self.delete(current).await?;
        }
        let rule_keys: Vec<(String, String)> = rules.iter().map(|rule| (rule.id.clone(), rule.title.clone())).collect();
        // Every rule already had its uid and the group stayed where it was: what Grafana stored
        // is what was posted, so reading it back would only add requests to an update.
        let uids_all_known = resets.is_empty()
            && uids.iter().all(Option::is_some)
            && current.is_some_and(|current| current.remote_id == new_id);
        let moved = current.is_some_and(|current| current.remote_id != new_id);
        if moved {
            // A group moved or renamed has no pending record under its new id: read it back
            // at once (after its old place is cleared), so that it is recorded and saved a
            // few round trips after its write rather than after its folder's whole batch — a
            // kill in between would make the next run re-create it instead of finding it.
            let mut written: StoredGroup = self.client.get_json(&ruler_path(&[&folder_title, name]), &[]).await?;
            written.folder_uid = folder_uid;
            written.folder_title = folder_title;
            return Ok(Written::Object(group_object(written, &rule_keys)));
        }
        if !uids_all_known {
            // New rules get their uids from Grafana (8.5 refuses client-chosen ones): read
            // them with the folder's other groups.
            return Ok(Written::ReadBack(Parked::new(GroupToRead {
                folder: TargetFolder { uid: folder_uid, title: folder_title },
                name: name.to_owned(),
                rule_keys,
            })));
        }
        let written = StoredGroup {
            name: name.to_owned(),
            interval: Some(wanted.interval.clone()),
            rules: postable,
            folder_uid,
            folder_title,
            ..StoredGroup::default()
        };
        Ok(Written::Object(group_object(written, &rule_keys)))
    }

    /// The groups written, read with one namespace GET per folder (`GET
    /// /api/ruler/grafana/api/v1/rules/:Namespace` answers every group of the folder).
    async fn read_back(&self, _batch: &Batch, parked: Vec<Parked>) -> Vec<Result<RemoteObject, HandlerError>> {
        let groups: Vec<Option<GroupToRead>> = parked.into_iter().map(|parked| parked.take().ok()).collect();
        let titles: BTreeSet<&str> = groups.iter().flatten().map(|group| group.folder.title.as_str()).collect();
        let mut namespaces: BTreeMap<&str, Result<Vec<StoredGroup>, HandlerError>> = BTreeMap::new();
        for title in titles {
            let answer = self.client.get_json::<BTreeMap<String, Vec<StoredGroup>>>(&ruler_path(&[title]), &[]).await;
            namespaces.insert(title, answer.map(|mut folders| folders.remove(title).unwrap_or_default()));
        }
        groups
            .iter()
            .map(|group| {
                let Some(group) = group else {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Other,
                        "the engine handed this kind another kind's write to read back (a bug: please report it)",
                    ));
                };
                let found = match namespaces.get(group.folder.title.as_str()) {
                    Some(Ok(folder_groups)) => folder_groups.iter().find(|stored| stored.name == group.name),
                    Some(Err(error)) => return Err(HandlerError::new(error.kind, error.message.clone())),
                    None => None,
                };
                let Some(found) = found else {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Unavailable,
                        format!(
                            "group `{}` was written, but Grafana did not list it in folder `{}` when read back; plan again",
                            group.name, group.folder.title
                        ),
                    ));
                };
                let mut written = found.clone();
                written.folder_uid = group.folder.uid.clone();
                written.folder_title = group.folder.title.clone();
                Ok(group_object(written, &group.rule_keys))
            })
            .collect()
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.delete_in_batch(current, &Prepared::nothing()).await
    }

    async fn delete_in_batch(&self, current: &RemoteObject, prepared: &Prepared) -> Result<(), HandlerError> {
        let group = current.fields.parse::<StoredGroup>().unwrap_or_default();
        // The folder may have been renamed since the plan read it, and another folder may
        // now have its old title (even one made in this apply, for a group moving there):
        // the ruler API addresses folders by title and answers 202 when nothing matched, so
        // a stale title would delete another folder's group. Its title is read by uid, once
        // for all the groups of the folder deleted by this apply (`prepare_batch`).
        let now = match prepared.get::<FolderNow>() {
            Some(now) => now.clone(),
            None => self.folder_now(&group.folder_uid).await?,
        };
        let title = match now {
            FolderNow::Titled(title) => title.unwrap_or(group.folder_title),
            // The folder is gone, and its rules with it.
            FolderNow::Gone => return Ok(()),
        };
        match self.client.send(Method::DELETE, self.client.url(&ruler_path(&[&title, &group.name]), &[]), None).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        Some(&crate::rule_view::AlertGroupRules)
    }
}

/// Grafana 8.5.4 keeps rule titles unique in a folder across its groups (a unique index on
/// org, namespace uid and title: pkg/services/sqlstore/migrations/ualert/tables.go:208) and
/// answers a clash with a 500 at apply; `validate_group` checks titles within one group.
fn rule_titles_unique_per_folder(
    definitions: &mut dyn Iterator<Item = (&ObjectId, AlertGroup)>,
) -> Vec<(usize, FieldError)> {
    let mut first_use: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut ids: Vec<&ObjectId> = Vec::new();
    let mut errors = Vec::new();
    for (index, (id, group)) in definitions.enumerate() {
        ids.push(id);
        let folder = match &group.folder {
            FolderRef::Local(local_id) => format!("local {local_id}"),
            FolderRef::Uid(uid) => format!("uid {uid}"),
        };
        for (rule_index, rule) in group.rules.iter().enumerate() {
            let title = &rule.title;
            match first_use.get(&(folder.clone(), title.clone())) {
                Some(other) if *other != index => errors.push((
                    index,
                    FieldError::at(
                        format!("/rules/{rule_index}/title"),
                        format!(
                            "rule title `{title}` is also used by `{}` in the same folder: Grafana requires unique \
                             rule titles in a folder, across its groups",
                            ids[*other]
                        ),
                    ),
                )),
                // Within one group, `validate_group` reports it at both places.
                Some(_) => {}
                None => {
                    first_use.insert((folder.clone(), title.clone()), index);
                }
            }
        }
    }
    errors
}

/// Checks a group as Grafana 8.5 would (api/api_ruler_validation.go), before any request.
fn validate_group(group: &AlertGroup) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let folder_valid = match &group.folder {
        FolderRef::Local(local_id) => !local_id.is_empty(),
        FolderRef::Uid(uid) => crate::folder::valid_uid(uid),
    };
    if !folder_valid {
        errors.push(FieldError::at("/folder", FOLDER_FORMS));
    }
    if let Some(name) = &group.name
        && (name.is_empty() || name.len() > 190)
    {
        errors.push(FieldError::at("/name", "`name` must be a string of 1 to 190 characters"));
    }
    if let Some(interval) = &group.interval {
        match duration::parse(interval) {
            Some(milliseconds) if milliseconds > 0 && milliseconds.is_multiple_of(10_000) => {}
            _ => errors.push(FieldError::at(
                "/interval",
                "`interval` must be a duration that is a positive multiple of 10s, such as \"1m\" (Grafana's base interval is 10s)",
            )),
        }
    }
    if group.rules.is_empty() {
        errors.push(FieldError::at("/rules", "a group needs at least one rule ([[…alert_group.rules]] tables)"));
    }
    let mut titles: BTreeMap<&str, usize> = BTreeMap::new();
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, rule) in group.rules.iter().enumerate() {
        let at = |field: &str| format!("/rules/{index}{field}");
        let title = if !rule.title.trim().is_empty() && rule.title.len() <= 190 {
            rule.title.as_str()
        } else {
            errors.push(FieldError::at(at("/title"), "`title` must be a string of 1 to 190 characters"));
            ""
        };
        if let Some(first) = titles.get(title) {
            errors.push(
                FieldError::at(
                    at("/title"),
                    format!(
                        "rule title `{title}` is used twice in this group; Grafana requires unique titles in a folder"
                    ),
                )
                .duplicating(format!("/rules/{first}/title")),
            );
        } else {
            titles.insert(title, index);
        }
        let key = rule.id.as_deref().unwrap_or(title);
        if let Some(first) = keys.get(key).copied()
            && rule.id.is_some()
        {
            let first_field = if group.rules[first].id.is_some() { "id" } else { "title" };
            errors.push(
                FieldError::at(at("/id"), format!("rule id `{key}` is used twice in this group"))
                    .duplicating(format!("/rules/{first}/{first_field}")),
            );
        } else {
            keys.entry(key).or_insert(index);
        }
        for (field, value, allowed) in [
            ("no_data_state", &rule.no_data_state, NO_DATA_STATES.as_slice()),
            ("exec_err_state", &rule.exec_err_state, EXEC_ERR_STATES.as_slice()),
        ] {
            if let Some(value) = value
                && !allowed.contains(&value.as_str())
            {
                errors.push(FieldError::at(
                    at(&format!("/{field}")),
                    format!("`{field}` must be one of {}", allowed.join(", ")),
                ));
            }
        }
        if let Some(for_) = &rule.for_
            && duration::parse(for_).is_none()
        {
            errors.push(FieldError::at(at("/for"), "`for` must be a duration such as \"5m\""));
        }
        let has = |key: &str| rule.annotations.contains_key(key);
        if has("__dashboardUid__") != has("__panelId__") {
            errors.push(FieldError::at(at("/annotations"), "annotations __dashboardUid__ and __panelId__ go together"));
        }
        if rule.data.is_empty() {
            errors.push(FieldError::at(at("/data"), "a rule needs at least one query or expression in `data`"));
        }
        let mut ref_ids = Vec::new();
        for (position, query) in rule.data.iter().enumerate() {
            let at = |field: &str| format!("/rules/{index}/data/{position}{field}");
            let ref_id = query.ref_id.as_str();
            if ref_id.is_empty() {
                errors.push(FieldError::at(at("/ref_id"), "`ref_id` must be a non-empty string such as \"A\""));
            } else {
                if ref_ids.contains(&ref_id) {
                    errors.push(FieldError::at(at("/ref_id"), format!("ref_id `{ref_id}` is used twice in this rule")));
                }
                ref_ids.push(ref_id);
            }
            if query.datasource == DatasourceRef::missing() {
                errors.push(FieldError::at(at("/datasource"), DATASOURCE_FORMS));
            }
        }
        check_expression_inputs(index, &rule.data, &ref_ids, &mut errors);
        match rule.condition.as_str() {
            "" => errors.push(FieldError::at(
                at("/condition"),
                "`condition` must name the ref_id whose result fires the alert",
            )),
            condition if ref_ids.contains(&condition) => {}
            condition => errors.push(FieldError::at(
                at("/condition"),
                format!("condition `{condition}` is not the ref_id of any query of this rule ({})", ref_ids.join(", ")),
            )),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The expression types of Grafana 8.5.4 (pkg/expr/commands.go:296-310 `ParseCommandType`).
const EXPRESSION_TYPES: [&str; 4] = ["math", "reduce", "resample", "classic_conditions"];

/// Checks the inputs of each server-side expression of a rule as Grafana 8.5.4 builds its
/// evaluation graph (pkg/expr/graph.go:171-212 `buildGraphEdges`): every ref_id an expression
/// needs must be a query or expression of the rule ("unable to find dependent node"), not
/// itself, and a classic condition takes only data source queries. Grafana accepts such a
/// rule when it is saved and fails every evaluation of it, so mac refuses it before.
fn check_expression_inputs(index: usize, data: &[AlertQuery], ref_ids: &[&str], errors: &mut Vec<FieldError>) {
    let is_expression = |query: &AlertQuery| matches!(&query.datasource, DatasourceRef::Uid(uid) if EXPRESSION_UIDS.contains(&uid.as_str()));
    let expressions: Vec<&str> = data
        .iter()
        .filter(|query| is_expression(query))
        .map(|query| query.ref_id.as_str())
        .filter(|ref_id| !ref_id.is_empty())
        .collect();
    for (position, query) in data.iter().enumerate() {
        if !is_expression(query) {
            continue;
        }
        let at = |field: &str| format!("/rules/{index}/data/{position}/model{field}");
        let own = query.ref_id.as_str();
        let Some(model) = &query.model else { continue };
        let kind = match model.get("type").and_then(Value::as_str) {
            Some(kind) if EXPRESSION_TYPES.contains(&kind) => kind,
            // nodes.go:99-103: "invalid expression command type".
            Some(kind) => {
                errors.push(FieldError::at(
                    at("/type"),
                    format!(
                        "`{kind}` is not an expression type of Grafana 8.5{} (the types: {})",
                        mac_core::suggest::hint(kind, EXPRESSION_TYPES),
                        EXPRESSION_TYPES.join(", ")
                    ),
                ));
                continue;
            }
            None => {
                errors.push(FieldError::at(
                    at("/type"),
                    format!("an expression needs `type` in its model (one of {})", EXPRESSION_TYPES.join(", ")),
                ));
                continue;
            }
        };
        // Each input: where it is written and the ref_id it names.
        let inputs: Vec<(String, String)> = match kind {
            // commands.go:41-63: the variables of the math expression, `$A` or `${A}`.
            "math" => match model.get("expression").and_then(Value::as_str) {
                Some(expression) => {
                    math_variables(expression).into_iter().map(|name| (at("/expression"), name)).collect()
                }
                None => Vec::new(),
            },
            // commands.go:95-104 and 199-209: `expression` names the input, `$` optional.
            "reduce" | "resample" => match model.get("expression").and_then(Value::as_str) {
                Some(expression) => vec![(at("/expression"), expression.trim_start_matches('$').to_owned())],
                None => Vec::new(),
            },
            // classic/classic.go:179-205: each condition's `query.params[0]`.
            _ => model
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(|(condition, value)| {
                    let name = value.pointer("/query/params/0")?.as_str()?;
                    Some((at(&format!("/conditions/{condition}/query/params/0")), name.to_owned()))
                })
                .collect(),
        };
        for (pointer, name) in inputs {
            if name == own {
                // graph.go:191-193.
                errors.push(FieldError::at(pointer, format!("expression `{own}` cannot take itself as input")));
            } else if !ref_ids.contains(&name.as_str()) {
                // graph.go:185-189.
                errors.push(FieldError::at(
                    pointer,
                    format!(
                        "`{name}` is not the ref_id of any query or expression of this rule{} (its ref_ids: {}); \
                         Grafana would fail every evaluation of it (unable to find dependent node)",
                        mac_core::suggest::hint(&name, ref_ids.iter().copied()),
                        ref_ids.join(", "),
                    ),
                ));
            } else if kind == "classic_conditions" && expressions.contains(&name.as_str()) {
                // graph.go:195-199.
                errors.push(FieldError::at(
                    pointer,
                    format!("a classic condition takes only data source queries, and `{name}` is an expression"),
                ));
            }
        }
    }
}

/// The variables a math expression reads (pkg/expr/mathexp/parse/lex.go:289-324 `lexVar`,
/// parse.go:300-305 `Var`): `$` then letters, digits and `_`, or `${…}`; none inside strings.
fn math_variables(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = expression.chars().peekable();
    let is_varchar = |c: char| c == '_' || c.is_alphanumeric();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for inner in chars.by_ref() {
                    if inner == '"' {
                        break;
                    }
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|inner| *inner != '}').collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
            '$' => {
                let mut name = String::new();
                while let Some(next) = chars.peek().copied().filter(|next| is_varchar(*next)) {
                    name.push(next);
                    chars.next();
                }
                if !name.is_empty() {
                    names.push(name);
                }
            }
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoRefs;
    impl Resolver for NoRefs {
        fn resolve(&self, _: &LocalRef) -> Option<Resolved<'_>> {
            None
        }
    }

    #[test]
    fn the_ruler_answer_becomes_remote_objects_in_folder_title_order() {
        let rule = |uid: &str, namespace: &str| {
            json!({ "grafana_alert": { "title": uid, "uid": uid, "namespace_uid": namespace, "condition": "A",
                "data": [], "no_data_state": "NoData", "exec_err_state": "Alerting" } })
        };
        let answer = json!({
            "Zeta": [{ "name": "z1", "interval": "1m", "rules": [rule("r1", "fz")] }],
            "Alpha": [
                { "name": "a2", "rules": [rule("r2", "fa")] },
                { "name": "a1", "rules": [rule("r3", "fa")], "kept": true },
            ],
        });
        let RulerGroups(groups) = serde_json::from_str(&answer.to_string()).expect("an answer");
        let ids: Vec<&str> = groups.iter().map(|group| group.remote_id.as_str()).collect();
        assert_eq!(ids, ["fa/a2", "fa/a1", "fz/z1"], "by folder title, each folder's groups as listed");
        let stored: StoredGroup = groups[1].fields.parse().expect("a stored group");
        assert_eq!((stored.folder_title.as_str(), stored.folder_uid.as_str()), ("Alpha", "fa"));
        assert_eq!(stored.other.get("kept"), Some(&json!(true)), "fields mac does not read are kept");
        assert!(serde_json::from_str::<RulerGroups>(r#"{"A": {"name": "x"}}"#).is_err(), "a group is not a list");
    }

    fn id() -> ObjectId {
        ObjectId::new("grafana8", "alert_group", "g")
    }

    fn group() -> Value {
        json!({
            "folder": { "uid": "f1" },
            "name": "HTTP",
            "interval": "60s",
            "rules": [{
                "title": "High 5xx",
                "condition": "B",
                "for": "300s",
                "labels": { "severity": "page" },
                "data": [
                    { "ref_id": "A", "datasource": "prom", "model": { "expr": "rate(x[5m])" } },
                    { "ref_id": "B", "datasource": "__expr__", "model": { "type": "math", "expression": "$A > 1" } },
                ],
            }],
        })
    }

    fn parse(value: Value) -> AlertGroup {
        serde_json::from_value(value).expect("a group")
    }

    fn comparable(group: &AlertGroup) -> Value {
        let wanted = full_group(&id(), group, &NoRefs, &DatasourceDirectory::NotRead).expect("comparable");
        serde_json::to_value(wanted.comparable()).expect("json")
    }

    #[test]
    fn desired_matches_what_grafana_reads_back() {
        let wanted = comparable(&parse(group()));
        let stored = json!({
            "name": "HTTP",
            "interval": "1m",
            "folder_uid": "f1",
            "folder_title": "Payments",
            "rules": [{
                "expr": "",
                "for": "5m",
                "labels": { "severity": "page" },
                "grafana_alert": {
                    "id": 1, "orgId": 1, "uid": "abc", "title": "High 5xx", "condition": "B", "version": 1,
                    "namespace_uid": "f1", "namespace_id": 1, "rule_group": "HTTP", "intervalSeconds": 60,
                    "updated": "2026-01-01T00:00:00Z", "no_data_state": "NoData", "exec_err_state": "Alerting",
                    "data": [
                        { "refId": "A", "queryType": "", "relativeTimeRange": { "from": 600, "to": 0 }, "datasourceUid": "prom",
                          "model": { "expr": "rate(x[5m])", "intervalMs": 1000, "maxDataPoints": 43200 } },
                        { "refId": "B", "queryType": "", "relativeTimeRange": { "from": 0, "to": 0 }, "datasourceUid": "__expr__",
                          "model": { "expression": "$A > 1", "intervalMs": 1000, "maxDataPoints": 43200, "type": "math" } },
                    ],
                },
            }],
        });
        let group: StoredGroup = serde_json::from_value(stored.clone()).expect("stored");
        assert_eq!(serde_json::to_value(&group).expect("json"), stored, "the stored group round-trips whole");
        let observed = serde_json::to_value(observed_group(&group, &BTreeMap::new()).comparable()).expect("json");
        let changes = mac_core::diff::diff(&observed, &wanted, &|path| match path {
            "/rules" => Some("id"),
            "/rules/*/data" => Some("ref_id"),
            _ => None,
        });
        assert!(changes.is_empty(), "{changes:#?}");
        assert_eq!(
            wanted,
            json!({ "folder_uid": "f1", "name": "HTTP", "rules": [{
                "id": "High 5xx", "title": "High 5xx", "condition": "B", "for": "5m", "labels": { "severity": "page" },
                "data": [
                    { "ref_id": "A", "datasource_uid": "prom", "model": { "expr": "rate(x[5m])" } },
                    { "ref_id": "B", "datasource_uid": "__expr__", "model": { "type": "math", "expression": "$A > 1" } },
                ],
            }] }),
            "defaults are left out"
        );
    }

    #[test]
    fn names_resolve_against_the_directory_or_say_why_not() {
        let mut named = group();
        named["rules"][0]["data"][0]["datasource"] = json!({ "name": "Prometheus" });
        let named = parse(named);
        let directory = DatasourceDirectory::Read(BTreeMap::from([("Prometheus".to_owned(), "p1".to_owned())]));
        let wanted = full_group(&id(), &named, &NoRefs, &directory).expect("resolves");
        assert_eq!(wanted.rules[0].data[0].datasource_uid, "p1");
        let unreadable = DatasourceDirectory::Unreadable("no".to_owned());
        let error = full_group(&id(), &named, &NoRefs, &unreadable).expect_err("unresolved");
        assert_eq!(error.pointer, "/rules/0/data/0/datasource");
        assert_eq!(error.message, "cannot resolve data source `Prometheus`: no");
        let recorded = serde_json::to_value(&directory).expect("json");
        assert_eq!(recorded, json!({ "read": { "Prometheus": "p1" } }));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut bad = group();
        bad["interval"] = json!("15s");
        bad["rules"][0]["condition"] = json!("C");
        bad["rules"][0]["no_data_state"] = json!("Nope");
        bad["rules"][0]["data"][0]["datasource"] = json!("");
        let errors = validate_group(&parse(bad)).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/interval", "/rules/0/no_data_state", "/rules/0/data/0/datasource", "/rules/0/condition"]
        );
        assert!(validate_group(&parse(group())).is_ok());
    }

    #[test]
    fn a_misspelt_or_mistyped_field_is_refused_where_it_is() {
        let parse_error =
            |value: Value| serde_path_to_error::deserialize::<_, AlertGroup>(value).expect_err("refused").to_string();
        let mut bad = group();
        bad["rules"][0]["colour"] = json!("red");
        let error = parse_error(bad);
        assert!(error.starts_with("rules[0].colour: unknown field `colour`, expected one of `id`, `title`"), "{error}");
        let mut bad = group();
        bad["rules"][0]["data"][0]["datasource"] = json!(5);
        assert_eq!(
            parse_error(bad),
            "rules[0].data[0].datasource: `datasource` must be a data source uid, \"__expr__\" for expressions, or { name = \"…\" }"
        );
        let mut bad = group();
        bad["rules"][0]["data"][0]["relative_time_range"] = json!({ "from": "soon" });
        assert!(
            parse_error(bad)
                .ends_with("`relative_time_range` must be { from = \"10m\", to = \"0s\" } (durations or seconds)")
        );
        let mut bad = group();
        bad["rules"][0]["labels"] = json!({ "severity": 1 });
        assert!(parse_error(bad).ends_with("`labels` must be a table of strings"));
    }

    #[test]
    fn a_typed_group_serialises_to_the_definition_it_parses_from() {
        let typed = AlertGroup {
            folder: FolderRef::Local("payments".to_owned()),
            name: Some("HTTP".to_owned()),
            interval: None,
            rules: vec![AlertRule {
                title: "Down".to_owned(),
                condition: "B".to_owned(),
                data: vec![
                    AlertQuery {
                        ref_id: "A".to_owned(),
                        datasource: DatasourceRef::Defined("prometheus".to_owned()),
                        relative_time_range: Some(RelativeTimeRange {
                            from: Some(TimeOffset::Duration("5m".to_owned())),
                            to: Some(TimeOffset::Seconds(0)),
                        }),
                        query_type: None,
                        model: None,
                    },
                    AlertQuery {
                        ref_id: "B".to_owned(),
                        datasource: DatasourceRef::expression(),
                        relative_time_range: None,
                        query_type: None,
                        model: None,
                    },
                ],
                ..AlertRule::default()
            }],
        };
        let value = serde_json::to_value(&typed).expect("json");
        assert_eq!(
            value["rules"][0]["data"][0]["datasource"],
            json!({ "ref": "datasource.prometheus", "field": "uid" })
        );
        assert_eq!(value["folder"], json!("payments"));
        assert_eq!(parse(value), typed);
    }

    #[test]
    fn grafana_errors_point_at_their_rule() {
        let rule = |title: &str| FullRule {
            id: title.to_owned(),
            title: title.to_owned(),
            condition: String::new(),
            for_: String::new(),
            no_data_state: String::new(),
            exec_err_state: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            data: Vec::new(),
        };
        let rules = vec![rule("a"), rule("High 5xx")];
        let error = HandlerError::new(HandlerErrorKind::Invalid, "invalid rule specification at index [1]: bad");
        assert_eq!(locate_rule_error(error, &rules).pointer.as_deref(), Some("/rules/1"));
        let error =
            HandlerError::new(HandlerErrorKind::Invalid, "failed to validate condition of alert rule High 5xx: x");
        assert_eq!(locate_rule_error(error, &rules).pointer.as_deref(), Some("/rules/1"));
    }

    #[test]
    fn uids_follow_keys_then_titles_and_are_never_reused() {
        let current: StoredGroup = serde_json::from_value(json!({ "rules": [
            { "grafana_alert": { "uid": "u1", "title": "Old name" } },
            { "grafana_alert": { "uid": "u2", "title": "Other" } },
        ]}))
        .expect("stored");
        let part_ids = BTreeMap::from([("errors".to_owned(), "u1".to_owned())]);
        let mut group = parse(group());
        let rule = group.rules[0].clone();
        group.rules = vec![
            AlertRule { id: Some("errors".to_owned()), title: "New name".to_owned(), ..rule.clone() },
            AlertRule { title: "Other".to_owned(), ..rule.clone() },
            AlertRule { title: "New".to_owned(), ..rule },
        ];
        let rules = full_group(&id(), &group, &NoRefs, &DatasourceDirectory::NotRead).expect("full").rules;
        assert_eq!(assign_uids(&current, &part_ids, &rules), [Some("u1".into()), Some("u2".into()), None]);
    }
}
