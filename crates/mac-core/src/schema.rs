//! JSON Schemas of what definition and template files may hold, made from the same serde
//! types the loader parses definitions into: each kind's `Desired` derives
//! `schemars::JsonSchema` (a bound of [`crate::Kind`]), so the schema cannot drift from what
//! the loader accepts.
//!
//! A kind's schema ([`desired_schema`]) is JSON Schema draft 7: Taplo (and Even Better TOML,
//! which runs it) validates with a draft-7 validator, and completes from `properties`,
//! `items`, `$ref`, `anyOf` and `oneOf`, which is all a file's schema needs for completion.
//! Its `properties` are in the order
//! its `Desired` type declares its fields (serde_json's `preserve_order`): `mac schema` lists
//! fields in that order, and it is the canonical order of a definition's keys.
//!
//! [`file_schema`] puts every kind together into the schema of a whole file: the loader's
//! `[[PROVIDER.KIND]]` arrays of tables with the meta-fields `id`, `provider` and `protect`,
//! `[[use]]` and `[[moved]]` blocks, and any string field given as a generic reference
//! (`{ ref = "kind.id", field = … }`). A file with a `[template]` table is a template: there,
//! a string that is exactly `"%{param}"` stands for a value of any type, as
//! [`crate::template`] fills it in.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// The JSON Schema of `T`, draft 7, with its `properties` in declaration order. Subschemas a
/// type names more than once, or recursively, stay in `definitions` (`#/definitions/NAME`).
pub fn desired_schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        // The draft is named once, by the file schema that holds this one.
        root.remove("$schema");
    }
    schema
}

/// A container transform (`#[schemars(transform = mac_core::schema::require(&[…]))]`) for a
/// `Desired` type whose fields have a serde default only so that its own validation can say
/// more than serde would: the schema lists them as required, without the default, since the
/// loader refuses a definition without them all the same.
pub fn require(fields: &'static [&'static str]) -> impl FnMut(&mut schemars::Schema) {
    move |schema: &mut schemars::Schema| {
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            for field in fields {
                if let Some(Value::Object(property)) = properties.get_mut(*field) {
                    property.remove("default");
                }
            }
        }
        let required = schema.ensure_object().entry("required").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(required) = required {
            for field in fields {
                if !required.iter().any(|name| name == *field) {
                    required.push(json!(field));
                }
            }
        }
    }
}

/// One kind's definition schema, as [`file_schema`] takes it.
#[derive(Debug, Clone)]
pub struct KindSchema {
    /// The registered provider's name: `grafana8` in `[[grafana8.folder]]`.
    pub provider: String,
    /// The kind's name: `folder`.
    pub kind: String,
    /// [`desired_schema`] of its `Desired` type.
    pub schema: Value,
}

/// The meta-fields the loader takes out of every definition before its kind sees it.
pub const META_FIELDS: [&str; 3] = ["id", "provider", "protect"];

/// A string that is exactly one template placeholder, `"%{name}"` (see [`crate::template`]).
const PLACEHOLDER_PATTERN: &str = r"^%\{[^{}%]+\}$";

/// A local id as the loader accepts it: letters, digits, `_`, `-`, `.` and `:`.
const LOCAL_ID_PATTERN: &str = r"^[\p{L}\p{N}_.:-]+$";

/// The schema of a definition file, or of a template file (one with a `[template]` table),
/// for every kind given: the document a TOML language server validates and completes with.
///
/// A file is checked against one of two schemas (`if`/`then`/`else`): a template's, where a
/// placeholder may stand for any value, or a definition file's. Taplo does not follow `if`
/// to complete keys, so the root also names the definition file's schema in an `anyOf` with
/// the empty schema, which always holds: it adds completion and no error.
pub fn file_schema(kinds: &[KindSchema]) -> Value {
    let mut definitions = Map::new();
    definitions.insert("reference".to_owned(), reference_schema());
    definitions.insert(
        "placeholder".to_owned(),
        json!({
            "description": "A template parameter standing for the whole value, of any type: \"%{name}\".",
            "type": "string",
            "pattern": PLACEHOLDER_PATTERN,
        }),
    );
    let definition_file = variant(kinds, Variant::Definitions, &mut definitions);
    let template_file = variant(kinds, Variant::Template, &mut definitions);
    definitions.insert("definition_file".to_owned(), definition_file);
    definitions.insert("template_file".to_owned(), template_file);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "mac definition or template file",
        "description": "Definitions ([[PROVIDER.KIND]] tables, [[use]], [[moved]]); a file with a [template] table is a template.",
        "type": "object",
        "properties": { "template": template_header_schema() },
        "anyOf": [{ "$ref": "#/definitions/definition_file" }, {}],
        "if": { "type": "object", "required": ["template"] },
        "then": { "$ref": "#/definitions/template_file" },
        "else": { "$ref": "#/definitions/definition_file" },
        "definitions": definitions,
    })
}

