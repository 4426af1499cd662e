//! Owner markers: the project (`project = "…"` in mac.toml) that manages an object, written on
//! the objects Grafana 8.5 lets carry one, so that another project's `mac import` and
//! adoption leave them alone (see `mac_core::ownership`).
//!
//! - **Alert rules** carry the annotation `mac_project` — never a label: labels route
//!   notifications and make an alert's identity. Grafana stores a rule's annotations as sent
//!   (pkg/services/ngalert/api/api_ruler_validation.go:115, v8.5.4). A rule group's owner is
//!   its rules' marker.
//! - **Dashboards** carry the tag `mac-project:NAME`. Grafana stores the dashboard JSON as
//!   posted (pkg/models/dashboards.go:258-260), so a top-level key would survive API writes,
//!   but a save from Grafana's UI rebuilds the model from the keys the frontend knows
//!   (public/app/features/dashboard/state/DashboardModel.ts:149-173, saved by
//!   `getSaveModelClone`, :244-276) and drops any other; `tags` is one it keeps (:155).
//!
//! A marker is written with every write of the object and hidden from both comparable forms:
//! it never shows as a change, and an object written before markers existed gets its marker
//! with its next real write rather than an update of its own. Objects of the other kinds
//! carry none (README, "Ownership").

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The annotation that names a rule's project.
pub const RULE_ANNOTATION: &str = "mac_project";
/// The prefix of the tag that names a dashboard's project.
pub const DASHBOARD_TAG_PREFIX: &str = "mac-project:";

/// Sets the marker in a rule's annotations as the ruler API takes them.
pub fn mark_rule(annotations: &mut BTreeMap<String, String>, project: Option<&str>) {
    if let Some(project) = project {
        annotations.insert(RULE_ANNOTATION.to_owned(), project.to_owned());
    }
}

/// A definition may not set the marker itself: it is written from mac.toml's `project`.
/// `rules` are the annotations of each rule, in order.
pub fn reserved_rule_annotation<'a>(
    rules: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> Vec<mac_core::FieldError> {
    rules
        .into_iter()
        .enumerate()
        .filter(|(_, annotations)| annotations.contains_key(RULE_ANNOTATION))
        .map(|(index, _)| {
            mac_core::FieldError::at(
                format!("/rules/{index}/annotations/{RULE_ANNOTATION}"),
                format!(
                    "annotation `{RULE_ANNOTATION}` is mac's owner marker: it is written from `project` in mac.toml, not set by hand"
                ),
            )
        })
        .collect()
}

/// Removes the marker from a rule's annotations (both comparable forms, and imports).
pub fn hide_rule_marker(annotations: &mut BTreeMap<String, String>) {
    annotations.remove(RULE_ANNOTATION);
}

/// The project a listed group's rules are marked with (the first in order, should they
/// disagree); `rules` are the annotations of each rule.
pub fn group_owner<'a>(rules: impl IntoIterator<Item = &'a BTreeMap<String, String>>) -> Option<String> {
    rules
        .into_iter()
        .filter_map(|annotations| annotations.get(RULE_ANNOTATION))
        .find(|owner| !owner.is_empty())
        .cloned()
}

fn is_marker_tag(tag: &Value) -> bool {
    tag.as_str().is_some_and(|tag| tag.starts_with(DASHBOARD_TAG_PREFIX))
}

/// Removes marker tags from a dashboard model (both comparable forms, and imports).
pub fn hide_dashboard_marker(model: &mut Map<String, Value>) {
    if let Some(Value::Array(tags)) = model.get_mut("tags") {
        tags.retain(|tag| !is_marker_tag(tag));
    }
}

/// Sets this project's marker tag on a dashboard model to be written (replacing any other).
pub fn mark_dashboard(model: &mut Map<String, Value>, project: Option<&str>) {
    let Some(project) = project else { return };
    hide_dashboard_marker(model);
    let tags = model.entry("tags").or_insert_with(|| json!([]));
    if !tags.is_array() {
        *tags = json!([]);
    }
    if let Value::Array(tags) = tags {
        tags.push(json!(format!("{DASHBOARD_TAG_PREFIX}{project}")));
    }
}

/// The project a stored dashboard model's tag names.
pub fn dashboard_owner(model: &Map<String, Value>) -> Option<String> {
    model
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|tag| tag.strip_prefix(DASHBOARD_TAG_PREFIX))
        .filter(|owner| !owner.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_rule_and_dashboard_read_back_their_owner_and_hide_it() {
        let mut annotations = BTreeMap::from([("summary".to_owned(), "s".to_owned())]);
        mark_rule(&mut annotations, Some("payments"));
        let unmarked = BTreeMap::from([("summary".to_owned(), "t".to_owned())]);
        assert_eq!(group_owner([&unmarked, &annotations]).as_deref(), Some("payments"));
        assert_eq!(reserved_rule_annotation([&unmarked, &annotations])[0].pointer, "/rules/1/annotations/mac_project");
        hide_rule_marker(&mut annotations);
        assert_eq!(annotations, BTreeMap::from([("summary".to_owned(), "s".to_owned())]));
        mark_rule(&mut annotations, None);
        assert_eq!(group_owner([&annotations]), None, "no project, no marker");

        let mut model = json!({ "tags": ["team", "mac-project:old"] }).as_object().cloned().unwrap_or_default();
        mark_dashboard(&mut model, Some("payments"));
        assert_eq!(Value::Object(model.clone()), json!({ "tags": ["team", "mac-project:payments"] }));
        assert_eq!(dashboard_owner(&model).as_deref(), Some("payments"));
        let mut unmarked = json!({}).as_object().cloned().unwrap_or_default();
        mark_dashboard(&mut unmarked, None);
        assert!(unmarked.is_empty(), "no project, no marker");
    }
}
