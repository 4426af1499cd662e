//! Templates: definitions with typed parameters, used from definition files with
//! `[[use]]` tables, and from other templates (bundles).
//!
//! A placeholder is `%{name}` inside a string — a syntax that Grafana's and Prometheus' Go
//! templates (`{{ $labels.instance }}`) and Grafana's math expressions (`$A`) never use. A
//! string that is exactly `%{name}` takes the parameter's typed value (a number, a list, a
//! map); inside a longer string a scalar is formatted in. `%%{` is a literal `%{`.
//! `%{values.NAME}` reads the project's `[values]` (which environments may override).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::source::{Document, Location, SourceError, push_pointer};

/// The type of a template parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    Duration,
    Bool,
    List,
    Map,
}

impl ParamType {
    fn parse(text: &str) -> Option<ParamType> {
        Some(match text {
            "string" => ParamType::String,
            "number" => ParamType::Number,
            "duration" => ParamType::Duration,
            "bool" => ParamType::Bool,
            "list" => ParamType::List,
            "map" => ParamType::Map,
            _ => return None,
        })
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            ParamType::String => value.is_string(),
            ParamType::Number => value.is_number(),
            ParamType::Duration => value.as_str().is_some_and(is_duration),
            ParamType::Bool => value.is_boolean(),
            ParamType::List => value.is_array(),
            ParamType::Map => value.is_object(),
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Duration => "duration (such as \"5m\" or \"1h30m\")",
            ParamType::Bool => "bool",
            ParamType::List => "list",
            ParamType::Map => "map",
        })
    }
}

/// A duration as Prometheus and Grafana write them: whole numbers with the units
/// y w d h m s ms, largest first, each at most once.
fn is_duration(text: &str) -> bool {
    if text == "0" {
        return true;
    }
    let units = ["y", "w", "d", "h", "m", "s", "ms"];
    let mut rest = text;
    let mut next = 0;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let Some(position) = units.iter().position(|unit| *unit == &rest[..unit_len]) else { return false };
        if position < next {
            return false;
        }
        next = position + 1;
        rest = &rest[unit_len..];
    }
    true
}

#[derive(Debug, Clone)]
struct Param {
    kind: ParamType,
    default: Option<Value>,
}

/// One template: its parameters and its body.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub description: String,
    params: BTreeMap<String, Param>,
    document: Arc<Document>,
}

/// The templates a project can use, by name.
#[derive(Debug, Default)]
pub struct Library {
    templates: BTreeMap<String, Template>,
}

impl Library {
    /// Templates from parsed documents; each must have a `[template]` table.
    pub fn from_documents(documents: Vec<Arc<Document>>) -> Result<Library, Vec<SourceError>> {
        let mut templates: BTreeMap<String, Template> = BTreeMap::new();
        let mut problems = Vec::new();
        for document in documents {
            match parse_template(&document) {
                Ok(template) => {
                    if let Some(first) = templates.get(&template.name) {
                        problems.push(document.error(
                            "/template/name",
                            format!(
                                "template `{}` is defined twice; first in {}",
                                template.name,
                                first.document.path().display()
                            ),
                        ));
                    } else {
                        templates.insert(template.name.clone(), template);
                    }
                }
                Err(mut errors) => problems.append(&mut errors),
            }
        }
        if problems.is_empty() { Ok(Library { templates }) } else { Err(problems) }
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.get(name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.templates.keys().map(String::as_str).collect()
    }
}

fn parse_template(document: &Arc<Document>) -> Result<Template, Vec<SourceError>> {
    let root = document.root();
    let Some(header) = root.get("template").and_then(Value::as_object) else {
        return Err(vec![document.error(
            "",
            "a template file needs a [template] table with its `name` (and [template.params.NAME] tables)",
        )]);
    };
    let mut problems = Vec::new();
    for key in header.keys().filter(|key| !["name", "description", "params"].contains(&key.as_str())) {
        problems.push(
            document.error(
                &format!("/template/{key}"),
                format!("unknown field `{key}`, expected name, description, params"),
            ),
        );
    }
    let name = match header.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => {
            problems.push(document.error("/template", "`name` must be a non-empty string"));
            String::new()
        }
    };
    let description = header.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut params = BTreeMap::new();
    for (param, spec) in header.get("params").and_then(Value::as_object).into_iter().flatten() {
        let pointer = push_pointer("/template/params", param);
        let Some(spec) = spec.as_object() else {
            problems.push(document.error(&pointer, "a parameter is a table: { type = \"string\", default = … }"));
            continue;
        };
        for key in spec.keys().filter(|key| !["type", "default", "description"].contains(&key.as_str())) {
            problems.push(document.error(
                &push_pointer(&pointer, key),
                format!("unknown field `{key}`, expected type, default, description"),
            ));
        }
        let Some(kind) = spec.get("type").and_then(Value::as_str).and_then(ParamType::parse) else {
            problems.push(document.error(
                &push_pointer(&pointer, "type"),
                "`type` must be one of string, number, duration, bool, list, map",
            ));
            continue;
        };
        let default = spec.get("default").cloned();
        if let Some(default) = &default
            && !kind.accepts(default)
        {
            problems.push(
                document
                    .error(&push_pointer(&pointer, "default"), format!("the default of `{param}` must be a {kind}")),
            );
        }
        params.insert(param.clone(), Param { kind, default });
    }
    if problems.is_empty() {
        Ok(Template { name, description, params, document: document.clone() })
    } else {
        Err(problems)
    }
}