/// Which file a schema is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Definitions,
    Template,
}

impl Variant {
    /// The prefix of the names this variant's subschemas have in `definitions`.
    fn prefix(self) -> &'static str {
        match self {
            Variant::Definitions => "",
            Variant::Template => "template:",
        }
    }
}

/// `{ ref = "kind.id", field = "…" }` (see [`crate::refs`]).
fn reference_schema() -> Value {
    json!({
        "description": "Another object's field, known once it exists: { ref = \"KIND.ID\", field = \"FIELD\" } (its remote id without `field`).",
        "type": "object",
        "properties": {
            "ref": { "description": "The object: KIND.ID of this provider instance.", "type": "string", "pattern": r"^[^.]+\..+$" },
            "field": { "description": "Its remote field; its remote id when left out.", "type": "string" },
        },
        "required": ["ref"],
        "additionalProperties": false,
    })
}

/// A whole file's schema in one variant; the kinds' subschemas go into `definitions`.
fn variant(kinds: &[KindSchema], variant: Variant, definitions: &mut Map<String, Value>) -> Value {
    let mut properties = Map::new();
    let mut providers: Vec<&str> = kinds.iter().map(|kind| kind.provider.as_str()).collect();
    providers.dedup();
    for provider in &providers {
        let mut kind_tables = Map::new();
        for kind in kinds.iter().filter(|kind| kind.provider == *provider) {
            let name = format!("{}{}.{}", variant.prefix(), kind.provider, kind.kind);
            let mut schema = kind.schema.clone();
            let subschemas = hoist_definitions(&mut schema, &format!("{name}."));
            let widening = Widening { variant, subschemas: &subschemas };
            widening.accept_in_values(&mut schema);
            for (subname, mut subschema) in subschemas.clone() {
                widening.accept_in_values(&mut subschema);
                widening.widen_definition(&mut subschema);
                definitions.insert(subname, subschema);
            }
            add_meta_fields(&mut schema, provider, variant);
            definitions.insert(name.clone(), schema);
            let summary =
                kind.schema.get("description").and_then(Value::as_str).map(first_paragraph).unwrap_or_default();
            kind_tables.insert(
                kind.kind.clone(),
                json!({
                    "description": format!("[[{}.{}]]: {summary}", kind.provider, kind.kind),
                    "type": "array",
                    "items": { "$ref": format!("#/definitions/{name}") },
                }),
            );
        }
        properties.insert(
            (*provider).to_owned(),
            json!({
                "description": format!("Objects of provider `{provider}`: [[{provider}.KIND]] tables."),
                "type": "object",
                "properties": kind_tables,
                "additionalProperties": false,
            }),
        );
    }
    properties.insert("use".to_owned(), use_schema());
    properties.insert("moved".to_owned(), moved_schema(kinds, variant));
    if variant == Variant::Template {
        // Checked, and completed, at the root: this one holds for every file that has it.
        properties.insert(
            "template".to_owned(),
            json!({ "description": "This file is a template (its [template] table is checked at the root)." }),
        );
    }
    let mut schema = json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if variant == Variant::Template {
        schema["required"] = json!(["template"]);
    }
    schema
}

/// Takes a kind's own `definitions` out, renamed with `prefix` (for the file's
/// `definitions`), and points its `$ref`s at the new names.
fn hoist_definitions(schema: &mut Value, prefix: &str) -> Map<String, Value> {
    let Some(Value::Object(own)) = schema.as_object_mut().and_then(|root| root.remove("definitions")) else {
        return Map::new();
    };
    let renamed: Vec<(String, String)> = own.keys().map(|name| (name.clone(), format!("{prefix}{name}"))).collect();
    rename_refs(schema, &renamed);
    own.into_iter()
        .map(|(name, mut subschema)| {
            rename_refs(&mut subschema, &renamed);
            (format!("{prefix}{name}"), subschema)
        })
        .collect()
}

