//! The grafana8 provider end to end: the `mac` binary against the Grafana 8.5 emulator on
//! loopback. (A real Grafana 8.5.4 cannot be built on this workplace: issue 3.)

use std::collections::BTreeMap;

use grafana8_emulator::{Emulator, EmulatorConfig, Role};
use insta::assert_snapshot;
use serde_json::{Value, json};

use crate::{Project, run};

/// An emulator with an Admin API key and a Prometheus data source, and a project that
/// points at it.
pub(crate) struct Grafana {
    pub(crate) emulator: Emulator,
    pub(crate) key: String,
    pub(crate) datasource_uid: String,
    pub(crate) project: Project,
    // Declared last: dropped after the emulator it runs.
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl Grafana {
    pub(crate) fn start(definitions: &str) -> Grafana {
        Grafana::start_as(definitions, Role::Admin)
    }

    fn start_as(definitions: &str, role: Role) -> Grafana {
        Grafana::start_with(definitions, role, EmulatorConfig::default())
    }

    /// An emulator started from `config` (a seed of users and teams, say).
    pub(crate) fn start_with(definitions: &str, role: Role, config: EmulatorConfig) -> Grafana {
        Grafana::launch(definitions, role, config, true)
    }

    /// An emulator with nothing in it but the admin and an API key: no data source.
    pub(crate) fn start_empty(definitions: &str) -> Grafana {
        Grafana::launch(definitions, Role::Admin, EmulatorConfig::default(), false)
    }

    fn launch(definitions: &str, role: Role, config: EmulatorConfig, with_prometheus: bool) -> Grafana {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (emulator, key, datasource_uid) = runtime.block_on(async {
            let emulator = Emulator::start(config).await.expect("emulator starts");
            let key = emulator.create_api_key("mac-tests", role).await.expect("api key");
            let uid = if with_prometheus {
                emulator.create_prometheus_datasource("Prometheus", "http://127.0.0.1:9090").await.expect("datasource")
            } else {
                String::new()
            };
            (emulator, key, uid)
        });
        let project = Project::empty();
        project.write(
            "mac.toml",
            &format!(
                "[providers.grafana8]\nurl = \"{}\"\ntoken = {{ env = \"GRAFANA_TOKEN\" }}\n",
                emulator.base_url()
            ),
        );
        project.define(definitions);
        Grafana { emulator, key, datasource_uid, project, runtime }
    }

    pub(crate) fn mac(&self) -> assert_cmd::Command {
        self.mac_in(&self.project)
    }

    /// `mac` in another project (one sharing this Grafana), with this Grafana's API key.
    pub(crate) fn mac_in(&self, project: &Project) -> assert_cmd::Command {
        let mut command = project.mac();
        command.env("GRAFANA_TOKEN", &self.key).env_remove("MAC_GRAFANA8_URL").env_remove("MAC_GRAFANA8_TOKEN");
        command
    }

    /// A request to the emulator as the admin, as a person using Grafana's UI would make.
    pub(crate) fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.emulator.base_url());
        self.runtime.block_on(async {
            let mut request = reqwest::Client::new().request(method, url).basic_auth("admin", Some("admin"));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("emulator answers");
            response.json::<Value>().await.unwrap_or(Value::Null)
        })
    }

    fn rules(&self) -> Value {
        self.api(reqwest::Method::GET, "/api/ruler/grafana/api/v1/rules", None)
    }

    pub(crate) fn requests(&self) -> BTreeMap<(String, String), u64> {
        self.emulator.request_counts()
    }

    /// The requests `command` made, by (method, route): only those it made.
    pub(crate) fn requests_during(&self, command: impl FnOnce()) -> BTreeMap<(String, String), u64> {
        let before = self.requests();
        command();
        self.requests_since(&before)
    }

    /// The requests made since the counts `before` were taken, by (method, route): only those.
    pub(crate) fn requests_since(&self, before: &BTreeMap<(String, String), u64>) -> BTreeMap<(String, String), u64> {
        self.requests()
            .into_iter()
            .filter_map(|(route, count)| {
                let made = count - before.get(&route).unwrap_or(&0);
                (made > 0).then_some((route, made))
            })
            .collect()
    }

    /// A dashboard saved by hand (in the UI) in the folder `folder_uid` (`""`: General).
    pub(crate) fn hand_made_dashboard(&self, uid: &str, title: &str, folder_uid: &str, panels: Value) {
        let answer = self.api(
            reqwest::Method::POST,
            "/api/dashboards/db",
            Some(json!({ "dashboard": { "uid": uid, "title": title, "panels": panels }, "folderUid": folder_uid })),
        );
        assert_eq!(answer["status"], "success", "{answer}");
    }
}