/// Definitions to load: a document's own values, or a template's body with its parameters
/// filled in (locations still point into the template), with the uses that led there.
#[derive(Debug, Clone)]
pub struct Source {
    pub document: Arc<Document>,
    /// The values, when they differ from the document's (filled placeholders, uses taken out).
    pub values: Option<Value>,
    /// The `[[use]]` sites, outermost first.
    pub via: Vec<Location>,
}

impl Source {
    /// A document's own values, as written.
    pub fn document(document: Arc<Document>) -> Source {
        Source { document, values: None, via: Vec::new() }
    }

    pub fn root(&self) -> &Value {
        self.values.as_ref().unwrap_or_else(|| self.document.root())
    }
}

/// Expands every `[[use]]` of the definition documents. Each document yields its own
/// definitions, and each use (recursively) the body of its template.
pub fn expand(
    documents: &[Arc<Document>],
    library: &Library,
    values: &Map<String, Value>,
) -> Result<Vec<Source>, Vec<SourceError>> {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        // Copy the values only to take out `use`: large files of plain definitions are not copied.
        let (source, uses) = match document.root().get("use") {
            None => (Source::document(document.clone()), None),
            Some(_) => {
                let mut root = document.root().clone();
                let uses = root.as_object_mut().and_then(|map| map.remove("use"));
                (Source { document: document.clone(), values: Some(root), via: Vec::new() }, uses)
            }
        };
        sources.push(source);
        let context = Context { document, bindings: BTreeMap::new(), values, via: Vec::new(), stack: Vec::new() };
        expand_uses(uses.as_ref(), "/use", &context, library, &mut sources, &mut problems);
    }
    if problems.is_empty() { Ok(sources) } else { Err(problems) }
}

/// Where placeholders are being filled: which document, with which parameters.
struct Context<'a> {
    document: &'a Arc<Document>,
    bindings: BTreeMap<String, Value>,
    values: &'a Map<String, Value>,
    via: Vec<Location>,
    /// Template names being expanded, to find cycles.
    stack: Vec<String>,
}

impl Context<'_> {
    /// An error at `pointer` of the current document, naming the uses that led here.
    fn error(&self, pointer: &str, message: impl Into<String>) -> SourceError {
        let mut error = self.document.error(pointer, message);
        if let Some(last) = self.via.last() {
            error
                .message
                .push_str(&format!(" (in template `{}` used at {last})", self.stack.last().map_or("", String::as_str)));
        }
        error
    }
}

