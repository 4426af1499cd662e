//! A tenant's Alertmanager configuration shared by several projects (`shared = true`): each
//! project owns only the parts its definition writes — receivers by name, the root route's
//! child routes by their matchers, template files by name, time intervals by name and inhibit
//! rules by their whole content, and shares `templates` entries (a glob such as `*.tmpl` may be
//! several projects': it stays while one lists it) — and every write keeps the rest of the
//! document as Cortex had it, other projects' secrets included.
//!
//! Which parts are whose is written into the document itself, as one template file per project
//! (`mac-owner.<project>.tmpl`, a Go template comment holding a JSON list of the parts), since
//! Alertmanager's configuration has no free-form field to mark an item with: every project
//! reading the tenant sees the others' claims, so a plan refuses to take another's part, and a
//! delete knows its parts after its definition is gone, whatever a state file remembers.
//! Everything here is pure: the provider reads the document, calls [`merge`] and posts.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The lists of the document whose items a shared configuration may own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum List {
    Receivers,
    Routes,
    Templates,
    TimeIntervals,
    MuteTimeIntervals,
    InhibitRules,
}

impl List {
    pub(crate) const ALL: [List; 6] = [
        List::Receivers,
        List::Routes,
        List::Templates,
        List::TimeIntervals,
        List::MuteTimeIntervals,
        List::InhibitRules,
    ];

    /// The list's name in a marker, and its top-level key in the document (routes: `route`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            List::Receivers => "receivers",
            List::Routes => "routes",
            List::Templates => "templates",
            List::TimeIntervals => "time_intervals",
            List::MuteTimeIntervals => "mute_time_intervals",
            List::InhibitRules => "inhibit_rules",
        }
    }

    /// One item, in messages.
    pub(crate) fn singular(self) -> &'static str {
        match self {
            List::Receivers => "receiver",
            List::Routes => "route",
            List::Templates => "`templates` entry",
            List::TimeIntervals => "time interval",
            List::MuteTimeIntervals => "mute time interval",
            List::InhibitRules => "inhibit rule",
        }
    }

    /// Where the list is in the document, as a pointer below the document.
    pub(crate) fn pointer(self) -> &'static str {
        match self {
            List::Routes => "/route/routes",
            List::Receivers => "/receivers",
            List::Templates => "/templates",
            List::TimeIntervals => "/time_intervals",
            List::MuteTimeIntervals => "/mute_time_intervals",
            List::InhibitRules => "/inhibit_rules",
        }
    }

    /// What identifies an item of this list; `None` for an item that has nothing to be known by.
    pub(crate) fn key(self, item: &Value) -> Option<String> {
        match self {
            List::Receivers | List::TimeIntervals | List::MuteTimeIntervals => {
                item.get("name").and_then(Value::as_str).map(str::to_owned)
            }
            List::Routes => route_key(item),
            List::Templates => item.as_str().map(str::to_owned),
            List::InhibitRules => Some(sorted(item.clone()).to_string()),
        }
    }

    /// The list's items in `config`.
    pub(crate) fn items(self, config: &Value) -> &[Value] {
        let list = match self {
            List::Routes => config.get("route").and_then(|route| route.get("routes")),
            other => config.get(other.name()),
        };
        list.and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    fn items_mut(self, config: &mut Map<String, Value>) -> &mut Vec<Value> {
        let parent = match self {
            List::Routes => object_mut(config.entry("route").or_insert_with(|| Value::Object(Map::new()))),
            _ => config,
        };
        let key = if self == List::Routes { "routes" } else { self.name() };
        array_mut(parent.entry(key).or_insert_with(|| Value::Array(Vec::new())))
    }
}

/// The key of template files in a marker (they are no list of the document).
pub(crate) const TEMPLATE_FILES: &str = "template_files";

/// The parts a project owns: keys by list name ([`List::name`], [`TEMPLATE_FILES`]).
pub(crate) type Owned = BTreeMap<String, BTreeSet<String>>;

