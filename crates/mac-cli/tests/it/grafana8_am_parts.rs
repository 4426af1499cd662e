//! `grafana8.message_template` and `grafana8.mute_timing` through the `mac` binary against the
//! Grafana 8.5 emulator: both live in the one Alertmanager document with contact points and
//! policies, so every test also checks that what another team keeps there survives.

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::Grafana;
use crate::run;

const CONFIG: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

/// A message template, a mute timing, a contact point that uses the template and a policy
/// muted by the mute timing (named by its name, which makes it a reference to the definition).
const PAYMENTS: &str = r#"
[[grafana8.message_template]]
id = "payments"
name = "payments"
content = '''
{{ define "payments.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}
'''

[[grafana8.mute_timing]]
id = "nights"
name = "nights"

[[grafana8.mute_timing.time_intervals]]
times = [{ start_time = "22:00", end_time = "24:00" }]
weekdays = ["monday:friday"]

[[grafana8.contact_point]]
id = "payments"

[[grafana8.contact_point.integrations]]
type = "webhook"
settings = { url = "http://127.0.0.1:9/payments", title = '{{ template "payments.title" . }}' }

[[grafana8.notification_policy]]
id = "payments"
contact_point = "payments"
matchers = [["team", "=", "payments"]]
mute_timings = ["nights"]
"#;

impl Grafana {
    fn document(&self) -> Value {
        self.api(Method::GET, CONFIG, None)
    }

    /// Another team's template and mute timing, saved in the UI.
    fn other_teams_parts(&self) {
        let mut document = self.document();
        document["template_files"] = json!({ "search": "{{ define \"search.title\" }}search{{ end }}" });
        document["alertmanager_config"]["templates"] = json!(["search"]);
        document["alertmanager_config"]["mute_time_intervals"] =
            json!([{ "name": "weekends", "time_intervals": [{ "weekdays": ["saturday", "sunday"] }] }]);
        let answer = self.api(Method::POST, CONFIG, Some(document));
        assert_eq!(answer["message"], "configuration created", "{answer}");
    }

