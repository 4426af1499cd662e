//! Natural-key references (see [`KeyReference`]): a field that names an object by its key
//! (`datasource = { name = "Prometheus" }`) refers to the definition of the project that has
//! that key, exactly as if it were written `{ ref = "datasource.prometheus", field = "uid" }`.
//!
//! The loader rewrites such fields into generic references before anything else looks at
//! them, so everything generic references get follows: a dependency edge (the named object is
//! created first), `(known after apply)` in a plan while it does not exist, its remote value
//! at apply, and no change once applied. A key no definition has is left as written, for the
//! handler to resolve against the server.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::json_text::JsonText;
use crate::object::{Definition, ObjectId};
use crate::provider::{Handler, KeyReference, Providers};
use crate::source::SourceError;

/// Replaces every natural-key reference that names a definition of the same provider
/// instance by a generic reference to it. A key that two definitions share is an error (the
/// remote would refuse the second anyway).
pub fn link(definitions: &mut [Definition], providers: &Providers) -> Vec<SourceError> {
    let mut problems = Vec::new();
    // (instance, kind, key field, key) → the definitions with that key; built for the kinds
    // and key fields something refers to, only when something does.
    let mut wanted: Vec<(usize, KeyReference)> = Vec::new();
    let found = crate::parallel::in_order(definitions, 64, |definition| {
        providers
            .handler(&definition.id.provider, &definition.id.kind)
            .map(|handler| handler.key_references(&definition.fields))
            .unwrap_or_default()
    });
    for (index, references) in found.into_iter().enumerate() {
        wanted.extend(references.into_iter().map(|reference| (index, reference)));
    }
    if wanted.is_empty() {
        return problems;
    }
    // The key fields referred to, per kind: a few, however many references there are (one
    // per rule query in a large project), so that indexing stays linear in the definitions.
    let mut key_fields: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (_, reference) in &wanted {
        key_fields.entry(reference.kind.as_str()).or_default().insert(reference.key_field.as_str());
    }
    let mut by_key: BTreeMap<(&str, &str, &str, String), Vec<&ObjectId>> = BTreeMap::new();
    for definition in definitions.iter() {
        let Some(wanted_fields) = key_fields.get(definition.id.kind.as_str()) else { continue };
        let mut fields = definition.fields.to_map();
        for key_field in wanted_fields {
            if let Some(Value::String(key)) = fields.remove(*key_field) {
                by_key
                    .entry((&definition.id.provider, &definition.id.kind, key_field, key))
                    .or_default()
                    .push(&definition.id);
            }
        }
    }
    let mut rewrites: Vec<(usize, String, Value)> = Vec::new();
    let mut literal: Vec<(usize, KeyReference)> = Vec::new();
    for (index, reference) in &wanted {
        let definition = &definitions[*index];
        let slot = (
            definition.id.provider.as_str(),
            reference.kind.as_str(),
            reference.key_field.as_str(),
            reference.key.clone(),
        );
        match by_key.get(&slot).map(Vec::as_slice) {
            None | Some([]) => literal.push((*index, reference.clone())),
            Some([target]) => {
                let mut generic = json!({ "ref": target.short() });
                if let Some(field) = &reference.value_field {
                    generic["field"] = json!(field);
                }
                rewrites.push((*index, reference.pointer.clone(), generic));
            }
            Some(several) => {
                let names: Vec<String> = several.iter().map(|id| format!("`{}`", id.short())).collect();
                problems.push(definition.error(
                    &reference.pointer,
                    format!(
                        "`{}` `{}` is defined more than once ({}): refer to one with {{ ref = \"{}\"{} }}",
                        reference.kind,
                        reference.key,
                        names.join(", "),
                        several[0].short(),
                        value_field_suffix(reference)
                    ),
                ));
            }
        }
    }
    for (index, reference) in literal {
        definitions[index].literal_keys.push(reference);
    }
    // Each definition's text parsed once for all its rewrites (one per rule query, say).
    let mut by_definition: BTreeMap<usize, Vec<(String, Value)>> = BTreeMap::new();
    for (index, pointer, generic) in rewrites {
        by_definition.entry(index).or_default().push((pointer, generic));
    }
    for (index, rewrites) in by_definition {
        let fields = &mut definitions[index].fields;
        let mut value = fields.to_value();
        for (pointer, generic) in rewrites {
            if let Some(slot) = value.pointer_mut(&pointer) {
                *slot = generic;
            }
        }
        *fields = JsonText::from_value(&value);
    }
    problems
}

fn value_field_suffix(reference: &KeyReference) -> String {
    reference.value_field.as_ref().map(|field| format!(", field = \"{field}\"")).unwrap_or_default()
}

