//! Where mac's owner markers live, and that Grafana keeps them: a rule's annotations and a
//! dashboard's tags (and any other key of the dashboard JSON an API client sends) are stored as
//! sent and answered back (providers/grafana8/src/owner.rs relies on both).

use crate::ruler::{ns_path, rule};
use crate::support::{Target, unique};
use serde_json::json;

#[tokio::test]
async fn a_rule_annotation_and_a_dashboard_tag_survive_a_save_and_come_back() {
    let t = Target::new().await;
    let (folder_uid, folder_title, _) = t.folder().await;
    let ds = t.prometheus().await;

    // api_ruler_validation.go:115 `newAlertRule.Annotations = ruleNode.ApiRuleNode.Annotations`:
    // any annotation key is stored as posted, and answered in the ruler GET.
    let mut marked = rule(&ds, "a", "");
    marked["annotations"] = json!({"summary": "x", "mac_project": "payments"});
    let group = json!({"name": "g1", "interval": "1m", "rules": [marked]});
    let (s, b) = t.send("POST", &ns_path(&folder_title), &t.admin(), Some(group)).await;
    assert_eq!(s, 202, "{b}");
    // The ruler answers its GETs with 202 too (api_ruler.go:256 `response.JSON(http.StatusAccepted, result)`).
    let (s, b) = t.send("GET", &format!("{}/g1", ns_path(&folder_title)), &t.admin(), None).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["rules"][0]["annotations"], json!({"summary": "x", "mac_project": "payments"}));

    // models/dashboards.go:258-260 `NewDashboardFromJson` keeps the posted JSON as the
    // dashboard's Data, and dashboard.go:193-196 answers it as `dashboard`: tags and a key no
    // Grafana code knows both come back. (Only a save from the UI rebuilds the model from the
    // keys the frontend knows, DashboardModel.ts:149-173, keeping `tags` at :155.)
    let uid = unique("marked");
    let body = json!({"dashboard": {"uid": uid, "title": unique("Marked"), "tags": ["team", "mac-project:payments"],
                      "macProject": "payments"}, "folderUid": folder_uid});
    let (s, b) = t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = t.send("GET", &format!("/api/dashboards/uid/{uid}"), &t.admin(), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["dashboard"]["tags"], json!(["team", "mac-project:payments"]));
    assert_eq!(b["dashboard"]["macProject"], json!("payments"));
}
