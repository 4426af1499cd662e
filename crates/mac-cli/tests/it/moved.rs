//! `[[moved]]` blocks and `mac state mv`: a local id renamed in code keeps its remote object
//! (rule uids, history) instead of a delete and a create.

use insta::assert_snapshot;
use serde_json::Value;

use crate::grafana8::{Grafana, PAYMENTS};
use crate::run;

const MOVED: &str = r#"
[[moved]]
from = "grafana8.alert_group.payments-http"
to = "grafana8.alert_group.payments-errors"
"#;

/// PAYMENTS with its group renamed in code from `payments-http` to `payments-errors`.
fn renamed() -> String {
    PAYMENTS.replace("id = \"payments-http\"", "id = \"payments-errors\"")
}

fn rule_uids(grafana: &Grafana) -> Vec<Value> {
    let rules = grafana.api(reqwest::Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    rules["Payments"][0]["rules"]
        .as_array()
        .map(|rules| rules.iter().map(|rule| rule["grafana_alert"]["uid"].clone()).collect())
        .unwrap_or_default()
}

/// Writes (POST, PUT, DELETE) the emulator has answered so far.
fn writes(grafana: &Grafana) -> u64 {
    grafana.requests().iter().filter(|((method, _), _)| method != "GET").map(|(_, count)| count).sum()
}

#[test]
fn a_renamed_group_with_a_moved_block_keeps_its_rules_and_writes_nothing() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let uids = rule_uids(&grafana);
    assert_eq!(uids.len(), 2);

    // Without the block, a rename is a delete and a create: what the block prevents.
    grafana.project.define(&renamed());
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("+ create grafana8/alert_group.payments-errors"), "{stdout}");
    assert!(stdout.contains("- delete grafana8/alert_group.payments-http"), "{stdout}");

    grafana.project.define(&format!("{}{MOVED}", renamed()));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r"
    ~ move grafana8/alert_group.payments-http -> grafana8/alert_group.payments-errors (renamed in code; state only, nothing is written remotely)

    Plan: 0 to create, 0 to update, 0 to delete, 1 to move, 1 unchanged.
    ");

    let writes_before = writes(&grafana);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Apply complete: 0 created, 0 updated, 0 deleted, 1 moved, 0 failed, 0 skipped."),
        "{stdout}"
    );
    assert_eq!(writes(&grafana), writes_before, "a move writes nothing remotely");
    assert_eq!(rule_uids(&grafana), uids, "the rules kept their uids");
    let (_, list, _) = run(grafana.mac().args(["state", "list"]));
    assert!(list.contains("grafana8/alert_group.payments-errors"), "{list}");
    assert!(!list.contains("payments-http"), "{list}");

    // The block stays in code as a record: a no-op from now on.
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 2 object(s) match their definitions.");
}

#[test]
fn a_moved_group_that_also_changed_is_one_update_under_its_new_id() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let uids = rule_uids(&grafana);

    grafana.project.define(&format!("{}{MOVED}", renamed().replace("$A > 0.05", "$A > 0.02")));
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/alert_group.payments-errors (moved from grafana8/alert_group.payments-http)
        ~ rules[id="High 5xx ratio"].data[ref_id="B"].model.expression: "$A > 0.05" -> "$A > 0.02"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(rule_uids(&grafana), uids, "updated in place: the rules kept their uids");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn state_mv_renames_an_entry_without_touching_the_server() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let writes_before = writes(&grafana);

    let (code, stdout, stderr) =
        run(grafana.mac().args(["state", "mv", "alert_group.payments-http", "alert_group.payments-errors"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @"Moved grafana8/alert_group.payments-http to grafana8/alert_group.payments-errors in state; the remote object was not touched.");
    grafana.project.define(&renamed());
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(writes(&grafana), writes_before);

    // Refusals name the problem.
    let (code, _, stderr) = run(grafana.mac().args(["state", "mv", "alert_group.payments-errors", "folder.x"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr.trim(), @"error: a move keeps the provider instance and kind: `grafana8/alert_group.payments-errors` cannot become `grafana8/folder.x`");
    let (code, _, stderr) = run(grafana.mac().args(["state", "mv", "alert_group.payments-errors", "folder.payments"]));
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = run(grafana.mac().args(["state", "mv", "folder.payments", "folder.payments"]));
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn moved_blocks_are_checked_offline_at_their_lines() {
    let grafana = Grafana::start(PAYMENTS);
    let check = |definitions: &str| {
        grafana.project.define(definitions);
        let (code, stdout, stderr) = run(grafana.mac().arg("validate"));
        assert_eq!(code, 1, "{stdout}");
        stderr
    };
    // `from` still defined.
    let still_defined = format!("{PAYMENTS}{MOVED}")
        .replace("to = \"grafana8.alert_group.payments-errors\"", "to = \"grafana8.alert_group.payments-http\"");
    assert!(check(&still_defined).contains("`from` and `to` are the same object"));
    let stderr = check(&format!("{PAYMENTS}{MOVED}"));
    assert_snapshot!(stderr.trim(), @"
    error: definitions/main.toml:45:1: `grafana8/alert_group.payments-http` is moved to `grafana8/alert_group.payments-errors` but is still defined: remove its definition (or this block)
    definitions/main.toml:45:1: `grafana8/alert_group.payments-errors`, where `grafana8/alert_group.payments-http` is moved to, is not defined
    ");
    let stderr = check(&format!(
        "{}{MOVED}\n[[moved]]\nfrom = \"grafana8.alert_group.payments-http\"\nto = \"grafana8.folder.payments\"\n[[moved]]\nform = \"x\"\n",
        renamed()
    ));
    assert_snapshot!(stderr.trim(), @"
    error: definitions/main.toml:51:1: a move keeps the provider instance and kind: `grafana8/alert_group.payments-http` cannot become `grafana8/folder.payments`
    definitions/main.toml:53:1: unknown key `form` in [[moved]]: it takes `from`, `to` and `provider`
    ");
}