// Fixtures: definitions that tests share, whole or in parts.

/// The `payments` folder, titled "Payments".
pub(crate) const PAYMENTS_FOLDER: &str = "\n[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n";

/// The share of requests that fail, a Prometheus query.
pub(crate) const ERRORS: &str =
    r#"sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))"#;

/// The p95 request latency, a Prometheus query.
pub(crate) const LATENCY: &str =
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))";

/// The `payments` folder and its rule group `HTTP` (id `payments-http`, every minute) of `rules`.
pub(crate) fn payments_http(rules: &[String]) -> String {
    format!(
        "{PAYMENTS_FOLDER}\n[[grafana8.alert_group]]\nid = \"payments-http\"\nfolder = \"payments\"\nname = \"HTTP\"\n\
         interval = \"1m\"\n{}",
        rules.concat()
    )
}

/// A rule titled `title` whose condition B holds when the query `expr` (A, to the data source
/// named `datasource`) is over `threshold`. `settings`: lines of the rule after its condition,
/// `for = "5m"\n` say, or "".
pub(crate) fn threshold_rule(title: &str, settings: &str, datasource: &str, expr: &str, threshold: &str) -> String {
    format!(
        r#"
[[grafana8.alert_group.rules]]
title = "{title}"
condition = "B"
{settings}
[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = {{ name = "{datasource}" }}
model = {{ expr = '{expr}' }}

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = {{ type = "math", expression = "$A > {threshold}" }}
"#
    )
}

pub(crate) const PAYMENTS: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.alert_group]]
id = "payments-http"
folder = "payments"
name = "HTTP"
interval = "1m"

[[grafana8.alert_group.rules]]
title = "High 5xx ratio"
condition = "B"
for = "5m"
labels = { severity = "page" }
annotations = { summary = "More than 5% of requests fail" }

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { name = "Prometheus" }
relative_time_range = { from = "10m", to = "0s" }
model = { expr = "sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))" }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "math", expression = "$A > 0.05" }

[[grafana8.alert_group.rules]]
title = "Slow p95"
condition = "B"
for = "600s"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { name = "Prometheus" }
model = { expr = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))" }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "math", expression = "$A > 0.5" }
"#;

#[test]
fn create_edit_rename_drift_and_prune_against_the_emulator() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rules = grafana.rules();
    let group = &rules["Payments"][0];
    assert_eq!(group["name"], "HTTP");
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(2));
    assert_eq!(group["rules"][0]["grafana_alert"]["data"][0]["datasourceUid"], json!(grafana.datasource_uid));

    // Re-plan right after apply: nothing, and a constant handful of reads.
    let before = grafana.requests();
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let reads: u64 = grafana.requests_since(&before).values().sum();
    assert_eq!(reads, 5, "health, org, folders, rules, data sources");

    // A threshold edit shows as exactly that field.
    grafana.project.define(&PAYMENTS.replace("$A > 0.05", "$A > 0.02"));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/alert_group.payments-http
        ~ rules[id="High 5xx ratio"].data[ref_id="B"].model.expression: "$A > 0.05" -> "$A > 0.02"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 1 unchanged.
    "#);
    let uid_before = grafana.rules()["Payments"][0]["rules"][0]["grafana_alert"]["uid"].clone();
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let rule = &grafana.rules()["Payments"][0]["rules"][0];
    assert_eq!(rule["grafana_alert"]["uid"], uid_before, "updated in place, not recreated");
    assert_eq!(rule["grafana_alert"]["data"][1]["model"]["expression"], "$A > 0.02");

    // Renaming the folder moves nothing and leaves no spurious diff on the group.
    let renamed =
        PAYMENTS.replace("$A > 0.05", "$A > 0.02").replace("title = \"Payments\"", "title = \"Payments team\"");
    grafana.project.define(&renamed);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/folder.payments
        ~ title: "Payments" -> "Payments team"

    Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged.
    "#);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    assert!(grafana.rules().get("Payments team").is_some());
    let (code, _, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);

    // Drift: someone edits the folder title in the UI.
    let folder = grafana.api(reqwest::Method::GET, "/api/folders/mac-payments", None);
    grafana.api(
        reqwest::Method::PUT,
        "/api/folders/mac-payments",
        Some(json!({ "title": "Renamed in the UI", "version": folder["version"] })),
    );
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("(drift: changed outside mac"), "{stdout}");
    assert!(stdout.contains(r#"title: "Renamed in the UI" -> "Payments team""#), "{stdout}");
    run(grafana.mac().args(["apply", "--auto-approve"]));

    // Removing the group from code prunes it; the folder stays while it is defined.
    let folder_only = "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments team\"\n";
    grafana.project.define(folder_only);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("- delete grafana8/alert_group.payments-http"), "{stdout}");
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(grafana.rules(), json!({}));
}

