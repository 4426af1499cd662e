//! The CI examples in `examples/ci`: the GitHub workflow passes actionlint (and actionlint
//! fails on a broken copy of it), the GitLab file has the structure its comments promise, and
//! the mac command lines of each job come out in order.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;
use support::{GITHUB_WORKFLOW, GITLAB_CI, github_mac_commands, gitlab_mac_commands, mac_lines, parse, read_example};

/// The plan line both files run: exit 2 (changes) is success.
const PLAN: &str = "mac plan -o reviewed.plan --detailed-exitcode > plan.txt || [ $? -eq 2 ]";

/// The apply line both files run.
const APPLY: &str = "mac apply reviewed.plan --auto-approve --lock-timeout 2m";

/// actionlint on `workflow`, without shellcheck and pyflakes (not installed by setup): its
/// success and its report.
fn actionlint(workflow: &Path) -> (bool, String) {
    let Some(actionlint) = mac_test_tools::program(&mac_test_tools::ACTIONLINT) else {
        // Only when the developer set MAC_TEST_SKIP_MISSING: the skip was printed and logged.
        return (true, String::new());
    };
    let output = Command::new(&actionlint)
        .args(["-no-color", "-shellcheck=", "-pyflakes="])
        .arg(workflow)
        // Away from the repository: no actionlint configuration of some project applies.
        .current_dir(workflow.parent().expect("the workflow's directory"))
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", actionlint.display()));
    let report = [String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)].concat();
    (output.status.success(), report)
}

/// A scratch directory for this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mac-ci-examples-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn actionlint_accepts_the_github_workflow() {
    let (ok, report) = actionlint(&support::examples_dir().join(GITHUB_WORKFLOW));
    assert!(ok, "actionlint rejects examples/ci/{GITHUB_WORKFLOW}:\n{report}");
}