fn rename_refs(schema: &mut Value, renamed: &[(String, String)]) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(name) = target.strip_prefix("#/definitions/")
                && let Some((_, new)) = renamed.iter().find(|(old, _)| old == name)
            {
                *target = format!("#/definitions/{new}");
            }
            map.values_mut().for_each(|child| rename_refs(child, renamed));
        }
        Value::Array(items) => items.iter_mut().for_each(|child| rename_refs(child, renamed)),
        _ => {}
    }
}

/// What else a value of a kind's schema may be in a file: a generic reference where a string
/// is accepted (the offline checks parse a reference as the string
/// [`crate::KNOWN_AFTER_APPLY`], so it stands only where a string may), and in a template
/// body a placeholder anywhere (filled in before anything is parsed).
struct Widening<'a> {
    variant: Variant,
    /// The kind's subschemas, by their names in the file's `definitions`.
    subschemas: &'a Map<String, Value>,
}

impl Widening<'_> {
    /// Widens every value below `schema` (object properties, list items, table values); the
    /// schema itself stays as it is.
    fn accept_in_values(&self, schema: &mut Value) {
        let Some(map) = schema.as_object_mut() else { return };
        if let Some(Value::Object(properties)) = map.get_mut("properties") {
            for property in properties.values_mut() {
                self.accept_in_values(property);
                self.widen(property);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child @ Value::Object(_)) = map.get_mut(key) {
                self.accept_in_values(child);
                self.widen(child);
            }
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(members)) = map.get_mut(key) {
                members.iter_mut().for_each(|member| self.accept_in_values(member));
            }
        }
    }

    /// `schema`, or what else it admits: a reference where a string goes, a placeholder in a
    /// template. A `$ref` is left as it is: its definition is widened itself
    /// ([`Widening::widen_definition`]).
    fn widen(&self, schema: &mut Value) {
        if schema.get("$ref").is_some() {
            return;
        }
        self.widen_definition(schema);
    }

    /// A schema widened where it stands: a subschema of `definitions`, so that every `$ref`
    /// to it is widened too.
    fn widen_definition(&self, schema: &mut Value) {
        let reference = self.accepts_string(schema, 0);
        let placeholder = self.variant == Variant::Template;
        if !(reference || placeholder) {
            return;
        }
        let Value::Object(map) = schema else { return };
        if merge_alternatives(map, reference, placeholder) {
            return;
        }
        let mut original = std::mem::take(map);
        let mut wrapper = Map::new();
        for key in ["title", "description", "default"] {
            if let Some(value) = original.remove(key) {
                wrapper.insert(key.to_owned(), value);
            }
        }
        let mut members = vec![Value::Object(original)];
        if reference {
            members.push(json!({ "$ref": "#/definitions/reference" }));
        }
        if placeholder {
            members.push(json!({ "$ref": "#/definitions/placeholder" }));
        }
        wrapper.insert("anyOf".to_owned(), Value::Array(members));
        *map = wrapper;
    }

    /// Whether `schema` accepts some string.
    fn accepts_string(&self, schema: &Value, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            return target
                .strip_prefix("#/definitions/")
                .and_then(|name| self.subschemas.get(name))
                .is_some_and(|found| self.accepts_string(found, depth + 1));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(members) = schema.get(key).and_then(Value::as_array) {
                return members.iter().any(|member| self.accepts_string(member, depth + 1));
            }
        }
        match schema.get("type") {
            Some(Value::String(one)) => one == "string",
            Some(Value::Array(many)) => many.iter().any(|one| one == "string"),
            // No type: any value, or one of some values.
            _ => match (schema.get("enum"), schema.get("const")) {
                (Some(Value::Array(choices)), _) => choices.iter().any(Value::is_string),
                (_, Some(constant)) => constant.is_string(),
                _ => true,
            },
        }
    }
}