fn expand_uses(
    uses: Option<&Value>,
    pointer: &str,
    context: &Context<'_>,
    library: &Library,
    sources: &mut Vec<Source>,
    problems: &mut Vec<SourceError>,
) {
    let Some(uses) = uses else { return };
    let Some(uses) = uses.as_array() else {
        problems.push(context.error(pointer, "`use` must be [[use]] tables: template = \"…\", with = { … }"));
        return;
    };
    for (index, use_table) in uses.iter().enumerate() {
        let at = push_pointer(pointer, &index.to_string());
        if let Err(error) = expand_use(use_table, &at, context, library, sources, problems) {
            problems.push(error);
        }
    }
}

fn expand_use(
    use_table: &Value,
    at: &str,
    context: &Context<'_>,
    library: &Library,
    sources: &mut Vec<Source>,
    problems: &mut Vec<SourceError>,
) -> Result<(), SourceError> {
    let table =
        use_table.as_object().ok_or_else(|| context.error(at, "a use is a table: template = \"…\", with = { … }"))?;
    if let Some(key) = table.keys().find(|key| *key != "template" && *key != "with") {
        return Err(
            context.error(&push_pointer(at, key), format!("unknown field `{key}` in a use, expected template, with"))
        );
    }
    let name = table
        .get("template")
        .and_then(Value::as_str)
        .ok_or_else(|| context.error(at, "a use needs `template`, the name of the template"))?;
    let template = library.get(name).ok_or_else(|| {
        let known = library.names().join(", ");
        context.error(
            &push_pointer(at, "template"),
            format!("no template named `{name}` (known: {})", if known.is_empty() { "none".to_owned() } else { known }),
        )
    })?;
    if context.stack.iter().any(|used| used == name) {
        let mut cycle = context.stack.clone();
        cycle.push(name.to_owned());
        return Err(context.error(
            &push_pointer(at, "template"),
            format!("templates use each other in a cycle: {}", cycle.join(" -> ")),
        ));
    }
    let use_location = context.document.location(at);

    // The arguments, with the using side's placeholders filled in.
    let empty = Map::new();
    let with_pointer = push_pointer(at, "with");
    let given = match table.get("with") {
        None => &empty,
        Some(Value::Object(with)) => with,
        Some(_) => return Err(context.error(&with_pointer, "`with` must be a table of the template's parameters")),
    };
    let mut bindings = BTreeMap::new();
    for (param, value) in given {
        let pointer = push_pointer(&with_pointer, param);
        let Some(spec) = template.params.get(param) else {
            let known: Vec<&str> = template.params.keys().map(String::as_str).collect();
            return Err(context.error(
                &pointer,
                format!("template `{name}` has no parameter `{param}` (its parameters: {})", known.join(", ")),
            ));
        };
        let value = substitute(value, &pointer, context)?;
        if !spec.kind.accepts(&value) {
            return Err(context.error(
                &pointer,
                format!("parameter `{param}` of template `{name}` must be a {}, not {}", spec.kind, describe(&value)),
            ));
        }
        bindings.insert(param.clone(), value);
    }
    for (param, spec) in &template.params {
        if bindings.contains_key(param) {
            continue;
        }
        match &spec.default {
            Some(default) => {
                bindings.insert(param.clone(), default.clone());
            }
            None => {
                return Err(context.error(at, format!("template `{name}` needs parameter `{param}` (a {})", spec.kind)));
            }
        }
    }

    let mut via = context.via.clone();
    via.push(use_location);
    let mut stack = context.stack.clone();
    stack.push(name.to_owned());
    let inner = Context { document: &template.document, bindings, values: context.values, via, stack };
    let mut body = template.document.root().clone();
    let nested = body.as_object_mut().and_then(|map| {
        map.remove("template");
        map.remove("use")
    });
    match substitute(&body, "", &inner) {
        Ok(root) => {
            sources.push(Source { document: template.document.clone(), values: Some(root), via: inner.via.clone() })
        }
        Err(error) => problems.push(error),
    }
    expand_uses(nested.as_ref(), "/use", &inner, library, sources, problems);
    Ok(())
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("the string {text:?}"),
        Value::Number(number) => format!("the number {number}"),
        Value::Bool(flag) => format!("{flag}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
        Value::Null => "nothing".to_owned(),
    }
}