/// A route's identity: its matchers (`matchers`, `match`, `match_re`), sorted, as one text.
pub(crate) fn route_key(route: &Value) -> Option<String> {
    let mut matchers: Vec<String> = route
        .get("matchers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|matcher| matcher.trim().to_owned())
        .collect();
    for (field, operator) in [("match", "="), ("match_re", "=~")] {
        for (label, value) in route.get(field).and_then(Value::as_object).into_iter().flatten() {
            matchers.push(format!("{label}{operator}{value}"));
        }
    }
    if matchers.is_empty() {
        return None;
    }
    matchers.sort();
    Some(matchers.join(", "))
}

/// Keys in order, so that two spellings of one value compare equal.
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<String, Value> = map.into_iter().map(|(key, child)| (key, sorted(child))).collect();
            Value::Object(ordered.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Every part of a document (or of a definition's document) and its template files.
pub(crate) fn parts<'a>(config: &Value, template_files: impl Iterator<Item = &'a String>) -> Owned {
    let mut owned = Owned::new();
    for list in List::ALL {
        let keys: BTreeSet<String> = list.items(config).iter().filter_map(|item| list.key(item)).collect();
        if !keys.is_empty() {
            owned.insert(list.name().to_owned(), keys);
        }
    }
    let files: BTreeSet<String> = template_files.cloned().collect();
    if !files.is_empty() {
        owned.insert(TEMPLATE_FILES.to_owned(), files);
    }
    owned
}

/// Both sets of parts.
pub(crate) fn union(mut a: Owned, b: &Owned) -> Owned {
    for (list, keys) in b {
        a.entry(list.clone()).or_default().extend(keys.iter().cloned());
    }
    a
}

fn owns(owned: &Owned, list: &str, key: &str) -> bool {
    owned.get(list).is_some_and(|keys| keys.contains(key))
}

/// The parts of `config` that `wanted` names, as a document of those parts only: each list
/// sorted by key, but routes in the document's order (it is the order Alertmanager matches them
/// in); empty lists left out.
pub(crate) fn project(config: &Value, wanted: &Owned) -> Value {
    let mut out = Map::new();
    for list in List::ALL {
        let mut items: Vec<(String, Value)> = list
            .items(config)
            .iter()
            .filter_map(|item| {
                let key = list.key(item)?;
                owns(wanted, list.name(), &key).then(|| (key, item.clone()))
            })
            .collect();
        if items.is_empty() {
            continue;
        }
        if list != List::Routes {
            items.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let values = Value::Array(items.into_iter().map(|(_, item)| item).collect());
        match list {
            List::Routes => out.insert("route".to_owned(), json!({ "routes": values })),
            _ => out.insert(list.name().to_owned(), values),
        };
    }
    Value::Object(out)
}

/// The template files `wanted` names.
pub(crate) fn project_files(files: &IndexMap<String, String>, wanted: &Owned) -> BTreeMap<String, Option<String>> {
    files
        .iter()
        .filter(|(name, _)| owns(wanted, TEMPLATE_FILES, name))
        .map(|(name, text)| (name.clone(), Some(text.clone())))
        .collect()
}

const MARKER_PREFIX: &str = "mac-owner.";
const MARKER_SUFFIX: &str = ".tmpl";

/// The template file that marks `project`'s parts.
pub(crate) fn marker_name(project: &str) -> String {
    format!("{MARKER_PREFIX}{project}{MARKER_SUFFIX}")
}

/// Whether a template file's name is a marker's (a definition may not use it).
pub(crate) fn is_marker_name(name: &str) -> bool {
    name.starts_with(MARKER_PREFIX)
}

/// The project a marker file's name names.
pub(crate) fn marker_project(name: &str) -> Option<&str> {
    name.strip_prefix(MARKER_PREFIX)?.strip_suffix(MARKER_SUFFIX).filter(|project| !project.is_empty())
}

/// A marker's text: a Go template comment (valid wherever a `templates` glob makes
/// Alertmanager read it), whose second line is the JSON of the parts.
pub(crate) fn marker_text(project: &str, owned: &Owned) -> String {
    let parts = serde_json::to_string(owned).unwrap_or_else(|_| "{}".to_owned());
    // `*/` would end the comment: JSON may spell `/` as `\/` inside a string, and nowhere else
    // could the two characters meet.
    let parts = parts.replace("*/", "*\\/");
    format!(
        "{{{{/* mac: the parts of this tenant's Alertmanager configuration that mac project \"{project}\" manages; mac \
         rewrites this file on every write\n{parts}\n*/}}}}\n"
    )
}

/// The parts a marker's text lists; `None` when it is not one mac wrote.
pub(crate) fn parse_marker(text: &str) -> Option<Owned> {
    let line = text.lines().nth(1)?;
    serde_json::from_str(line).ok()
}

/// Each project's parts, from the markers among `files`.
pub(crate) fn markers(files: &IndexMap<String, String>) -> BTreeMap<String, Owned> {
    files
        .iter()
        .filter_map(|(name, text)| Some((marker_project(name)?.to_owned(), parse_marker(text).unwrap_or_default())))
        .collect()
}

/// The receivers routes use: (receiver, the route, the project owning the route or `""`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Use {
    pub receiver: String,
    pub route: String,
    pub owner: String,
}

/// What a plan knows of the tenant's document besides the parts it compares: every part's
/// key and owner, and which receivers routes use (keys and names only, never a value). The
/// kind's context, read with the list from the same GET.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Inventory {
    /// Part keys by list name, each with the project whose marker lists it (`""`: none).
    #[serde(default)]
    pub parts: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub uses: Vec<Use>,
    /// Which time intervals routes name (`mute_time_intervals`, `active_time_intervals`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval_uses: Vec<IntervalUse>,
    /// What rewriting the document would change in it (see [`rewrite_changes`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite_changes: Vec<String>,
}

impl Inventory {
    pub(crate) fn of(config: &Value, files: &IndexMap<String, String>) -> Inventory {
        let markers = markers(files);
        let owner_of = |list: &str, key: &str| {
            markers
                .iter()
                .find(|(_, owned)| owns(owned, list, key))
                .map(|(project, _)| project.clone())
                .unwrap_or_default()
        };
        let mut parts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for list in List::ALL {
            for key in list.items(config).iter().filter_map(|item| list.key(item)) {
                let owner = owner_of(list.name(), &key);
                parts.entry(list.name().to_owned()).or_default().insert(key, owner);
            }
        }
        for name in files.keys().filter(|name| marker_project(name).is_none()) {
            let owner = owner_of(TEMPLATE_FILES, name);
            parts.entry(TEMPLATE_FILES.to_owned()).or_default().insert(name.clone(), owner);
        }
        let uses = route_uses(config, &|key| owner_of(List::Routes.name(), key));
        let interval_uses = interval_uses(config, &|key| owner_of(List::Routes.name(), key));
        Inventory { parts, uses, interval_uses, rewrite_changes: Vec::new() }
    }

    /// The owner of a part (`Some("")`: in the document, nobody's).
    pub(crate) fn owner(&self, list: &str, key: &str) -> Option<&str> {
        self.parts.get(list)?.get(key).map(String::as_str)
    }
}

/// A time interval a route names, with the route and its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IntervalUse {
    pub interval: String,
    pub route: String,
    pub owner: String,
}