/// Adds the reference and placeholder forms to a plain typed schema by widening its `type`
/// (`["integer", "string"]` with the placeholder's `pattern`, which applies to strings only;
/// `["string", "object"]` with the reference's object keywords, which apply to tables only),
/// so that a validator names the exact field at fault rather than "not valid under any of
/// anyOf". `false` when the schema is not such a schema, or the forms would clash with it.
fn merge_alternatives(map: &mut Map<String, Value>, reference: bool, placeholder: bool) -> bool {
    const COMPOSED: [&str; 8] = ["$ref", "anyOf", "oneOf", "allOf", "enum", "const", "not", "if"];
    const STRING_RULES: [&str; 4] = ["pattern", "minLength", "maxLength", "format"];
    const OBJECT_RULES: [&str; 4] = ["properties", "required", "additionalProperties", "patternProperties"];
    if COMPOSED.iter().any(|key| map.contains_key(*key)) {
        return false;
    }
    let mut types: Vec<String> = match map.get("type") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        // Without a type (nor anything composed), a schema constrains nothing an alternative
        // would need: it accepts them already.
        _ => return map.keys().all(|key| ["title", "description", "default", "examples"].contains(&key.as_str())),
    };
    let has = |types: &[String], name: &str| types.iter().any(|one| one == name);
    if placeholder {
        if has(&types, "string") {
            if STRING_RULES.iter().any(|key| map.contains_key(*key)) {
                return false;
            }
        } else {
            types.push("string".to_owned());
            map.insert("pattern".to_owned(), json!(PLACEHOLDER_PATTERN));
        }
    }
    if reference {
        if has(&types, "object") || OBJECT_RULES.iter().any(|key| map.contains_key(*key)) {
            return false;
        }
        types.push("object".to_owned());
        if let Value::Object(object_rules) = reference_schema() {
            for key in OBJECT_RULES {
                if let Some(rule) = object_rules.get(key) {
                    map.insert(key.to_owned(), rule.clone());
                }
            }
        }
    }
    map.insert("type".to_owned(), json!(types));
    true
}

/// A kind's schema with the loader's meta-fields first. A kind whose schema is no plain table
/// of properties is taken as it is, with `id` required.
fn add_meta_fields(schema: &mut Value, provider: &str, variant: Variant) {
    let Some(root) = schema.as_object_mut() else { return };
    let id = match variant {
        Variant::Definitions => json!({
            "description": "The definition's local id, unique per kind and provider instance: letters, digits, `_`, `-`, `.` and `:`.",
            "type": "string",
            "pattern": LOCAL_ID_PATTERN,
        }),
        Variant::Template => json!({
            "description": "The definition's local id, unique per kind and provider instance: letters, digits, `_`, `-`, `.` and `:`.",
            "type": "string",
            "minLength": 1,
        }),
    };
    let mut meta = Map::new();
    meta.insert("id".to_owned(), id);
    meta.insert(
        "provider".to_owned(),
        json!({
            "description": format!("The provider instance, such as `{provider}.eu`, when not the default `{provider}`."),
            "type": "string",
            "pattern": format!(r"^{}(\..+)?$", regex_escape(provider)),
        }),
    );
    meta.insert(
        "protect".to_owned(),
        json!({ "description": "Never delete this object, even when its definition goes.", "type": "boolean", "default": false }),
    );
    if variant == Variant::Template {
        // `provider` and `protect` may come from parameters too (`id` is a string with
        // placeholders inside it, such as "%{service}-errors").
        for value in meta.values_mut().skip(1) {
            let Value::Object(mut original) = value.take() else { continue };
            let description = original.remove("description").unwrap_or_default();
            *value = json!({
                "description": description,
                "anyOf": [Value::Object(original), { "$ref": "#/definitions/placeholder" }],
            });
        }
    }
    let properties = match root.remove("properties") {
        Some(Value::Object(properties)) => properties,
        _ => Map::new(),
    };
    meta.extend(properties);
    root.insert("properties".to_owned(), Value::Object(meta));
    let mut required = vec![json!("id")];
    if let Some(Value::Array(own)) = root.remove("required") {
        required.extend(own);
    }
    root.insert("required".to_owned(), Value::Array(required));
}

/// `[[use]]`: a template and its arguments.
fn use_schema() -> Value {
    json!({
        "description": "Definitions from a template: [[use]] template = \"NAME\", with = { PARAM = … }.",
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "template": { "description": "The template's name ([template] name).", "type": "string" },
                "with": { "description": "Its parameters' values; those with a default may be left out.", "type": "object" },
            },
            "required": ["template"],
            "additionalProperties": false,
        },
    })
}

