//! `mac schema [KIND] [--json-schema]`: what definitions may hold, from the registry. Each
//! kind's fields come from its `Desired` type's schema (`mac_core::schema`), the same serde
//! type the loader parses definitions into, so this output cannot drift from what loads.

use std::io::Write;
use std::process::ExitCode;

use mac_core::schema::{FieldDoc, KindSchema, Requirement};
use serde_json::Value;

/// How deep `mac schema` lists the fields of tables inside tables.
const NESTING: usize = 4;

/// Prints every kind's fields (or `kind`'s only), or with `json_schema` the JSON Schema of
/// definition and template files (or of `kind`'s fields).
pub fn run(kind: Option<&str>, json_schema: bool) -> anyhow::Result<ExitCode> {
    let registry = mac_core::provider::Registry::from_inventory()?;
    let mut kinds = Vec::new();
    for registration in registry.iter() {
        for spec in (registration.kinds)() {
            kinds.push(KindSchema {
                provider: registration.name.to_owned(),
                kind: spec.name,
                schema: (spec.desired_schema)(),
            });
        }
    }
    let selected: Vec<&KindSchema> = match kind {
        None => kinds.iter().collect(),
        Some(name) => match kinds.iter().find(|kind| format!("{}.{}", kind.provider, kind.kind) == name) {
            Some(found) => vec![found],
            None => {
                let known: Vec<String> = kinds.iter().map(|kind| format!("{}.{}", kind.provider, kind.kind)).collect();
                anyhow::bail!(
                    "unknown kind `{name}` (known kinds: {}){}",
                    known.join(", "),
                    mac_core::suggest::hint(name, known.iter().map(String::as_str))
                );
            }
        },
    };
    let mut out = crate::output::stdout();
    if json_schema {
        let schema = match kind {
            None => mac_core::schema::file_schema(&kinds),
            Some(_) => selected.first().map(|kind| kind.schema.clone()).unwrap_or_default(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&schema)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (index, kind) in selected.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        match kind.schema.get("description").and_then(Value::as_str).map(mac_core::schema::first_paragraph) {
            Some(summary) => writeln!(out, "{}.{}: {summary}", kind.provider, kind.kind)?,
            None => writeln!(out, "{}.{}", kind.provider, kind.kind)?,
        }
        write_fields(&mut out, &mac_core::schema::fields(&kind.schema, NESTING))?;
    }
    writeln!(out)?;
    writeln!(out, "Every [[PROVIDER.KIND]] table also takes:")?;
    write_fields(&mut out, &meta_fields())?;
    writeln!(
        out,
        "A string field's value may be {{ ref = \"KIND.ID\", field = \"FIELD\" }}: that object's field, known once it exists."
    )?;
    writeln!(out, "In a template, a value that is exactly \"%{{param}}\" takes the parameter's value, of any type.")?;
    Ok(ExitCode::SUCCESS)
}

/// The loader's meta-fields, described as the file schema describes them.
fn meta_fields() -> Vec<FieldDoc> {
    let schema = mac_core::schema::file_schema(&[KindSchema {
        provider: "PROVIDER".to_owned(),
        kind: "KIND".to_owned(),
        schema: serde_json::json!({ "type": "object", "properties": {} }),
    }]);
    let kind = &schema["definitions"]["PROVIDER.KIND"];
    mac_core::schema::fields(kind, 0)
        .into_iter()
        .filter(|field| mac_core::schema::META_FIELDS.contains(&field.path.as_str()))
        .collect()
}

/// One line per field: path, type, required or default, meaning; in aligned columns.
fn write_fields(out: &mut impl Write, fields: &[FieldDoc]) -> std::io::Result<()> {
    let requirement = |field: &FieldDoc| match &field.requirement {
        Requirement::Required => "required".to_owned(),
        Requirement::Default(value) => format!("default {}", crate::toml_like::inline(value)),
        Requirement::Optional => String::new(),
    };
    let path_width = fields.iter().map(|field| field.path.chars().count()).max().unwrap_or(0);
    let type_width = fields.iter().map(|field| field.type_name.chars().count()).max().unwrap_or(0);
    let requirement_width = fields.iter().map(|field| requirement(field).chars().count()).max().unwrap_or(0);
    for field in fields {
        let line = format!(
            "  {:<path_width$}  {:<type_width$}  {:<requirement_width$}  {}",
            field.path,
            field.type_name,
            requirement(field),
            field.summary
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