/// The time intervals a route (and its child routes) names.
pub(crate) fn intervals_named(route: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for key in ["mute_time_intervals", "active_time_intervals"] {
        names.extend(
            route.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned),
        );
    }
    for child in route.get("routes").and_then(Value::as_array).into_iter().flatten() {
        names.extend(intervals_named(child));
    }
    names
}

/// Every time interval a child route of `config` names, with the route and its owner.
fn interval_uses(config: &Value, owner_of: &dyn Fn(&str) -> String) -> Vec<IntervalUse> {
    let mut uses = Vec::new();
    for child in List::Routes.items(config) {
        let key = List::Routes.key(child);
        let owner = key.as_deref().map(owner_of).unwrap_or_default();
        let route = key.map_or_else(|| "a route without matchers".to_owned(), |key| format!("route `{key}`"));
        for interval in intervals_named(child) {
            uses.push(IntervalUse { interval, route: route.clone(), owner: owner.clone() });
        }
    }
    uses
}

/// Every receiver a route of `config` names, with the route and its owner.
fn route_uses(config: &Value, owner_of: &dyn Fn(&str) -> String) -> Vec<Use> {
    let mut uses = Vec::new();
    let Some(root) = config.get("route") else { return uses };
    if let Some(receiver) = root.get("receiver").and_then(Value::as_str) {
        uses.push(Use { receiver: receiver.to_owned(), route: "the root route".to_owned(), owner: String::new() });
    }
    fn walk(route: &Value, name: &str, owner: &str, uses: &mut Vec<Use>) {
        if let Some(receiver) = route.get("receiver").and_then(Value::as_str) {
            uses.push(Use { receiver: receiver.to_owned(), route: name.to_owned(), owner: owner.to_owned() });
        }
        for child in route.get("routes").and_then(Value::as_array).into_iter().flatten() {
            walk(child, name, owner, uses);
        }
    }
    for child in List::Routes.items(config) {
        let key = List::Routes.key(child);
        let owner = key.as_deref().map(owner_of).unwrap_or_default();
        let name = match &key {
            Some(key) => format!("route `{key}`"),
            None => "a route without matchers".to_owned(),
        };
        walk(child, &name, &owner, &mut uses);
    }
    uses
}