/// What to add to a handler's error (`message`) about the field at `pointer` when that field is a
/// natural-key reference no definition matched: the keys this project defines for that kind,
/// the closest of them, and how to refer to a definition. Empty for any other field.
pub fn unresolved_hint<'d>(
    definition: &Definition,
    handler: &dyn Handler,
    pointer: &str,
    message: &str,
    definitions: impl Iterator<Item = &'d Definition>,
) -> String {
    let Some(reference) =
        handler.key_references(&definition.fields).into_iter().find(|reference| reference.pointer == pointer)
    else {
        return String::new();
    };
    let mut defined: Vec<(&str, String)> = definitions
        .filter(|other| other.id.provider == definition.id.provider && other.id.kind == reference.kind)
        .filter_map(|other| match other.fields.to_map().remove(&reference.key_field) {
            Some(Value::String(key)) => Some((other.id.local_id.as_str(), key)),
            _ => None,
        })
        .collect();
    defined.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    let closest = crate::suggest::did_you_mean(&reference.key, defined.iter().map(|(_, key)| key.as_str()));
    // The handler may have suggested the same name from what the server has.
    let already_suggested = closest.is_some_and(|key| message.contains(&format!("did you mean `{key}`")));
    let example_id = closest
        .and_then(|key| defined.iter().find(|(_, defined_key)| defined_key == key))
        .map_or("ID", |(local_id, _)| *local_id);
    let listed = if defined.is_empty() {
        "none".to_owned()
    } else {
        defined.iter().map(|(_, key)| key.as_str()).collect::<Vec<_>>().join(", ")
    };
    format!(
        ", and no `{kind}` of this project has {field} `{key}`{hint} (defined here: {listed}). \
         To use a `{kind}` defined here, write {{ ref = \"{kind}.{example_id}\"{suffix} }}",
        kind = reference.kind,
        field = reference.key_field,
        key = reference.key,
        hint = closest.filter(|_| !already_suggested).map(|key| format!("; did you mean `{key}`?")).unwrap_or_default(),
        suffix = value_field_suffix(&reference),
    )
}

/// A natural-key reference written literally (`mute_timings = ["nights"]`) to an object this
/// plan renames (`mute_timing.nights`'s name goes from `nights` to `evenings`) is refused at
/// its field: the plan would pass — the old name still exists — and apply would leave the
/// field naming nothing (the provider renames the object wherever the server uses it, so the
/// next plan fails at that line). A reference to the definition follows the rename instead.
/// Only the references [`link`] left literal are looked at (no definition is parsed again),
/// and only against the actions of this plan (after `--target`), so a targeted plan that
/// renames nothing is not refused for a rename it leaves out.
pub(crate) fn refuse_renamed_away(
    actions: &BTreeMap<ObjectId, crate::plan::Action>,
    definitions: &[Definition],
) -> Result<(), SourceError> {
    let mut literal = definitions.iter().filter(|definition| !definition.literal_keys.is_empty()).peekable();
    if literal.peek().is_none() {
        return Ok(());
    }
    // (instance, kind, field, old key) → (the renamed object, its new key).
    let mut renamed: BTreeMap<(&str, &str, &str, String), (&ObjectId, String)> = BTreeMap::new();
    for action in actions.values() {
        if action.operation != crate::plan::Operation::Update {
            continue;
        }
        for change in &action.changes {
            let (Some(old), Some(new)) = (&change.old, &change.new) else { continue };
            let (Value::String(old), Value::String(new)) = (old.to_value(), new.to_value()) else { continue };
            if change.path.contains(['.', '[']) || old == new {
                continue;
            }
            let slot = (action.id.provider.as_str(), action.id.kind.as_str(), change.path.as_str(), old);
            renamed.insert(slot, (&action.id, new));
        }
    }
    if renamed.is_empty() {
        return Ok(());
    }
    let mut offending: Vec<(&Definition, &KeyReference, &ObjectId, &str)> = Vec::new();
    for definition in literal {
        for reference in &definition.literal_keys {
            let slot = (
                definition.id.provider.as_str(),
                reference.kind.as_str(),
                reference.key_field.as_str(),
                reference.key.clone(),
            );
            if let Some((target, new)) = renamed.get(&slot) {
                offending.push((definition, reference, target, new));
            }
        }
    }
    let Some((definition, reference, target, new)) = offending.first() else { return Ok(()) };
    let others: Vec<String> = offending[1..]
        .iter()
        .map(|(other, reference, ..)| other.field_location(&reference.pointer).to_string())
        .collect();
    let also = match others.len() {
        0 => String::new(),
        n if n <= 3 => format!(" (also named so at {})", others.join(", ")),
        n => format!(" (also named so at {} and {} more)", others[..3].join(", "), n - 3),
    };
    Err(definition.error(
        &reference.pointer,
        format!(
            "`{}` `{}` is renamed to `{new}` by `{}` in this plan, so this field would name nothing once it is \
             applied: write `{new}` here in the same change, or refer to it with {{ ref = \"{}\"{} }}{also}",
            reference.kind,
            reference.key,
            target.short(),
            target.short(),
            value_field_suffix(reference)
        ),
    ))
}