#[test]
fn actionlint_rejects_a_broken_copy_of_the_workflow() {
    if mac_test_tools::program(&mac_test_tools::ACTIONLINT).is_none() {
        return;
    }
    let workflow = read_example(GITHUB_WORKFLOW);
    let dir = scratch("broken");
    // Each breakage alone, with what actionlint must say about it.
    let breakages = [
        ("    runs-on: ubuntu-latest\n", "    runs-onn: ubuntu-latest\n", r#"unexpected key "runs-onn""#),
        ("${{ secrets.MAC_STATE_URL }}", "${{ secret.MAC_STATE_URL }}", r#"undefined variable "secret""#),
        ("steps.reviewed.outputs.run-id", "steps.reviewd.outputs.run-id", r#"property "reviewd" is not defined"#),
    ];
    for (good, bad, expected) in breakages {
        assert!(workflow.contains(good), "the workflow no longer has `{good}` to break");
        let broken = dir.join("broken.yml");
        std::fs::write(&broken, workflow.replacen(good, bad, 1)).expect("the broken copy");
        let (ok, report) = actionlint(&broken);
        assert!(!ok, "actionlint accepted the workflow with `{good}` made `{bad}`:\n{report}");
        assert!(report.contains(expected), "actionlint did not say `{expected}` for `{bad}`:\n{report}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_github_workflow_plans_on_pull_requests_and_applies_the_reviewed_plan_on_main() {
    let workflow = parse(&read_example(GITHUB_WORKFLOW)).expect("the workflow is YAML");
    // `on` is YAML 1.1's true to some parsers; serde_norway keeps the key as text.
    let on = &workflow["on"];
    assert_eq!(on["pull_request"]["branches"], parse("[main]").expect("YAML"));
    assert_eq!(on["push"]["branches"], parse("[main]").expect("YAML"));

    let plan = &workflow["jobs"]["plan"];
    assert_eq!(plan["if"].as_str(), Some("github.event_name == 'pull_request'"));
    let upload = step_using(plan, "actions/upload-artifact@v4");
    assert_eq!(upload["with"]["name"].as_str(), Some("reviewed-plan"));
    let uploaded: Vec<&str> = upload["with"]["path"].as_str().expect("paths").lines().collect();
    assert_eq!(uploaded, ["reviewed.plan", "plan.txt"]);
    let comment = step_using(plan, "actions/github-script@v7");
    assert!(comment["with"]["script"].as_str().expect("a script").contains("readFileSync('plan.txt'"));

    let apply = &workflow["jobs"]["apply"];
    assert_eq!(apply["if"].as_str(), Some("github.event_name == 'push'"));
    assert_eq!(apply["environment"].as_str(), Some("production"));
    assert_eq!(apply["concurrency"]["group"].as_str(), Some("mac-apply-production"));
    assert_eq!(apply["concurrency"]["cancel-in-progress"].as_bool(), Some(false));
    let download = step_using(apply, "actions/download-artifact@v4");
    assert_eq!(download["with"]["name"].as_str(), Some("reviewed-plan"));
    assert_eq!(download["with"]["run-id"].as_str(), Some("${{ steps.reviewed.outputs.run-id }}"));
    assert_eq!(download["with"]["github-token"].as_str(), Some("${{ github.token }}"));
    let find = step_with_id(apply, "reviewed");
    let script = find["run"].as_str().expect("a script");
    assert!(
        script.contains(
            "gh run list --workflow \"$WORKFLOW\" --event pull_request --commit \"$head_sha\" --status success"
        )
    );
    // The apply comes after the download of the artifact, in the same job.
    let names: Vec<&str> = steps(apply).iter().filter_map(|step| step["name"].as_str()).collect();
    let position = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no step `{name}`"));
    assert!(position("Download the reviewed plan") < position("Apply exactly the reviewed plan"));

    for job in [plan, apply] {
        assert_eq!(job["env"]["MAC_STATE_URL"].as_str(), Some("${{ secrets.MAC_STATE_URL }}"));
        assert_eq!(job["env"]["GRAFANA_TOKEN"].as_str(), Some("${{ secrets.GRAFANA_TOKEN }}"));
    }
}

fn steps(job: &Value) -> &[Value] {
    job["steps"].as_sequence().expect("the job's steps")
}

fn step_using<'a>(job: &'a Value, action: &str) -> &'a Value {
    steps(job)
        .iter()
        .find(|step| step["uses"].as_str() == Some(action))
        .unwrap_or_else(|| panic!("no step uses {action}"))
}

fn step_with_id<'a>(job: &'a Value, id: &str) -> &'a Value {
    steps(job).iter().find(|step| step["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("no step has id {id}"))
}

#[test]
fn the_gitlab_file_plans_on_merge_requests_and_applies_on_the_default_branch() {
    let ci = parse(&read_example(GITLAB_CI)).expect("the GitLab file is YAML");
    let stages: Vec<&str> = ci["stages"].as_sequence().expect("stages").iter().filter_map(Value::as_str).collect();
    assert_eq!(stages, ["validate", "plan", "apply"]);
    let pipelines: Vec<&str> = ci["workflow"]["rules"]
        .as_sequence()
        .expect("workflow rules")
        .iter()
        .filter_map(|rule| rule["if"].as_str())
        .collect();
    assert_eq!(
        pipelines,
        [r#"$CI_PIPELINE_SOURCE == "merge_request_event""#, "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"]
    );

    assert_eq!(ci["validate"]["stage"].as_str(), Some("validate"));

    let plan = &ci["plan"];
    assert_eq!(plan["stage"].as_str(), Some("plan"));
    // No rules of its own: the plan runs in both kinds of pipeline.
    assert!(plan.get("rules").is_none(), "the plan job has rules: {:?}", plan["rules"]);
    let kept: Vec<&str> =
        plan["artifacts"]["paths"].as_sequence().expect("artifact paths").iter().filter_map(Value::as_str).collect();
    assert_eq!(kept, ["reviewed.plan", "plan.txt"]);
    assert_eq!(plan["artifacts"]["expose_as"].as_str(), Some("mac plan"));

    let apply = &ci["apply"];
    assert_eq!(apply["stage"].as_str(), Some("apply"));
    let rules = apply["rules"].as_sequence().expect("the apply job's rules");
    assert_eq!(rules.len(), 1, "the apply job runs on the default branch only: {rules:?}");
    assert_eq!(rules[0]["if"].as_str(), Some("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"));
    assert_eq!(rules[0]["when"].as_str(), Some("manual"));
    assert_eq!(apply["needs"], parse("[{job: plan, artifacts: true}]").expect("YAML"));
    assert_eq!(apply["resource_group"].as_str(), Some("production"));
    assert_eq!(apply["environment"]["name"].as_str(), Some("production"));
}

#[test]
fn the_mac_commands_of_each_job_come_out_in_order() {
    let workflow = read_example(GITHUB_WORKFLOW);
    assert_eq!(
        github_mac_commands(&workflow, "plan").expect("the plan job"),
        ["mac fmt --check", "mac validate", "mac test", PLAN]
    );
    assert_eq!(github_mac_commands(&workflow, "apply").expect("the apply job"), [APPLY]);

    // GitLab runs the same commands: validate and test in their own job.
    let ci = read_example(GITLAB_CI);
    assert_eq!(
        gitlab_mac_commands(&ci, "validate").expect("the validate job"),
        ["mac fmt --check", "mac validate", "mac test"]
    );
    assert_eq!(gitlab_mac_commands(&ci, "plan").expect("the plan job"), [PLAN]);
    assert_eq!(gitlab_mac_commands(&ci, "apply").expect("the apply job"), [APPLY]);
}

#[test]
fn the_extraction_takes_mac_lines_per_job_and_refuses_hidden_ones() {
    let workflow = r#"
on: push
jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: mac validate
      - name: several
        run: |
          echo "mac is not a command here"
          # mac plan, in a comment
          mac plan -o a.plan || [ $? -eq 2 ]
          machine --start
          mac   test
  second:
    runs-on: ubuntu-latest
    steps:
      - run: mac apply a.plan --auto-approve
"#;
    assert_eq!(
        github_mac_commands(workflow, "first").expect("the first job"),
        ["mac validate", "mac plan -o a.plan || [ $? -eq 2 ]", "mac   test"]
    );
    assert_eq!(github_mac_commands(workflow, "second").expect("the second job"), ["mac apply a.plan --auto-approve"]);
    assert!(github_mac_commands(workflow, "third").expect_err("no such job").contains("no job `third`"));

    let hidden = "if true; then\n  mac apply a.plan\nfi\n";
    assert!(mac_lines(hidden).expect_err("an indented mac line").contains("indented"));
    assert!(mac_lines("mac plan \\\n  -o a.plan\n").expect_err("a continued line").contains("continued"));

    let ci = r#"
.base:
  before_script:
    - mac validate
build:
  extends: .base
  script:
    - mac plan -o a.plan
    - |
      echo done
      mac test
own:
  extends: .base
  before_script: []
  script: mac apply a.plan
"#;
    assert_eq!(gitlab_mac_commands(ci, "build").expect("build"), ["mac validate", "mac plan -o a.plan", "mac test"]);
    assert_eq!(gitlab_mac_commands(ci, "own").expect("own"), ["mac apply a.plan"]);
}
