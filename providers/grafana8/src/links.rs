//! What lives in and what uses Grafana objects, for the planner's checks of deletes
//! (`mac_core::links`).
//!
//! Grafana 8.5.4 deletes a folder's dashboards with it without a word (DELETE /api/folders/:uid
//! → pkg/services/dashboards/database/database.go:717-718 `DELETE FROM dashboard WHERE
//! folder_id = ?`), and refuses, with 400 "folder cannot be deleted: folder contains alert
//! rules", a folder that holds unified alert rules unless `forceDeleteRules=true`
//! (database.go:766-773, pkg/api/apierrors/folder.go:22; the flag is read at
//! pkg/api/folder.go:101). mac never sends the flag. A data source is deleted whatever uses it
//! (pkg/api/datasources.go:168-200 checks only that it is not read-only).

use mac_core::{LinkTarget, Links, RemoteObject};
use serde_json::{Map, Value};

use crate::client::Client;

/// Data source uids of the ruler API that are not data sources: server-side expressions.
const EXPRESSION_UIDS: [&str; 2] = ["__expr__", "-100"];

/// A rule group (`Folder/Group`) lives in its folder; its queries use data sources by uid.
pub fn rule_group<'a>(folder_uid: &str, title: String, datasource_uids: impl IntoIterator<Item = &'a str>) -> Links {
    let uses = datasource_uids
        .into_iter()
        .filter(|uid| !EXPRESSION_UIDS.contains(uid))
        .map(|uid| LinkTarget::by_remote_id("datasource", uid))
        .collect();
    let lives_in = match folder_uid {
        "" => Vec::new(),
        uid => vec![LinkTarget::by_remote_id("folder", uid)],
    };
    Links { title: Some(title), uid: None, lives_in, uses: dedup(uses) }
}

/// A dashboard (`uid`, its stored `model`, its folder's uid, `""` for General) lives in its
/// folder; its panels, their queries, template variables and annotations use data sources, by
/// uid (`{ "type": …, "uid": … }`, Grafana 8.3 and later) or by name (a plain string, as
/// dashboards saved before 8.3 keep it).
pub fn dashboard(uid: &str, model: &Map<String, Value>, folder_uid: &str) -> Links {
    let mut uses = Vec::new();
    datasource_references_in(model, &mut uses);
    Links {
        title: model.get("title").and_then(Value::as_str).map(str::to_owned),
        uid: Some(uid.to_owned()),
        lives_in: (!folder_uid.is_empty())
            .then(|| LinkTarget::by_remote_id("folder", folder_uid))
            .into_iter()
            .collect(),
        uses: dedup(uses),
    }
}

/// Every `datasource` value anywhere in a dashboard model. Variables (`$ds`, `${DS}`) and
/// Grafana's built-in pseudo data sources (`-- Grafana --`, `-- Mixed --`) name no data source.
fn datasource_references(value: &Value, found: &mut Vec<LinkTarget>) {
    match value {
        Value::Object(map) => datasource_references_in(map, found),
        Value::Array(items) => items.iter().for_each(|item| datasource_references(item, found)),
        _ => {}
    }
}

/// [`datasource_references`] of a table.
fn datasource_references_in(map: &Map<String, Value>, found: &mut Vec<LinkTarget>) {
    for (key, child) in map {
        if key == "datasource" {
            match child {
                Value::String(name) if names_a_datasource(name) => {
                    found.push(LinkTarget::by_title("datasource", name.as_str()));
                }
                Value::Object(reference) => {
                    if let Some(uid) = reference.get("uid").and_then(Value::as_str)
                        && names_a_datasource(uid)
                    {
                        found.push(LinkTarget::by_remote_id("datasource", uid));
                    }
                }
                _ => {}
            }
        }
        datasource_references(child, found);
    }
}

fn names_a_datasource(text: &str) -> bool {
    !text.is_empty() && !text.starts_with('$') && !text.starts_with("-- ") && text != "grafana"
}

fn dedup(mut targets: Vec<LinkTarget>) -> Vec<LinkTarget> {
    targets.sort();
    targets.dedup();
    targets
}

/// Every dashboard with its title and folder only, from `/api/search` (⌈dashboards/1000⌉
/// requests, against one GET per dashboard for their JSON): enough to tell what lives in a
/// folder, not what a dashboard uses.
pub async fn dashboards_by_search(
    client: &Client,
    page_size: usize,
) -> Result<Vec<RemoteObject>, mac_core::HandlerError> {
    let mut dashboards = Vec::new();
    for page in 1.. {
        let query = [("type", "dash-db".to_owned()), ("limit", page_size.to_string()), ("page", page.to_string())];
        let answer = client.get(&["api", "search"], &query).await?;
        let hits = answer.body.as_array().cloned().unwrap_or_default();
        for hit in &hits {
            let Some(uid) = hit.get("uid").and_then(Value::as_str) else { continue };
            dashboards.push(RemoteObject {
                remote_id: uid.to_owned(),
                adoption_key: Some(uid.to_owned()),
                fields: mac_core::JsonText::from_value(&serde_json::json!({
                    "dashboard": { "uid": uid, "title": hit.get("title") },
                    "folder_uid": hit.get("folderUid").and_then(Value::as_str).unwrap_or_default(),
                })),
                part_ids: Default::default(),
            });
        }
        if hits.len() < page_size {
            break;
        }
    }
    dashboards.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
    dashboards.dedup_by(|a, b| a.remote_id == b.remote_id);
    Ok(dashboards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dashboard_uses_the_data_sources_its_panels_queries_and_variables_name() {
        let model = json!({ "title": "Overview",
            "panels": [
                { "datasource": "Old name", "targets": [{ "datasource": { "type": "prometheus", "uid": "p1" } }] },
                { "type": "row", "panels": [{ "datasource": { "uid": "p2" } }] },
                { "datasource": "-- Mixed --" }, { "datasource": "$ds" }, { "datasource": null },
            ],
            "templating": { "list": [{ "type": "query", "datasource": { "uid": "p1" } }] },
            "annotations": { "list": [{ "datasource": "-- Grafana --" }] },
        });
        let links = dashboard("abc", model.as_object().expect("a table"), "f");
        assert_eq!(links.title.as_deref(), Some("Overview"));
        assert_eq!(links.lives_in, [LinkTarget::by_remote_id("folder", "f")]);
        assert_eq!(
            links.uses,
            [
                LinkTarget::by_remote_id("datasource", "p1"),
                LinkTarget::by_remote_id("datasource", "p2"),
                LinkTarget::by_title("datasource", "Old name"),
            ]
        );
    }

    #[test]
    fn a_rule_group_uses_its_queries_data_sources_not_expressions() {
        let links = rule_group("f", "Payments/HTTP".to_owned(), ["p1", "__expr__", "p1", "-100"]);
        assert_eq!(links.title.as_deref(), Some("Payments/HTTP"));
        assert_eq!(links.lives_in, [LinkTarget::by_remote_id("folder", "f")]);
        assert_eq!(links.uses, [LinkTarget::by_remote_id("datasource", "p1")]);
    }
}