#[test]
fn a_folder_holding_rules_mac_does_not_manage_is_never_deleted() {
    let grafana = Grafana::start("[[grafana8.folder]]\nid = \"shared\"\ntitle = \"Shared\"\n");
    run(grafana.mac().args(["apply", "--auto-approve"]));
    // A rule made by hand in the folder mac manages.
    let rule = json!({
        "name": "hand-made",
        "interval": "1m",
        "rules": [{ "grafana_alert": {
            "title": "Made in the UI", "condition": "A",
            "data": [{ "refId": "A", "datasourceUid": "__expr__", "relativeTimeRange": { "from": 0, "to": 0 },
                       "model": { "type": "math", "expression": "1 > 0" } }],
        }}],
    });
    grafana.project.define("");
    // Seen at plan time: the delete is shown as blocked, and apply does not attempt it.
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--allow-delete-all", "-o", "clean.plan"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("- delete grafana8/folder.shared (folder \"Shared\", uid \"mac-shared\")\n"), "{stdout}");
    // Made after the plan was saved: the folder handler still refuses at apply time, as
    // Grafana would delete the folder's dashboards and (with forceDeleteRules) its rules.
    grafana.api(reqwest::Method::POST, "/api/ruler/grafana/api/v1/rules/Shared", Some(rule));
    let (code, stdout, _) = run(grafana.mac().args(["apply", "clean.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("refusing to delete folder `Shared`: it still holds what mac does not manage")
            && stdout.contains("alert group `hand-made` (Made in the UI)"),
        "{stdout}"
    );
    assert!(grafana.rules().get("Shared").is_some(), "the hand-made rule survives");
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(r#"! delete grafana8/folder.shared — blocked: holds alert group "Shared/hand-made" that mac does not manage"#),
        "{stdout}"
    );
    assert!(grafana.rules().get("Shared").is_some(), "the hand-made rule survives");
}

#[test]
fn errors_are_plain_and_located() {
    let grafana = Grafana::start(&PAYMENTS.replace("{ name = \"Prometheus\" }", "{ name = \"Prometheus-typo\" }"));
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:21:1: Grafana has no data source named `Prometheus-typo`; did you mean `Prometheus`? (it has: Prometheus), and no `datasource` of this project has name `Prometheus-typo` (defined here: none). To use a `datasource` defined here, write { ref = "datasource.ID", field = "uid" }"#);

    grafana.project.define(&PAYMENTS.replace("folder = \"payments\"", "folder = \"paymnts\""));
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: definitions/main.toml:8:1: `folder.paymnts` is not defined for provider instance `grafana8`; did you mean `folder.payments`?");

    grafana.project.define(&PAYMENTS.replace("condition = \"B\"\nfor = \"5m\"", "condition = \"C\"\nfor = \"5m\""));
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: definitions/main.toml:14:1: condition `C` is not the ref_id of any query of this rule (A, B)");

    grafana.project.define(PAYMENTS);
    let (code, _, stderr) = run(grafana.mac().arg("plan").env("GRAFANA_TOKEN", "not-a-key"));
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: provider `grafana8`: Grafana at http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("refused the credentials") && stderr.contains("check `token` or `basic`"), "{stderr}");
    assert!(!stderr.contains("not-a-key"), "the token is never printed");

    let base = grafana.emulator.base_url();
    grafana.emulator.shutdown();
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("cannot connect to Grafana at {base}/ (GET /api/health: ")), "{stderr}");
}

#[test]
fn a_rule_grafana_rejects_is_reported_at_its_file_and_line() {
    // The emulator, like Grafana, refuses a query on a data source uid it does not know.
    let grafana =
        Grafana::start(&PAYMENTS.replacen("datasource = { name = \"Prometheus\" }", "datasource = \"no-such-uid\"", 2));
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1);
    let failure = stdout.lines().find(|line| line.starts_with("failed:")).unwrap_or_default();
    assert!(
        failure.starts_with("failed: definitions/main.toml:12:1: create grafana8/alert_group.payments-http:"),
        "{stdout}"
    );
    assert!(failure.contains("data source not found: no-such-uid"), "{failure}");
}