/// `[[moved]]`: a renamed local id (see [`crate::moved`]).
fn moved_schema(kinds: &[KindSchema], variant: Variant) -> Value {
    let end = match variant {
        Variant::Definitions => {
            let names: Vec<String> = kinds
                .iter()
                .map(|kind| format!("{}\\.{}", regex_escape(&kind.provider), regex_escape(&kind.kind)))
                .collect();
            json!({ "type": "string", "pattern": format!(r"^({})\.[\p{{L}}\p{{N}}_.:-]+$", names.join("|")) })
        }
        Variant::Template => json!({ "type": "string" }),
    };
    let mut from = end.clone();
    from["description"] = json!("The old id: PROVIDER.KIND.ID.");
    let mut to = end;
    to["description"] = json!("The new id: PROVIDER.KIND.ID, of the same kind.");
    json!({
        "description": "A local id renamed in code, so that its remote object is kept: [[moved]] from = …, to = ….",
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "from": from,
                "to": to,
                "provider": { "description": "The provider instance, when not the provider's default one.", "type": "string" },
            },
            "required": ["from", "to"],
            "additionalProperties": false,
        },
    })
}

/// `[template]`: its name, description and typed parameters (see [`crate::template`]).
fn template_header_schema() -> Value {
    // Checked as `if`/`then`, which an editor's completion does not follow: it offers `type`
    // and `default` once, from the parameter's own properties.
    let typed = |name: &str, mut default: Value| {
        default["description"] = json!(format!("A {name} parameter's default is a {name}."));
        json!({
            "if": {
                "properties": { "type": { "description": "The parameter's type.", "const": name } },
                "required": ["type"],
            },
            "then": { "properties": { "default": default } },
        })
    };
    let param = json!({
        "type": "object",
        "properties": {
            "type": {
                "description": "The parameter's type.",
                "enum": ["string", "number", "duration", "bool", "list", "map"],
            },
            "default": { "description": "Its value when a use leaves it out; without one, every use must give it." },
            "description": { "description": "What it is for.", "type": "string" },
        },
        "required": ["type"],
        "additionalProperties": false,
        "allOf": [
            typed("string", json!({ "type": "string" })),
            typed("number", json!({ "type": "number" })),
            typed("duration", json!({ "type": "string", "pattern": crate::duration::PATTERN })),
            typed("bool", json!({ "type": "boolean" })),
            typed("list", json!({ "type": "array" })),
            typed("map", json!({ "type": "object" })),
        ],
    });
    json!({
        "description": "This file is a template: used from definition files with [[use]] template = \"NAME\".",
        "type": "object",
        "properties": {
            "name": { "description": "The name uses give.", "type": "string", "minLength": 1 },
            "description": { "description": "What the template defines.", "type": "string" },
            "params": {
                "description": "Its parameters: [template.params.NAME] with `type`, and `default` when it may be left out.",
                "type": "object",
                "additionalProperties": param,
            },
        },
        "required": ["name"],
        "additionalProperties": false,
    })
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The first paragraph of a doc comment, on one line.
pub fn first_paragraph(text: &str) -> String {
    text.lines().map(str::trim).take_while(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// One field of a kind, as `mac schema` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDoc {
    /// Its path: `rules`, `rules[].data[].ref_id`, `labels.*`.
    pub path: String,
    /// Its type in a few words: `string`, `list of tables`, `"NoData" | "OK"`.
    pub type_name: String,
    /// Whether a definition must give it, or what it is when left out.
    pub requirement: Requirement,
    /// The first paragraph of its doc comment, on one line.
    pub summary: String,
}

/// Whether a field must be given.
#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    Required,
    /// Left out, it is this value.
    Default(Value),
    /// May be left out.
    Optional,
}

/// The fields of a kind's schema ([`desired_schema`]), in declaration order, each followed by
/// the fields of the tables it holds (to `depth` levels; a recursive type is listed once).
pub fn fields(schema: &Value, depth: usize) -> Vec<FieldDoc> {
    let mut found = Vec::new();
    let mut visiting = Vec::new();
    collect_fields(schema, schema, "", depth, &mut visiting, &mut found);
    found
}

fn collect_fields(
    root: &Value,
    table: &Value,
    prefix: &str,
    depth: usize,
    visiting: &mut Vec<String>,
    found: &mut Vec<FieldDoc>,
) {
    let Some(properties) = table.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        table.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (name, property) in properties {
        let path = format!("{prefix}{name}");
        let requirement = if required.contains(&name.as_str()) {
            Requirement::Required
        } else {
            match property.get("default") {
                Some(Value::Null) | None => Requirement::Optional,
                Some(default) => Requirement::Default(default.clone()),
            }
        };
        found.push(FieldDoc {
            path: path.clone(),
            type_name: type_name(root, property),
            requirement,
            summary: summary(root, property),
        });
        if depth == 0 {
            continue;
        }
        if let Some(nested) = nested_table(root, property, false)
            && nested.definition.as_ref().is_none_or(|name| !visiting.contains(name))
        {
            visiting.extend(nested.definition.clone());
            collect_fields(root, nested.table, &format!("{path}{}.", nested.suffix), depth - 1, visiting, found);
            if nested.definition.is_some() {
                visiting.pop();
            }
        }
    }
}

/// The table a field holds, itself or as the items of a list.
struct NestedTable<'a> {
    table: &'a Value,
    /// `""` for the field itself, `"[]"` for a list's items.
    suffix: &'static str,
    /// The definition it is, when it is one: a recursive type is listed once.
    definition: Option<String>,
}