    /// The requests to the Alertmanager document `command` made, by method.
    fn document_requests(&self, command: impl FnOnce()) -> Vec<(String, u64)> {
        let requests = self.requests_during(command);
        requests
            .into_iter()
            .filter(|((_, route), _)| route == CONFIG)
            .map(|((method, _), count)| (method, count))
            .collect()
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().into_iter().flatten().filter_map(|item| item["name"].as_str()).collect()
}

#[test]
fn templates_and_mute_timings_are_created_read_once_changed_repaired_and_kept_beside_others() {
    let grafana = Grafana::start(PAYMENTS);
    grafana.other_teams_parts();
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    + create grafana8/contact_point.payments
        name = "payments"
        integrations = [
          {
            type = "webhook"
            settings = {
              title = '{{ template "payments.title" . }}'
              url = "http://127.0.0.1:9/payments"
            }
          },
        ]
    + create grafana8/message_template.payments
        name = "payments"
        content = "{{ define \"payments.title\" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}\n"
    + create grafana8/mute_timing.nights
        name = "nights"
        time_intervals = [
          { times = [{ start_time = "22:00", end_time = "24:00" }], weekdays = ["monday:friday"] },
        ]
    + create grafana8/notification_policy.payments
        receiver = "(known after apply)"
        matchers = [["team", "=", "payments"]]
        mute_timings = ["(known after apply)"]

    Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let document = grafana.document();
    let templates: Vec<&String> = document["template_files"].as_object().expect("templates").keys().collect();
    assert_eq!(templates, ["payments", "search"], "the other team's template is kept");
    assert_eq!(
        document["alertmanager_config"]["templates"],
        json!(["search", "payments"]),
        "listed as the UI lists it"
    );
    let mute_timings = &document["alertmanager_config"]["mute_time_intervals"];
    assert_eq!(names(mute_timings), ["weekends", "nights"], "the other team's mute timing is kept");
    assert_eq!(document["alertmanager_config"]["route"]["routes"][0]["mute_time_intervals"], json!(["nights"]));

    // A no-change plan reads the document once, for all four kinds.
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.document_requests(|| outcome = run(grafana.mac().args(["plan", "--detailed-exitcode"])));
    assert_eq!(outcome.0, 0, "{}{}", outcome.1, outcome.2);
    assert_eq!(requests, [("GET".to_owned(), 1)]);

    // One field changes: the plan shows that field, and the apply writes it.
    let changed = PAYMENTS.replace(r#"end_time = "24:00""#, r#"end_time = "23:30""#);
    grafana.project.define(&changed);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/mute_timing.nights
        ~ time_intervals[0].times[0].end_time: "24:00" -> "23:30"

    Plan: 0 to create, 1 to update, 0 to delete, 3 unchanged.
    "#);
    // Applied as a saved plan: its check re-reads the document once before the write.
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut outcome = (0, String::new(), String::new());
    let requests =
        grafana.document_requests(|| outcome = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"])));
    assert_eq!(outcome.0, 0, "{}{}", outcome.1, outcome.2);
    assert_eq!(requests, [("GET".to_owned(), 3), ("POST".to_owned(), 1)], "the check, the write's read and read-back");

    // Edits in the UI are drift, planned back; the other team's parts stay as they are.
    let mut document = grafana.document();
    document["template_files"]["payments"] = json!("{{ define \"payments.title\" }}edited{{ end }}");
    document["alertmanager_config"]["mute_time_intervals"][1]["time_intervals"][0]["weekdays"] = json!(["monday"]);
    grafana.api(Method::POST, CONFIG, Some(document));
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("~ update grafana8/message_template.payments"), "{stdout}");
    assert!(stdout.contains(r#"time_intervals[0].weekdays[0]: "monday" -> "monday:friday""#), "{stdout}");
    assert!(stdout.contains("Plan: 0 to create, 2 to update, 0 to delete, 2 unchanged."), "{stdout}");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let document = grafana.document();
    assert_eq!(document["template_files"]["search"], json!("{{ define \"search.title\" }}search{{ end }}"));
    assert_eq!(names(&document["alertmanager_config"]["mute_time_intervals"]), ["weekends", "nights"]);
}

#[test]
fn a_template_syntax_error_is_reported_at_its_line_before_any_request() {
    let grafana = Grafana::start(&PAYMENTS.replace("{{ .CommonLabels.alertname }}", "{{ .CommonLabels.alertname }"));
    grafana.project.write("templates/ops.tmpl", "{{ define \"ops\" }}\n{{ if .Alerts }}firing\n{{ end }}\n");
    grafana.project.write(
        "definitions/ops.toml",
        "[[grafana8.message_template]]\nid = \"ops\"\nname = \"ops\"\ncontent = { file = \"templates/ops.tmpl\" }\n\n\
         [[grafana8.mute_timing]]\nid = \"lunch\"\nname = \"lunch\"\n\n[[grafana8.mute_timing.time_intervals]]\n\
         times = [{ start_time = \"12:00\", end_time = \"12:00\" }]\n",
    );
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.requests_during(|| outcome = run(grafana.mac().arg("plan")));
    let (code, _, stderr) = outcome;
    assert_eq!(code, 1, "{stderr}");
    assert!(requests.is_empty(), "nothing is sent: {requests:?}");
    assert_snapshot!(stderr, @r#"
    error: definitions/main.toml:5:1: template: payments:1: unexpected "}" in operand
    definitions/ops.toml:4:1: templates/ops.tmpl: template: ops:4: unexpected EOF
    definitions/ops.toml:10:1: start time cannot be equal or greater than end time
    "#);
}

#[test]
fn templates_and_mute_timings_made_in_the_ui_import_to_an_empty_plan() {
    let grafana = Grafana::start("");
    grafana.other_teams_parts();
    let mut document = grafana.document();
    document["alertmanager_config"]["route"]["routes"] = json!([{ "receiver": "grafana-default-email",
        "object_matchers": [["team", "=", "search"]], "mute_time_intervals": ["weekends"] }]);
    let answer = grafana.api(Method::POST, CONFIG, Some(document));
    assert_eq!(answer["message"], "configuration created", "{answer}");

    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    for file in ["message-templates", "mute-timings", "notification-policies"] {
        assert!(stdout.contains(&format!("wrote definitions/{file}.toml")), "{stdout}");
    }
    let read = |file: &str| std::fs::read_to_string(grafana.project.root().join(file)).expect("written");
    let mute_timings = read("definitions/mute-timings.toml");
    assert!(mute_timings.contains(r#"weekdays = ["saturday", "sunday"]"#), "{mute_timings}");
    let policies = read("definitions/notification-policies.toml");
    assert!(policies.contains(r#"mute_timings = ["weekends"]"#), "{policies}");
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_mute_timing_a_policy_still_uses_is_not_deleted_and_prunes_keep_their_guards() {
    let grafana = Grafana::start(PAYMENTS);
    grafana.other_teams_parts();
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The mute timing's definition goes, the policy still names it: refused at plan time.
    let without_mute_timing = PAYMENTS.replace(
        "[[grafana8.mute_timing]]\nid = \"nights\"\nname = \"nights\"\n\n[[grafana8.mute_timing.time_intervals]]\n\
         times = [{ start_time = \"22:00\", end_time = \"24:00\" }]\nweekdays = [\"monday:friday\"]\n",
        "",
    );
    assert_ne!(without_mute_timing, PAYMENTS);
    grafana.project.define(&without_mute_timing);
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "nothing to do: {stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    ! delete grafana8/mute_timing.nights — blocked: grafana8/notification_policy.payments stays and uses it

    No changes. 1 delete blocked. 3 object(s) match their definitions.
    "#);

    // Without the policy too, both go (the policy first); the template's removal is a prune.
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define("");
    let (code, _, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_ne!(code, 0, "deleting everything needs --allow-delete-all");
    assert!(stderr.contains("--allow-delete-all"), "{stderr}");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.document();
    let templates: Vec<&String> = document["template_files"].as_object().expect("templates").keys().collect();
    assert_eq!(templates, ["search"]);
    assert_eq!(document["alertmanager_config"]["templates"], json!(["search"]));
    assert_eq!(names(&document["alertmanager_config"]["mute_time_intervals"]), ["weekends"]);
}

#[test]
fn a_template_file_and_a_mute_timing_named_by_a_generic_reference_apply_and_plan_as_written() {
    let definitions = r#"
[[grafana8.message_template]]
id = "ops"
name = "ops"
content = { file = "templates/ops.tmpl" }

[[grafana8.mute_timing]]
id = "lunch"
name = "lunch"

[[grafana8.mute_timing.time_intervals]]
times = [{ start_time = "12:00", end_time = "13:00" }]

[[grafana8.notification_policy]]
id = "ops"
receiver = "grafana-default-email"
matchers = [["team", "=", "ops"]]
mute_timings = [{ ref = "mute_timing.lunch", field = "name" }]
"#;
    let grafana = Grafana::start(definitions);
    let template = "{{ define \"ops.message\" }}{{ len .Alerts }} alerts{{ end }}\n";
    grafana.project.write("templates/ops.tmpl", template);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.document();
    assert_eq!(document["template_files"]["ops"], json!(template));
    assert_eq!(document["alertmanager_config"]["route"]["routes"][0]["mute_time_intervals"], json!(["lunch"]));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // The file changes: the template's content does.
    grafana
        .project
        .write("templates/ops.tmpl", "{{ define \"ops.message\" }}{{ len .Alerts }} alerts firing{{ end }}\n");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/message_template.ops
        ~ content:
          - "{{ define \"ops.message\" }}{{ len .Alerts }} alerts{{ end }}\n"
          + "{{ define \"ops.message\" }}{{ len .Alerts }} alerts firing{{ end }}\n"

    Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.
    "#);

    // Two definitions of one name would be one entry of the document: refused offline.
    grafana.project.write(
        "definitions/more.toml",
        "[[grafana8.mute_timing]]\nid = \"lunch-again\"\nname = \"lunch\"\n\n[[grafana8.mute_timing.time_intervals]]\n\
         weekdays = [\"friday\"]\n",
    );
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "mute timing `lunch` is also defined by `grafana8/mute_timing.lunch`: names are unique in Grafana"
        ),
        "{stderr}"
    );
}

#[test]
fn a_template_and_a_mute_timing_made_by_hand_are_adopted_by_name() {
    let definitions = r#"
[[grafana8.message_template]]
id = "search"
name = "search"
content = '{{ define "search.title" }}search{{ end }}'

[[grafana8.mute_timing]]
id = "weekends"
name = "weekends"

[[grafana8.mute_timing.time_intervals]]
weekdays = ["saturday", "sunday"]
"#;
    let grafana = Grafana::start(definitions);
    grafana.other_teams_parts();
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("~ adopt grafana8/message_template.search"), "{stdout}");
    assert!(stdout.contains("~ adopt grafana8/mute_timing.weekends"), "{stdout}");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let document = grafana.document();
    assert_eq!(names(&document["alertmanager_config"]["mute_time_intervals"]), ["weekends"], "never duplicated");
    assert_eq!(document["alertmanager_config"]["templates"], json!(["search"]));
}

#[test]
fn a_mute_timing_a_route_mac_does_not_manage_uses_is_warned_about_and_not_deleted() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Another team's route starts using the mute timing, in the UI.
    let mut document = grafana.document();
    document["alertmanager_config"]["route"]["routes"].as_array_mut().expect("routes").push(json!({
        "receiver": "grafana-default-email", "object_matchers": [["team", "=", "search"]],
        "mute_time_intervals": ["nights"] }));
    let answer = grafana.api(Method::POST, CONFIG, Some(document));
    assert_eq!(answer["message"], "configuration created", "{answer}");

    // The payments policy stops using the mute timing (`[]`: left out, it would keep it) and
    // the mute timing goes.
    let without_mute_timing = PAYMENTS.replace("mute_timings = [\"nights\"]\n", "mute_timings = []\n").replace(
        "[[grafana8.mute_timing]]\nid = \"nights\"\nname = \"nights\"\n\n[[grafana8.mute_timing.time_intervals]]\n\
             times = [{ start_time = \"22:00\", end_time = \"24:00\" }]\nweekdays = [\"monday:friday\"]\n",
        "",
    );
    grafana.project.define(&without_mute_timing);
    let (_, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert!(
        stdout.contains("- delete grafana8/mute_timing.nights")
            && stdout.contains(r#"deleting it leaves notification policy "team = search", which mac does not manage"#),
        "the plan warns: {stdout}{stderr}"
    );
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.document_requests(|| outcome = run(grafana.mac().args(["apply", "--auto-approve"])));
    let (code, stdout, stderr) = outcome;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "failed: delete grafana8/mute_timing.nights: mute timing `nights` is still used by the notification \
             policies {team = search}: remove it from them first"
        ),
        "{stdout}{stderr}"
    );
    // The policy's own write went through (it no longer names the mute timing); the delete
    // posted nothing.
    assert_eq!(requests.iter().find(|(method, _)| method == "POST").map(|(_, count)| *count), Some(1), "{requests:?}");
    assert_eq!(names(&grafana.document()["alertmanager_config"]["mute_time_intervals"]), ["nights"]);
}

#[test]
fn a_policy_naming_a_mute_timing_nobody_has_is_refused_at_its_line() {
    let grafana =
        Grafana::start(&PAYMENTS.replace("mute_timings = [\"nights\"]", "mute_timings = [\"nights\", \"weekend\"]"));
    grafana.other_teams_parts();
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.document_requests(|| outcome = run(grafana.mac().arg("plan")));
    let (code, _, stderr) = outcome;
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(requests, [("GET".to_owned(), 1)], "the policies' context comes from the same read");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:28:27: no mute timing `weekend` is defined here or in Grafana; did you mean `weekends`? (Grafana has: weekends), and no `mute_timing` of this project has name `weekend` (defined here: nights). To use a `mute_timing` defined here, write { ref = "mute_timing.ID" }"#);
}

#[test]
fn renaming_a_mute_timing_a_policy_names_literally_is_refused_at_the_policys_line_until_both_change() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The mute timing is renamed; the policy still says "nights", which Grafana has until the
    // apply renames it: the plan is refused at the policy's field, before any write.
    let renamed_only = PAYMENTS.replace("id = \"nights\"\nname = \"nights\"", "id = \"nights\"\nname = \"evenings\"");
    assert_ne!(renamed_only, PAYMENTS);
    grafana.project.define(&renamed_only);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:28:17: `mute_timing` `nights` is renamed to `evenings` by `mute_timing.nights` in this plan, so this field would name nothing once it is applied: write `evenings` here in the same change, or refer to it with { ref = "mute_timing.nights" }"#);
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "apply refuses the same plan");
    // A targeted plan that leaves the rename out is not refused for it.
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--target", "message_template.payments"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = run(grafana.mac().args(["plan", "--target", "mute_timing.nights"]));
    assert_eq!(code, 1, "the rename targeted is refused: {stderr}");
    assert_eq!(names(&grafana.document()["alertmanager_config"]["mute_time_intervals"]), ["nights"]);

    // Both in one change: the name follows in the policy (a reference to the definition now).
    grafana.project.define(&renamed_only.replace("mute_timings = [\"nights\"]", "mute_timings = [\"evenings\"]"));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.document();
    assert_eq!(names(&document["alertmanager_config"]["mute_time_intervals"]), ["evenings"]);
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "no change after: {stdout}{stderr}");
}