#[test]
fn a_rule_renamed_with_a_stable_id_keeps_its_uid() {
    let with_id = PAYMENTS.replacen(
        "[[grafana8.alert_group.rules]]\ntitle = \"Slow p95\"",
        "[[grafana8.alert_group.rules]]\nid = \"latency\"\ntitle = \"Slow p95\"",
        1,
    );
    let grafana = Grafana::start(&with_id);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    let uid = grafana.rules()["Payments"][0]["rules"][1]["grafana_alert"]["uid"].clone();
    grafana.project.define(&with_id.replace("title = \"Slow p95\"", "title = \"Slow p99\""));
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains(r#"rules[id="latency"].title: "Slow p95" -> "Slow p99""#), "{stdout}");
    run(grafana.mac().args(["apply", "--auto-approve"]));
    let rule = &grafana.rules()["Payments"][0]["rules"][1]["grafana_alert"];
    assert_eq!((rule["title"].clone(), rule["uid"].clone()), (json!("Slow p99"), uid));
}

#[test]
fn import_of_a_hand_made_grafana_round_trips_to_an_empty_plan() {
    let grafana = Grafana::start("");
    grafana.api(reqwest::Method::POST, "/api/folders", Some(json!({ "uid": "ops-uid", "title": "Ops Team" })));
    grafana.api(reqwest::Method::POST, "/api/folders", Some(json!({ "uid": "other-uid", "title": "Other" })));
    let group = json!({
        "name": "disk",
        "interval": "2m",
        "rules": [{
            "for": "15m",
            "labels": { "severity": "warn" },
            "annotations": { "summary": "{{ $labels.instance }} is almost full" },
            "grafana_alert": {
                "title": "Disk full",
                "condition": "B",
                "no_data_state": "OK",
                "data": [
                    { "refId": "A", "datasourceUid": grafana.datasource_uid, "relativeTimeRange": { "from": 3600, "to": 0 },
                      "model": { "expr": "node_filesystem_avail_bytes < 1e9", "refId": "A" } },
                    { "refId": "B", "datasourceUid": "__expr__", "relativeTimeRange": { "from": 0, "to": 0 },
                      "model": { "type": "math", "expression": "$A > 0" } },
                ],
            },
        }],
    });
    grafana.api(reqwest::Method::POST, "/api/ruler/grafana/api/v1/rules/Ops%20Team", Some(group));

    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8", "--folder", "Ops Team"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @"
    wrote definitions/datasources.toml
    wrote definitions/ops-team.toml
    Imported 3 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    ");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/ops-team.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.folder]]
    id = "ops-team"
    title = "Ops Team"
    uid = "ops-uid"

    [[grafana8.alert_group]]
    id = "ops-team-disk"
    folder = "ops-team"
    name = "disk"
    interval = "2m"

    [[grafana8.alert_group.rules]]
    title = "Disk full"
    condition = "B"
    for = "15m"
    no_data_state = "OK"
    labels = { severity = "warn" }
    annotations = { summary = "{{ $labels.instance }} is almost full" }

    [[grafana8.alert_group.rules.data]]
    ref_id = "A"
    datasource = { ref = "datasource.prometheus", field = "uid" }
    relative_time_range = { from = "1h", to = "0s" }
    model = { expr = "node_filesystem_avail_bytes < 1e9", refId = "A" }

    [[grafana8.alert_group.rules.data]]
    ref_id = "B"
    datasource = "__expr__"
    model = { expression = "$A > 0", type = "math" }
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 3 object(s) match their definitions.");

    // The imported definitions are ordinary ones: an edit is planned as usual.
    std::fs::write(
        grafana.project.root().join("definitions/ops-team.toml"),
        file.replace("for = \"15m\"", "for = \"30m\""),
    )
    .expect("edit");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains(r#"rules[id="Disk full"].for: "15m" -> "30m""#), "{stdout}");
    // `Other` was not asked for and stays unmanaged.
    let (_, stdout, _) = run(grafana.mac().args(["state", "list"]));
    assert!(!stdout.contains("other"), "{stdout}");
}

const WITH_DATASOURCE: &str = r#"
[[grafana8.datasource]]
id = "metrics"
name = "Metrics"
type = "prometheus"
url = "http://127.0.0.1:9090"
basic_auth = true
basic_auth_user = "grafana"
json_data = { httpMethod = "POST" }
secure_json_data = { basicAuthPassword = { env = "METRICS_PASSWORD" } }

[[grafana8.folder]]
id = "ops"
title = "Ops"

[[grafana8.alert_group]]
id = "ops-up"
folder = "ops"
name = "up"

[[grafana8.alert_group.rules]]
title = "Target down"
condition = "B"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { ref = "datasource.metrics", field = "uid" }
model = { expr = "up == 0" }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "math", expression = "$A > 0" }
"#;

#[test]
fn a_datasource_with_a_secret_and_a_rule_referring_to_it() {
    const PASSWORD: &str = "datasource-canary-3c1f";
    let grafana = Grafana::start(WITH_DATASOURCE);
    let mac = || {
        let mut command = grafana.mac();
        command.env("METRICS_PASSWORD", PASSWORD);
        command
    };
    let (_, stdout, _) = run(mac().arg("plan"));
    assert!(
        stdout.contains(r#"datasource_uid = "(known after apply)""#),
        "the reference is resolved at apply: {stdout}"
    );
    assert!(stdout.contains("secure_json_data.basicAuthPassword = \"(sensitive)\""), "{stdout}");
    let (code, stdout, stderr) = run(mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let datasource = grafana.api(reqwest::Method::GET, "/api/datasources/uid/mac-metrics", None);
    assert_eq!(datasource["secureJsonFields"]["basicAuthPassword"], true);
    assert_eq!(datasource["basicAuthUser"], "grafana");
    let rule = &grafana.rules()["Ops"][0]["rules"][0]["grafana_alert"];
    assert_eq!(rule["data"][0]["datasourceUid"], "mac-metrics", "the reference was resolved to the new uid");
    let (code, stdout, _) = run(mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // One field, a rotated secret, and drift made in the UI.
    grafana.project.define(&WITH_DATASOURCE.replace("127.0.0.1:9090", "127.0.0.1:9091"));
    let (_, stdout, _) = run(mac().arg("plan").env("METRICS_PASSWORD", "rotated-password"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/datasource.metrics
        ~ url: "http://127.0.0.1:9090" -> "http://127.0.0.1:9091"
        ~ secure_json_data.basicAuthPassword: "(sensitive)" -> "(sensitive, changed)"

    Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.
    "#);
    run(mac().args(["apply", "--auto-approve"]).env("METRICS_PASSWORD", "rotated-password"));
    let (code, _, _) = run(mac().args(["plan", "--detailed-exitcode"]).env("METRICS_PASSWORD", "rotated-password"));
    assert_eq!(code, 0);
    let mut changed = grafana.api(reqwest::Method::GET, "/api/datasources/uid/mac-metrics", None);
    changed["jsonData"] = json!({ "httpMethod": "GET" });
    let id = changed["id"].as_i64().expect("id");
    grafana.api(reqwest::Method::PUT, &format!("/api/datasources/{id}"), Some(changed));
    let (_, stdout, _) = run(mac().arg("plan").env("METRICS_PASSWORD", "rotated-password"));
    assert!(
        stdout.contains("(drift: changed outside mac") && stdout.contains(r#"json_data.httpMethod: "GET" -> "POST""#),
        "{stdout}"
    );

    // Nothing mac printed or wrote holds either password.
    let state = std::fs::read_to_string(grafana.project.root().join(".mac/state.json")).expect("state");
    assert!(!state.contains(PASSWORD) && !state.contains("rotated-password"), "the state holds no password");
}

#[test]
fn a_datasource_made_by_hand_is_adopted_by_name_or_imported() {
    let grafana = Grafana::start("");
    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote definitions/datasources.toml"), "{stdout}");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/datasources.toml")).expect("written");
    assert!(file.contains("name = \"Prometheus\"") && file.contains("type = \"prometheus\""), "{file}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // Without import: the same name is offered for adoption, never duplicated.
    let other = Grafana::start(
        "[[grafana8.datasource]]\nid = \"prom\"\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\n",
    );
    let (_, stdout, _) = run(other.mac().arg("plan"));
    assert!(stdout.contains("~ adopt grafana8/datasource.prom"), "{stdout}");
    let (code, _, _) = run(other.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0);
    let (code, stdout, _) = run(other.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

const CHANNEL: &str = r##"
[[grafana8.notification_channel]]
id = "ops-slack"
name = "Ops Slack"
type = "slack"
settings = { recipient = "#ops", username = "grafana" }
secure_settings = { url = { env = "SLACK_WEBHOOK" } }
send_reminder = true
frequency = "90m"
"##;

#[test]
fn a_notification_channel_with_a_secret_url() {
    let grafana = Grafana::start(CHANNEL);
    let mac = || {
        let mut command = grafana.mac();
        command.env("SLACK_WEBHOOK", "https://hooks.example.com/secret-token-7f3a");
        command
    };
    let (code, stdout, stderr) = run(mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("secret-token-7f3a"), "{stdout}");
    let channel = grafana.api(reqwest::Method::GET, "/api/alert-notifications/uid/mac-ops-slack", None);
    assert_eq!((channel["frequency"].clone(), channel["secureFields"]["url"].clone()), (json!("1h30m"), json!(true)));
    let (code, stdout, _) = run(mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "90m and Grafana's 1h30m are the same frequency: {stdout}");

    grafana.project.define(&CHANNEL.replace("#ops", "#ops-alerts"));
    let (_, stdout, _) = run(mac().arg("plan"));
    assert_snapshot!(stdout, @r##"
    ~ update grafana8/notification_channel.ops-slack
        ~ settings.recipient: "#ops" -> "#ops-alerts"

    Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.
    "##);
    let (code, _, _) = run(mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let channel = grafana.api(reqwest::Method::GET, "/api/alert-notifications/uid/mac-ops-slack", None);
    assert_eq!(channel["settings"]["recipient"], "#ops-alerts");
    assert_eq!(channel["secureFields"]["url"], true, "the stored secret survives the update");

    grafana.project.define("");
    let (code, _, _) = run(mac().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0);
    assert_eq!(grafana.api(reqwest::Method::GET, "/api/alert-notifications", None), json!([]));
}

fn team(name: &str) -> String {
    format!(
        r#"
[[grafana8.contact_point]]
id = "{name}"
name = "{name}-oncall"

[[grafana8.contact_point.integrations]]
type = "webhook"
settings = {{ url = "http://127.0.0.1:9/{name}" }}
secure_settings = {{ password = {{ env = "HOOK_PASSWORD" }} }}

[[grafana8.notification_policy]]
id = "{name}"
contact_point = "{name}"
matchers = [["team", "=", "{name}"]]
group_by = ["alertname"]
repeat_interval = "240m"
"#
    )
}

#[test]
fn two_teams_share_one_alertmanager_document_without_undoing_each_other() {
    let grafana = Grafana::start(&team("payments"));
    let payments = &grafana.project;
    let search = Project::empty();
    search.write("mac.toml", &std::fs::read_to_string(payments.root().join("mac.toml")).expect("mac.toml"));
    search.define(&team("search"));
    let mac = |project: &Project| {
        let mut command = project.mac();
        command.env("GRAFANA_TOKEN", &grafana.key).env("HOOK_PASSWORD", "hook-secret-51ad");
        command
    };
    let (code, stdout, stderr) = run(mac(payments).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = run(mac(&search).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    let names: Vec<&str> = document["alertmanager_config"]["receivers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|receiver| receiver["name"].as_str())
        .collect();
    assert_eq!(names, ["grafana-default-email", "payments-oncall", "search-oncall"], "the default receiver is kept");
    assert_eq!(document["alertmanager_config"]["route"]["routes"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        document["alertmanager_config"]["receivers"][1]["grafana_managed_receiver_configs"][0]["secureFields"]["password"],
        true
    );
    for project in [payments, &search] {
        let (code, stdout, _) = run(mac(project).args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "each team sees only its own part, unchanged: {stdout}");
    }

    // Payments changes its policy; search's part (and its stored secret) is untouched.
    payments.define(&team("payments").replace("240m", "1h"));
    let (_, stdout, _) = run(mac(payments).arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/notification_policy.payments
        ~ repeat_interval: "4h" -> "1h"

    Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged.
    "#);
    run(mac(payments).args(["apply", "--auto-approve"]));
    let (code, _, _) = run(mac(&search).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);
    let document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    assert_eq!(
        document["alertmanager_config"]["receivers"][2]["grafana_managed_receiver_configs"][0]["secureFields"]["password"],
        true
    );

    // Payments leaves: its policy goes before its contact point; search stays.
    payments.define("");
    let (code, stdout, stderr) = run(mac(payments).args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    assert_eq!(document["alertmanager_config"]["route"]["routes"].as_array().map(Vec::len), Some(1));
    let (code, _, _) = run(mac(&search).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);
}

#[test]
fn a_policy_whose_matchers_grafana_sorts_plans_no_change_after_apply() {
    // Grafana 8.5.4 sorts a route's object matchers when it decodes them
    // (pkg/services/ngalert/api/tooling/definitions/alertmanager.go:1252,
    // `sort.Sort(labels.Matchers(*m))`), so the document answers them in another order than
    // written: that is no change.
    let definitions = team("payments").replace(
        r#"matchers = [["team", "=", "payments"]]"#,
        r#"matchers = [["team", "=", "payments"], ["severity", "=~", "page|critical"]]"#,
    );
    let grafana = Grafana::start(&definitions);
    let mac = || {
        let mut command = grafana.mac();
        command.env("HOOK_PASSWORD", "hook-secret-51ad");
        command
    };
    let (code, stdout, stderr) = run(mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    assert_eq!(
        document["alertmanager_config"]["route"]["routes"][0]["object_matchers"],
        json!([["severity", "=~", "page|critical"], ["team", "=", "payments"]]),
        "Grafana answers them sorted"
    );
    let (code, stdout, stderr) = run(mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn channels_contact_points_and_policies_made_by_hand_import_to_an_empty_plan() {
    let grafana = Grafana::start("");
    grafana.api(
        reqwest::Method::POST,
        "/api/alert-notifications",
        Some(json!({ "name": "Legacy email", "type": "email", "settings": { "addresses": "ops@example.com" } })),
    );
    let mut document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    document["alertmanager_config"]["receivers"].as_array_mut().expect("receivers").push(
        json!({ "name": "db-team", "grafana_managed_receiver_configs": [{
            "uid": "", "name": "db-team", "type": "email", "disableResolveMessage": false,
            "settings": { "addresses": "db@example.com" } }] }),
    );
    document["alertmanager_config"]["route"]["routes"] =
        json!([{ "receiver": "db-team", "object_matchers": [["team", "=", "db"]], "group_wait": "60s" }]);
    grafana.api(reqwest::Method::POST, "/api/alertmanager/grafana/config/api/v1/alerts", Some(document));

    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    for file in ["contact-points", "notification-policies", "notification-channels", "datasources"] {
        assert!(stdout.contains(&format!("wrote definitions/{file}.toml")), "{stdout}");
    }
    let policies = std::fs::read_to_string(grafana.project.root().join("definitions/notification-policies.toml"))
        .expect("written");
    assert!(policies.contains("contact_point = \"db-team\"") && policies.contains("group_wait = \"1m\""), "{policies}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // Drift on an imported policy, made in the UI, is planned back.
    let mut document = grafana.api(reqwest::Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    document["alertmanager_config"]["route"]["routes"][0]["group_wait"] = json!("5m");
    grafana.api(reqwest::Method::POST, "/api/alertmanager/grafana/config/api/v1/alerts", Some(document));
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(
        stdout.contains("(drift: changed outside mac") && stdout.contains(r#"group_wait: "5m" -> "1m""#),
        "{stdout}"
    );
}

#[test]
fn an_overloaded_or_flaky_grafana_is_retried_and_a_lost_write_converges_on_rerun() {
    use grafana8_emulator::{FaultConfig, FaultKind, FaultRule};
    let grafana = Grafana::start(PAYMENTS);
    let rule = |method: &str, route: &str, fault: FaultKind, nth: u64| FaultRule {
        method: Some(method.to_owned()),
        route: Some(route.to_owned()),
        fault,
        nth: Some(nth),
        probability: None,
        retry_after_secs: Some(1),
    };
    grafana.emulator.set_faults(FaultConfig {
        seed: 7,
        latency: None,
        rules: vec![
            rule("GET", "/api/ruler/grafana/api/v1/rules", FaultKind::Status429, 1),
            rule("POST", "/api/folders", FaultKind::Status502, 1),
            rule("POST", "/api/ruler/grafana/api/v1/rules/{Namespace}", FaultKind::Status429, 1),
        ],
    });
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "429 and 502 are retried: {stdout}{stderr}");
    // Each faulted request was answered with its fault, then retried once.
    for (method, route) in [("POST", "/api/folders"), ("POST", "/api/ruler/grafana/api/v1/rules/{Namespace}")] {
        assert_eq!(grafana.emulator.request_count(method, route), 2, "{method} {route}: {:?}", grafana.requests());
    }
    assert!(grafana.emulator.request_count("GET", "/api/ruler/grafana/api/v1/rules") >= 2, "{:?}", grafana.requests());
    let (code, _, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);

    // A write whose connection drops may or may not have happened: it is not repeated blindly,
    // the run fails, and the next run finds the truth and converges.
    grafana.project.define(&PAYMENTS.replace("$A > 0.05", "$A > 0.01"));
    grafana.emulator.set_faults(FaultConfig {
        seed: 7,
        latency: None,
        rules: vec![rule("POST", "/api/ruler/grafana/api/v1/rules/{Namespace}", FaultKind::Drop, 1)],
    });
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    grafana.emulator.set_faults(FaultConfig::default());
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let (code, _, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);
    assert_eq!(grafana.rules()["Payments"][0]["rules"].as_array().map(Vec::len), Some(2), "no duplicate rules");
}

#[test]
fn credentials_never_travel_unencrypted_to_another_host() {
    let project = Project::new("");
    project.write("mac.toml", "[providers.grafana8]\nurl = \"http://grafana.example.com\"\ntoken = { env = \"T\" }\n");
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: mac.toml:2:1: provider `grafana8`: `http://grafana.example.com` would send the credentials unencrypted over the network: use https://, or set allow_insecure_http = true");
    project.write(
        "mac.toml",
        "[providers.grafana8]\nurl = \"http://grafana.example.com\"\ntoken = { env = \"T\" }\nallow_insecure_http = true\n",
    );
    let (code, _, _) = run(project.mac().arg("validate"));
    assert_eq!(code, 0);
}

#[test]
fn debug_logs_show_every_request_and_no_credential() {
    let grafana = Grafana::start(PAYMENTS);
    let (code, _, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "GET /api/health attempt 1: ok",
        "GET /api/ruler/grafana/api/v1/rules attempt 1: ok",
        "POST /api/folders attempt 1: ok",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(!stderr.contains(&grafana.key), "the API key never appears in logs");
    let (_, _, quiet) = run(grafana.mac().arg("plan"));
    assert!(!quiet.contains("attempt 1"), "the default level is quiet: {quiet}");
}

#[test]
fn skipping_tls_verification_is_loud() {
    let project = Project::new("");
    project.write(
        "mac.toml",
        "[providers.grafana8]\nurl = \"https://grafana.example.com\"\ntoken = { env = \"T\" }\ninsecure_skip_verify = true\n",
    );
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 0);
    assert!(stderr.contains("insecure_skip_verify = true — TLS certificates are NOT checked"), "{stderr}");
}

/// The ruler API addresses folders by title. A saved plan that moves a group out of a folder
/// renamed since, whose old title another folder took, must not delete that folder's group.
#[test]
fn a_move_applied_after_a_folder_rename_deletes_from_the_right_folder() {
    const GROUP: &str = r#"
[[grafana8.alert_group]]
id = "slos"
folder = "FOLDER"
name = "SLOs"
interval = "1m"

[[grafana8.alert_group.rules]]
title = "Errors"
condition = "B"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { name = "Prometheus" }
model = { expr = "up", instant = true }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "math", expression = "$A > 0" }
"#;
    let old_folder = "[[grafana8.folder]]\nid = \"old\"\ntitle = \"Payments\"\n";
    let grafana = Grafana::start(&format!("{old_folder}{}", GROUP.replace("FOLDER", "old")));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Reviewed: move the group into a new folder.
    grafana.project.define(&format!(
        "{old_folder}\n[[grafana8.folder]]\nid = \"other\"\ntitle = \"Other\"\n{}",
        GROUP.replace("FOLDER", "other")
    ));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "move.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Meanwhile, in the UI: the folder is renamed and a new "Payments" gets its own "SLOs".
    let folder = grafana.api(reqwest::Method::GET, "/api/folders/mac-old", None);
    grafana.api(
        reqwest::Method::PUT,
        "/api/folders/mac-old",
        Some(json!({ "title": "Payments (legacy)", "version": folder["version"] })),
    );
    grafana.api(reqwest::Method::POST, "/api/folders", Some(json!({ "uid": "by-hand", "title": "Payments" })));
    let hand_made = json!({ "name": "SLOs", "interval": "1m", "rules": [{ "grafana_alert": {
        "title": "Hand made", "condition": "A",
        "data": [{ "refId": "A", "datasourceUid": "__expr__", "relativeTimeRange": { "from": 0, "to": 0 },
                   "model": { "type": "math", "expression": "1 > 0" } }] } }] });
    grafana.api(reqwest::Method::POST, "/api/ruler/grafana/api/v1/rules/Payments", Some(hand_made));

    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "move.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rules = grafana.rules();
    assert_eq!(rules["Other"][0]["name"], "SLOs", "moved: {rules}");
    assert!(rules.get("Payments (legacy)").is_none(), "nothing left behind: {rules}");
    assert_eq!(
        rules["Payments"][0]["rules"][0]["grafana_alert"]["title"], "Hand made",
        "the other folder's group is untouched: {rules}"
    );
}