fn nested_table<'a>(root: &'a Value, schema: &'a Value, in_list: bool) -> Option<NestedTable<'a>> {
    let mut definition = None;
    let mut current = schema;
    while let Some(target) = current.get("$ref").and_then(Value::as_str) {
        current = target.strip_prefix('#').and_then(|pointer| root.pointer(pointer))?;
        definition = Some(target.to_owned());
    }
    if current.get("properties").is_some() {
        let suffix = if in_list { "[]" } else { "" };
        return Some(NestedTable { table: current, suffix, definition });
    }
    // An optional table (`Option<T>`: T or nothing) is a table; a field of other forms, such
    // as a local id or `{ uid = … }`, shows its forms in its type instead.
    for key in ["anyOf", "oneOf"] {
        if let Some(members) = current.get(key).and_then(Value::as_array) {
            let mut not_null = members.iter().filter(|member| member.get("type") != Some(&json!("null")));
            return match (not_null.next(), not_null.next()) {
                (Some(only), None) => nested_table(root, only, in_list),
                _ => None,
            };
        }
    }
    match current.get("items") {
        Some(items) if !in_list => nested_table(root, items, true),
        _ => None,
    }
}

/// The first line of a field's doc comment, or of its type's when it has none.
fn summary(root: &Value, schema: &Value) -> String {
    let own = schema.get("description").or_else(|| schema.get("title")).and_then(Value::as_str);
    let text = own.or_else(|| {
        let resolved = follow(root, schema);
        resolved.get("description").or_else(|| resolved.get("title")).and_then(Value::as_str)
    });
    text.map(first_paragraph).unwrap_or_default()
}

/// A schema's type in a few words.
pub fn type_name(root: &Value, schema: &Value) -> String {
    type_words(root, schema, 0)
}