/// Fills placeholders in every string of `value`.
fn substitute(value: &Value, pointer: &str, context: &Context<'_>) -> Result<Value, SourceError> {
    Ok(match value {
        Value::String(text) => fill(text, pointer, context)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| substitute(item, &push_pointer(pointer, &index.to_string()), context))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), substitute(item, &push_pointer(pointer, key), context)?)))
                .collect::<Result<_, SourceError>>()?,
        ),
        other => other.clone(),
    })
}

/// Fills the placeholders of one string.
fn fill(text: &str, pointer: &str, context: &Context<'_>) -> Result<Value, SourceError> {
    if !text.contains("%{") {
        return Ok(Value::String(text.to_owned()));
    }
    // A string that is one placeholder takes the value itself, typed.
    if let Some(name) = text.strip_prefix("%{").and_then(|rest| rest.strip_suffix('}'))
        && !name.contains(['{', '}', '%'])
    {
        return lookup(name, pointer, context).cloned();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("%{") {
        if start > 0 && rest[..start].ends_with('%') {
            // `%%{` is a literal `%{`.
            out.push_str(&rest[..start - 1]);
            out.push_str("%{");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| context.error(pointer, format!("unclosed placeholder in {text:?}: write %{{name}}")))?;
        let name = &after[..end];
        match lookup(name, pointer, context)? {
            Value::String(value) => out.push_str(value),
            Value::Number(number) => out.push_str(&number.to_string()),
            Value::Bool(flag) => out.push_str(&flag.to_string()),
            other => {
                return Err(context.error(
                    pointer,
                    format!(
                        "`{name}` is {}: it can only stand alone in a string (\"%{{{name}}}\"), not inside {text:?}",
                        describe(other)
                    ),
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

fn lookup<'c>(name: &str, pointer: &str, context: &'c Context<'_>) -> Result<&'c Value, SourceError> {
    if let Some(key) = name.strip_prefix("values.") {
        return context.values.get(key).ok_or_else(|| {
            context.error(
                pointer,
                format!("`%{{{name}}}`: mac.toml has no value `{key}` in [values] (or the environment's values)"),
            )
        });
    }
    context.bindings.get(name).ok_or_else(|| {
        let known: BTreeSet<&str> = context.bindings.keys().map(String::as_str).collect();
        let hint = if context.stack.is_empty() {
            "placeholders are filled only inside templates; outside, use %{values.NAME}".to_owned()
        } else {
            format!("the template's parameters: {}", known.into_iter().collect::<Vec<_>>().join(", "))
        };
        context.error(pointer, format!("`%{{{name}}}` is not defined ({hint})"))
    })
}

/// Reads every `*.toml` file below the given directories as a template.
pub fn load_library(directories: &[std::path::PathBuf], root: &Path) -> Result<Library, Vec<SourceError>> {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for directory in directories {
        let full = root.join(directory);
        let mut files = BTreeSet::new();
        collect(&full, &mut files);
        for file in files {
            let shown = file.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| file.clone());
            match crate::source::read_source(&file, &shown).and_then(|bytes| Document::from_bytes(shown.clone(), bytes))
            {
                Ok(document) => documents.push(document),
                Err(problem) => problems.push(problem),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Library::from_documents(documents)
}

fn collect(directory: &Path, files: &mut BTreeSet<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "toml") {
            files.insert(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn library(templates: &[(&str, &str)]) -> Library {
        let documents = templates
            .iter()
            .map(|(path, text)| Document::parse(*path, (*text).to_owned()).expect("valid toml"))
            .collect();
        Library::from_documents(documents).expect("valid templates")
    }

    fn expand_one(library: &Library, text: &str) -> Result<Vec<Source>, Vec<SourceError>> {
        let document = Document::parse("defs.toml", text.to_owned()).expect("valid toml");
        expand(&[document], library, &Map::from_iter([("env".to_owned(), json!("prod"))]))
    }

    const ALERTS: &str = r#"
[template]
name = "alerts"
[template.params.service]
type = "string"
[template.params.ratio]
type = "number"
default = 0.05
[template.params.labels]
type = "map"
default = { severity = "page" }

[[p.group]]
id = "%{service}-errors"
expr = "rate(errors{job=\"%{service}\"}[5m]) > %{ratio}"
ratio = "%{ratio}"
labels = "%{labels}"
summary = "{{ $labels.instance }} of %{service} in %{values.env}: $A, 100%%{x}"
"#;

    #[test]
    fn placeholders_fill_typed_values_and_leave_go_templates_alone() {
        let library = library(&[("t/alerts.toml", ALERTS)]);
        let sources =
            expand_one(&library, "[[use]]\ntemplate = \"alerts\"\nwith = { service = \"api\", ratio = 0.1 }\n")
                .expect("expands");
        assert_eq!(sources.len(), 2);
        assert_eq!(
            sources[1].root()["p"]["group"][0],
            json!({
                "id": "api-errors",
                "expr": "rate(errors{job=\"api\"}[5m]) > 0.1",
                "ratio": 0.1,
                "labels": { "severity": "page" },
                "summary": "{{ $labels.instance }} of api in prod: $A, 100%{x}",
            })
        );
        assert_eq!(sources[1].via[0].to_string(), "defs.toml:1:1");
    }

    #[test]
    fn errors_name_the_use_and_the_template() {
        let library = library(&[("t/alerts.toml", ALERTS)]);
        let error = |text: &str| expand_one(&library, text).expect_err("invalid")[0].to_string();
        assert_eq!(
            error("[[use]]\ntemplate = \"alerts\"\n"),
            "defs.toml:1:1: template `alerts` needs parameter `service` (a string)"
        );
        assert_eq!(
            error("[[use]]\ntemplate = \"alerts\"\nwith = { service = \"a\", sevice = \"b\" }\n"),
            "defs.toml:3:25: template `alerts` has no parameter `sevice` (its parameters: labels, ratio, service)"
        );
        assert_eq!(
            error("[[use]]\ntemplate = \"alerts\"\nwith = { service = \"a\", ratio = \"high\" }\n"),
            "defs.toml:3:25: parameter `ratio` of template `alerts` must be a number, not the string \"high\""
        );
        assert_eq!(
            error("[[use]]\ntemplate = \"alert\"\n"),
            "defs.toml:2:1: no template named `alert` (known: alerts)"
        );
    }

    #[test]
    fn an_undefined_placeholder_and_a_cycle_are_errors() {
        let typo = "[template]\nname = \"typo\"\n\n[[p.group]]\nid = \"%{servce}\"\n";
        let typos = library(&[("t/typo.toml", typo)]);
        let errors = expand_one(&typos, "[[use]]\ntemplate = \"typo\"\n").expect_err("undefined");
        assert_eq!(
            errors[0].to_string(),
            "t/typo.toml:5:1: `%{servce}` is not defined (the template's parameters: ) (in template `typo` used at defs.toml:1:1)"
        );
        let a = "[template]\nname = \"a\"\n\n[[use]]\ntemplate = \"b\"\n";
        let b = "[template]\nname = \"b\"\n\n[[use]]\ntemplate = \"a\"\n";
        let cyclic = library(&[("t/a.toml", a), ("t/b.toml", b)]);
        let errors = expand_one(&cyclic, "[[use]]\ntemplate = \"a\"\n").expect_err("cycle");
        assert!(errors[0].to_string().contains("templates use each other in a cycle: a -> b -> a"), "{}", errors[0]);
    }

    #[test]
    fn durations_are_checked() {
        assert!(is_duration("1h30m") && is_duration("0") && is_duration("90s"));
        assert!(!is_duration("5") && !is_duration("1m1h") && !is_duration("soon"));
    }
}