/// Who has a part, for a refusal: `project `A``, or that nobody's marker claims it.
pub(crate) fn holder(owner: &str) -> String {
    if owner.is_empty() {
        "is already in the tenant's Alertmanager configuration, and no project's owner marker claims it (made by \
         hand, or by a configuration that owns the whole document): rename this one, or remove that one from the \
         document first"
            .to_owned()
    } else {
        format!(
            "is managed by project `{owner}` (its owner marker in the tenant's Alertmanager configuration): rename this \
             one, or remove it from that project first"
        )
    }
}

/// A document and its template files.
pub(crate) type Document = (Value, IndexMap<String, String>);

/// What a shared definition writes: its document's parts and its template files.
pub(crate) type Parts<'a> = (&'a Map<String, Value>, &'a IndexMap<String, String>);

/// The receiver an empty tenant's root route sends to: a receiver with no integration is valid
/// in Alertmanager and notifies nobody.
pub(crate) const DEFAULT_RECEIVER: &str = "default";

/// The tenant's document after `project`'s parts are replaced by `desired` (`None`: removed),
/// everything else kept as it was: `current` is the document as Cortex returned it, secrets in
/// clear, which go back unchanged. `None` when there is nothing to write (a removal from a
/// tenant without a document).
pub(crate) fn merge(
    current: Option<Document>,
    project: &str,
    desired: Option<Parts<'_>>,
) -> Result<Option<Document>, String> {
    let (config, mut files) = match current {
        Some(current) => current,
        None if desired.is_none() => return Ok(None),
        None => {
            // An empty tenant: the smallest document Alertmanager accepts, around the parts.
            let defines_default = desired.is_some_and(|(config, _)| {
                List::Receivers
                    .items(&Value::Object(config.clone()))
                    .iter()
                    .any(|receiver| List::Receivers.key(receiver).as_deref() == Some(DEFAULT_RECEIVER))
            });
            let mut config = json!({ "route": { "receiver": DEFAULT_RECEIVER } });
            if !defines_default {
                config["receivers"] = json!([{ "name": DEFAULT_RECEIVER }]);
            }
            (config, IndexMap::new())
        }
    };
    let Value::Object(mut config) = config else {
        return Err("the tenant's Alertmanager configuration is not a YAML mapping".to_owned());
    };
    let ours = files.shift_remove(&marker_name(project)).and_then(|text| parse_marker(&text)).unwrap_or_default();
    let others = markers(&files);
    // This project's parts out; the first of its routes marks where its routes go back.
    let mut route_position = None;
    for list in List::ALL {
        let items = list.items_mut(&mut config);
        let mut index = 0;
        items.retain(|item| {
            // A `templates` entry (often a glob, `*.tmpl`) may be several projects': it goes
            // with the last project listing it.
            let mine = list.key(item).is_some_and(|key| {
                owns(&ours, list.name(), &key)
                    && !(list == List::Templates && others.values().any(|owned| owns(owned, list.name(), &key)))
            });
            if mine && list == List::Routes && route_position.is_none() {
                route_position = Some(index);
            }
            if !mine {
                index += 1;
            }
            !mine
        });
    }
    for name in ours.get(TEMPLATE_FILES).into_iter().flatten() {
        files.shift_remove(name);
    }
    if let Some((defined, template_files)) = desired {
        let taken = |list: &str, singular: &str, key: &str| {
            let owner = others.iter().find(|(_, owned)| owns(owned, list, key)).map_or("", |(project, _)| project);
            format!("{singular} `{key}` {}", holder(owner))
        };
        let parts_value = Value::Object(defined.clone());
        let present_templates: BTreeSet<String> = List::Templates
            .items(&Value::Object(config.clone()))
            .iter()
            .filter_map(|item| List::Templates.key(item))
            .collect();
        for list in List::ALL {
            let present: BTreeSet<String> =
                list.items(&Value::Object(config.clone())).iter().filter_map(|item| list.key(item)).collect();
            let mut new_items = Vec::new();
            for item in list.items(&parts_value) {
                match list.key(item) {
                    Some(key) if present.contains(&key) && list == List::Templates => continue,
                    Some(key) if present.contains(&key) => return Err(taken(list.name(), list.singular(), &key)),
                    _ => new_items.push(item.clone()),
                }
            }
            let items = list.items_mut(&mut config);
            if list == List::Routes {
                let at = route_position.unwrap_or(items.len()).min(items.len());
                items.splice(at..at, new_items);
            } else {
                items.extend(new_items);
            }
        }
        for (name, text) in template_files {
            if files.contains_key(name) {
                return Err(taken(TEMPLATE_FILES, "template file", name));
            }
            files.insert(name.clone(), text.clone());
        }
        // A `templates` entry already there that no project lists (made by hand) stays
        // nobody's: removing this project must not take it out from under whoever uses it.
        let mut owned = parts(&parts_value, template_files.keys());
        if let Some(entries) = owned.get_mut(List::Templates.name()) {
            let listed = |owned: &Owned, entry: &str| owns(owned, List::Templates.name(), entry);
            entries.retain(|entry| {
                !present_templates.contains(entry)
                    || listed(&ours, entry)
                    || others.values().any(|owned| listed(owned, entry))
            });
        }
        files.insert(marker_name(project), marker_text(project, &owned));
    }
    // Lists left empty are left out, as an empty tenant's document has none.
    for list in List::ALL {
        if list.items(&Value::Object(config.clone())).is_empty() {
            match list {
                List::Routes => {
                    if let Some(Value::Object(route)) = config.get_mut("route") {
                        route.shift_remove("routes");
                    }
                }
                _ => {
                    config.shift_remove(list.name());
                }
            }
        }
    }
    let config = Value::Object(config);
    let receivers: BTreeSet<String> =
        parts(&config, std::iter::empty()).remove(List::Receivers.name()).unwrap_or_default();
    if let Some(missing) =
        route_uses(&config, &|_| String::new()).into_iter().find(|used| !receivers.contains(&used.receiver))
    {
        return Err(format!(
            "receiver `{}` is still used by {} of the tenant's Alertmanager configuration: keep defining it, or \
             change that route first",
            missing.receiver, missing.route
        ));
    }
    let intervals: BTreeSet<String> = [List::TimeIntervals, List::MuteTimeIntervals]
        .iter()
        .flat_map(|list| list.items(&config).iter().filter_map(|item| list.key(item)))
        .collect();
    if let Some(missing) =
        interval_uses(&config, &|_| String::new()).into_iter().find(|used| !intervals.contains(&used.interval))
    {
        return Err(format!(
            "time interval `{}` is still used by {} of the tenant's Alertmanager configuration: keep defining it, or \
             change that route first",
            missing.interval, missing.route
        ));
    }
    Ok(Some((config, files)))
}