fn type_words(root: &Value, schema: &Value, depth: usize) -> String {
    if depth > 4 {
        return "…".to_owned();
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        return match target.strip_prefix('#').and_then(|pointer| root.pointer(pointer)) {
            Some(found) if depth < 2 => type_words(root, found, depth + 1),
            _ => target.rsplit('/').next().unwrap_or(target).to_owned(),
        };
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        return choices.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
    }
    if let Some(constant) = schema.get("const") {
        return constant.to_string();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(members) = schema.get(key).and_then(Value::as_array) {
            let mut words: Vec<String> = Vec::new();
            for member in members {
                let word = type_words(root, member, depth + 1);
                if word != "nothing" && !words.contains(&word) {
                    words.push(word);
                }
            }
            return words.join(" | ");
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = types
        .iter()
        .filter(|name| **name != "null")
        .map(|name| match *name {
            "string" if schema.get("pattern") == Some(&json!(crate::duration::PATTERN)) => "duration".to_owned(),
            "string" => "string".to_owned(),
            "integer" => "integer".to_owned(),
            "number" => "number".to_owned(),
            "boolean" => "bool".to_owned(),
            "array" => match schema.get("items") {
                Some(items) if is_table(root, items) => "list of tables".to_owned(),
                Some(items) => format!("list of {}", type_words(root, items, depth + 1)),
                None => "list".to_owned(),
            },
            "object" => match schema.get("additionalProperties") {
                // One form among others: spelt out, as a definition writes it.
                _ if depth > 0 && schema.get("properties").and_then(Value::as_object).is_some_and(|p| p.len() <= 3) => {
                    inline_table(root, schema, depth)
                }
                _ if schema.get("properties").is_some() => "table".to_owned(),
                Some(Value::Object(values)) if !values.is_empty() => {
                    format!("table of {}", type_words(root, &Value::Object(values.clone()), depth + 1))
                }
                _ => "table".to_owned(),
            },
            other => other.to_owned(),
        })
        .collect();
    match (words.is_empty(), types.as_slice()) {
        (false, _) => words.join(" | "),
        (true, ["null"]) => "nothing".to_owned(),
        (true, _) => "any".to_owned(),
    }
}

/// A small table's type as TOML writes it: `{ uid = string }`.
fn inline_table(root: &Value, schema: &Value, depth: usize) -> String {
    let fields: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, property)| format!("{name} = {}", type_words(root, property, depth + 1)))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

fn is_table(root: &Value, schema: &Value) -> bool {
    follow(root, schema).get("properties").is_some()
}

/// A schema with its `$ref`s followed (a few steps at most: a reference to itself stops).
fn follow<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        let Some(found) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| target.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
        else {
            break;
        };
        current = found;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thing to test with.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        /// The title.
        ///
        /// More about it.
        title: String,
        /// How many.
        #[serde(default)]
        count: u32,
        /// Its parts.
        #[serde(default)]
        parts: Vec<Part>,
    }

    /// One part.
    #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Part {
        /// The part's name.
        name: String,
    }

    #[test]
    fn fields_keep_declaration_order_defaults_and_first_lines() {
        let schema = desired_schema::<Thing>();
        let listed: Vec<(String, String, Requirement, String)> = fields(&schema, 3)
            .into_iter()
            .map(|field| (field.path, field.type_name, field.requirement, field.summary))
            .collect();
        assert_eq!(
            listed,
            [
                ("title".into(), "string".into(), Requirement::Required, "The title.".into()),
                ("count".into(), "integer".into(), Requirement::Default(json!(0)), "How many.".into()),
                ("parts".into(), "list of tables".into(), Requirement::Default(json!([])), "Its parts.".into()),
                ("parts[].name".into(), "string".into(), Requirement::Required, "The part's name.".into()),
            ]
        );
    }

    #[test]
    fn a_file_schema_names_every_kind_with_its_meta_fields() {
        let schema = file_schema(&[KindSchema {
            provider: "p".into(),
            kind: "thing".into(),
            schema: desired_schema::<Thing>(),
        }]);
        let thing = &schema["definitions"]["p.thing"];
        let names: Vec<&String> = thing["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(names, ["id", "provider", "protect", "title", "count", "parts"]);
        assert_eq!(thing["required"], json!(["id", "title"]));
        assert_eq!(thing["additionalProperties"], json!(false));
        // A reference where a string goes, as a table of the string's type.
        let name = &schema["definitions"]["p.thing.Part"]["properties"]["name"];
        assert_eq!(name["type"], json!(["string", "object"]));
        assert_eq!(name["required"], json!(["ref"]));
        // An editor completes from what the root names outside `if`.
        assert_eq!(schema["anyOf"][0]["$ref"], "#/definitions/definition_file");
        let top: Vec<&String> =
            schema["definitions"]["definition_file"]["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(top, ["p", "use", "moved"]);
        assert!(schema["properties"]["template"]["properties"]["params"].is_object());
        let template = &schema["definitions"]["template:p.thing"];
        // A reference only where a string goes; a placeholder anywhere in a template.
        assert_eq!(thing["properties"]["count"]["type"], "integer");
        assert_eq!(template["properties"]["count"]["type"], json!(["integer", "string"]));
        assert_eq!(template["properties"]["count"]["pattern"], PLACEHOLDER_PATTERN);
        // A list of tables in a template: the list, or a table of it, may be a placeholder.
        assert_eq!(template["properties"]["parts"]["type"], json!(["array", "string"]));
        assert_eq!(schema["definitions"]["template:p.thing.Part"]["type"], json!(["object", "string"]));
    }
}