fn object_mut(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

fn array_mut(value: &mut Value) -> &mut Vec<Value> {
    if !value.is_array() {
        *value = Value::Array(Vec::new());
    }
    value.as_array_mut().expect("made an array above")
}

/// The plain scalars of `text` (a tenant's Alertmanager document as posted) that mac's
/// rewrite would change: serde_norway reads YAML 1.2 and writes what it read (`1.10` as `1.1`,
/// `True` as `true`, `0x1F` as `31`), while Alertmanager reads YAML 1.1 and keeps a string
/// field's text as written — a route matching `version: 1.10` would then match `1.1`. Each as
/// `line N`, without the value (an all-digit secret is a number too); empty when the rewrite
/// is faithful.
pub(crate) fn rewrite_changes(text: &str) -> Vec<String> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::{Marker, TScalarStyle};

    struct Plain(Vec<(usize, String)>);
    impl MarkedEventReceiver for Plain {
        fn on_event(&mut self, event: Event, mark: Marker) {
            if let Event::Scalar(value, TScalarStyle::Plain, _, None) = event {
                self.0.push((mark.line(), value));
            }
        }
    }
    let mut plain = Plain(Vec::new());
    if Parser::new_from_str(text).load(&mut plain, false).is_err() {
        return Vec::new();
    }
    let mut changes = Vec::new();
    for (line, written) in plain.0 {
        let Ok(read) = serde_norway::from_str::<serde_norway::Value>(&written) else { continue };
        if matches!(read, serde_norway::Value::String(_)) {
            continue;
        }
        let rewritten = serde_norway::to_string(&read).map(|text| text.trim().to_owned()).unwrap_or_default();
        if rewritten != written {
            changes.push(format!("line {line}"));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team_a() -> (Value, IndexMap<String, String>) {
        let config = json!({
            "global": { "resolve_timeout": "5m", "slack_api_url": "https://hooks.slack.example/global-secret" },
            "route": {
                "receiver": "default",
                "group_by": ["alertname"],
                "routes": [
                    { "receiver": "a-hook", "matchers": ["team=\"a\""] },
                    { "receiver": "hand", "matchers": ["team=\"ops\""] },
                ],
            },
            "receivers": [
                { "name": "default" },
                { "name": "a-hook", "webhook_configs": [{ "url": "http://a.example/a-secret" }] },
                { "name": "hand", "webhook_configs": [{ "url": "http://ops.example/hand-secret" }] },
            ],
            "templates": ["a.tmpl"],
        });
        let mut owned = Owned::new();
        owned.insert("receivers".to_owned(), BTreeSet::from(["a-hook".to_owned()]));
        owned.insert("routes".to_owned(), BTreeSet::from(["team=\"a\"".to_owned()]));
        owned.insert("templates".to_owned(), BTreeSet::from(["a.tmpl".to_owned()]));
        owned.insert(TEMPLATE_FILES.to_owned(), BTreeSet::from(["a.tmpl".to_owned()]));
        let mut files = IndexMap::new();
        files.insert("a.tmpl".to_owned(), "{{ define \"a\" }}a{{ end }}".to_owned());
        files.insert(marker_name("a"), marker_text("a", &owned));
        (config, files)
    }

    fn definition(config: Value) -> Map<String, Value> {
        config.as_object().expect("a map").clone()
    }

    #[test]
    fn a_merge_replaces_only_its_project_s_parts_and_keeps_others_secrets() {
        let b = definition(json!({
            "route": { "routes": [{ "receiver": "b-hook", "matchers": ["team=\"b\""] }] },
            "receivers": [{ "name": "b-hook", "webhook_configs": [{ "url": "http://b.example/b-secret" }] }],
        }));
        let files = IndexMap::from([("b.tmpl".to_owned(), "b".to_owned())]);
        let (config, merged_files) =
            merge(Some(team_a()), "b", Some((&b, &files))).expect("merged").expect("a document");
        let text = config.to_string();
        for kept in ["global-secret", "a-secret", "hand-secret", "b-secret", "group_by"] {
            assert!(text.contains(kept), "{kept} kept: {text}");
        }
        assert!(!text.contains(mac_core::secrets::SENSITIVE), "{text}");
        let routes: Vec<String> = List::Routes.items(&config).iter().filter_map(route_key).collect();
        assert_eq!(routes, ["team=\"a\"", "team=\"ops\"", "team=\"b\""]);
        assert_eq!(merged_files.get("a.tmpl").map(String::as_str), Some("{{ define \"a\" }}a{{ end }}"));
        let marker = parse_marker(&merged_files[&marker_name("b")]).expect("b's marker");
        assert_eq!(marker["receivers"], BTreeSet::from(["b-hook".to_owned()]));
        assert_eq!(marker[TEMPLATE_FILES], BTreeSet::from(["b.tmpl".to_owned()]));
        // Whoever reads it: b's parts are b's, a's are a's, the rest nobody's.
        let inventory = Inventory::of(&config, &merged_files);
        assert_eq!(inventory.owner("receivers", "b-hook"), Some("b"));
        assert_eq!(inventory.owner("receivers", "a-hook"), Some("a"));
        assert_eq!(inventory.owner("receivers", "hand"), Some(""));
        assert_eq!(inventory.owner(TEMPLATE_FILES, "b.tmpl"), Some("b"));
    }

    #[test]
    fn an_update_keeps_its_routes_where_they_were_and_a_removal_takes_only_its_parts() {
        let a = definition(json!({
            "route": { "routes": [
                { "receiver": "a-hook", "matchers": ["team=\"a\"", "severity=\"page\""] },
                { "receiver": "a-hook", "matchers": ["team=\"a\""] },
            ] },
            "receivers": [{ "name": "a-hook", "webhook_configs": [{ "url": "http://a.example/new" }] }],
        }));
        let (config, files) =
            merge(Some(team_a()), "a", Some((&a, &IndexMap::new()))).expect("merged").expect("a document");
        let routes: Vec<String> = List::Routes.items(&config).iter().filter_map(route_key).collect();
        assert_eq!(routes, ["severity=\"page\", team=\"a\"", "team=\"a\"", "team=\"ops\""]);
        assert!(!files.contains_key("a.tmpl"), "a no longer defines its template file");
        assert_eq!(config["templates"], Value::Null, "nor its templates entry: {config}");

        let (config, files) = merge(Some((config, files)), "a", None).expect("removed").expect("a document");
        assert_eq!(List::Routes.items(&config).len(), 1);
        assert_eq!(List::Receivers.items(&config).len(), 2, "default and hand stay: {config}");
        assert!(config.to_string().contains("hand-secret") && config.to_string().contains("global-secret"));
        assert!(!files.contains_key(&marker_name("a")), "{files:?}");
        assert_eq!(merge(None, "a", None), Ok(None), "nothing to remove from an empty tenant");
    }

    #[test]
    fn another_project_s_part_is_refused_naming_it() {
        let b = definition(json!({ "receivers": [{ "name": "a-hook" }] }));
        let error = merge(Some(team_a()), "b", Some((&b, &IndexMap::new()))).expect_err("a's receiver");
        assert!(error.starts_with("receiver `a-hook` is managed by project `a`"), "{error}");
        let hand = definition(json!({ "receivers": [{ "name": "hand" }] }));
        let error = merge(Some(team_a()), "b", Some((&hand, &IndexMap::new()))).expect_err("nobody's receiver");
        assert!(error.contains("no project's owner marker claims it"), "{error}");
        let file = IndexMap::from([("a.tmpl".to_owned(), "x".to_owned())]);
        let error = merge(Some(team_a()), "b", Some((&Map::new(), &file))).expect_err("a's template file");
        assert!(error.starts_with("template file `a.tmpl` is managed by project `a`"), "{error}");
    }

    #[test]
    fn a_templates_entry_two_projects_list_stays_with_the_last() {
        let b = definition(json!({ "templates": ["a.tmpl", "b.tmpl"] }));
        let (config, files) =
            merge(Some(team_a()), "b", Some((&b, &IndexMap::new()))).expect("merged").expect("a document");
        assert_eq!(config["templates"], json!(["a.tmpl", "b.tmpl"]), "listed once");
        let (config, files) = merge(Some((config, files)), "a", None).expect("removed").expect("a document");
        assert_eq!(config["templates"], json!(["a.tmpl", "b.tmpl"]), "b still lists it");
        let (config, _) = merge(Some((config, files)), "b", None).expect("removed").expect("a document");
        assert_eq!(config.get("templates"), None, "{config}");
    }

    #[test]
    fn a_templates_entry_made_by_hand_stays_when_a_project_that_lists_it_leaves() {
        let (mut config, files) = team_a();
        config["templates"] = json!(["a.tmpl", "*.tmpl"]);
        let b = definition(json!({ "templates": ["*.tmpl"] }));
        let (config, files) =
            merge(Some((config, files)), "b", Some((&b, &IndexMap::new()))).expect("merged").expect("a document");
        assert!(!files[&marker_name("b")].contains("*.tmpl"), "not b's: {}", files[&marker_name("b")]);
        let (config, _) = merge(Some((config, files)), "b", None).expect("removed").expect("a document");
        assert_eq!(config["templates"], json!(["a.tmpl", "*.tmpl"]), "the hand-made entry stays");
    }

    #[test]
    fn values_a_rewrite_would_change_are_found_and_faithful_ones_are_not() {
        let text = "route:\n  receiver: ops\n  routes:\n  - receiver: ops\n    match: {version: 1.10, flag: True, port: 0x1F}\n    continue: true\n    group_wait: 30s\n  - receiver: ops\n    match: {version: \"1.10\", n: 3}\n";
        assert_eq!(rewrite_changes(text), ["line 5", "line 5", "line 5"]);
    }

    #[test]
    fn a_receiver_another_route_uses_is_not_removed() {
        let (mut config, files) = team_a();
        config["route"]["routes"][1]["receiver"] = json!("a-hook");
        let error = merge(Some((config, files)), "a", None).expect_err("in use");
        assert!(error.starts_with("receiver `a-hook` is still used by route `team=\"ops\"`"), "{error}");
    }

    #[test]
    fn an_empty_tenant_gets_a_root_route_to_a_default_receiver() {
        let b = definition(json!({
            "route": { "routes": [{ "receiver": "b-hook", "matchers": ["team=\"b\""] }] },
            "receivers": [{ "name": "b-hook" }],
        }));
        let (config, _) = merge(None, "b", Some((&b, &IndexMap::new()))).expect("merged").expect("a document");
        assert_eq!(config["route"]["receiver"], DEFAULT_RECEIVER);
        assert_eq!(config["receivers"], json!([{ "name": "default" }, { "name": "b-hook" }]));
        let own_default = definition(json!({ "receivers": [{ "name": "default", "webhook_configs": [] }] }));
        let (config, _) =
            merge(None, "b", Some((&own_default, &IndexMap::new()))).expect("merged").expect("a document");
        assert_eq!(config["receivers"], json!([{ "name": "default", "webhook_configs": [] }]));
    }

    #[test]
    fn the_projection_shows_only_the_parts_asked_for() {
        let (config, files) = team_a();
        let a = markers(&files).remove("a").expect("a's marker");
        let view = project(&config, &a);
        assert_eq!(view["receivers"].as_array().map(Vec::len), Some(1));
        assert_eq!(view["route"]["routes"][0]["matchers"], json!(["team=\"a\""]));
        assert_eq!(view.get("global"), None);
        assert_eq!(project_files(&files, &a).keys().collect::<Vec<_>>(), ["a.tmpl"]);
    }

    #[test]
    fn a_marker_survives_a_comment_end_in_a_key() {
        let mut owned = Owned::new();
        owned.insert("routes".to_owned(), BTreeSet::from(["path=~\"/api/*/\"".to_owned()]));
        let text = marker_text("p", &owned);
        assert_eq!(text.matches("*/").count(), 1, "{text}");
        assert_eq!(parse_marker(&text), Some(owned));
        assert_eq!(marker_project(&marker_name("team-b")), Some("team-b"));
        assert_eq!(
            route_key(&json!({ "match": { "team": "b" }, "match_re": { "env": "prod|dev" } })).as_deref(),
            Some("env=~\"prod|dev\", team=\"b\"")
        );
    }
}
