//! `mac init`: a new project that validates and plans, never overwriting a file; with
//! `--import`, a project that plans no change against the server it was imported from.

use insta::assert_snapshot;
use serde_json::json;

use crate::grafana8::Grafana;
use crate::{Project, run};

#[test]
fn init_writes_a_project_that_validates_and_plans() {
    let project = Project::empty();
    let (code, stdout, stderr) = run(project.mac().args(["init", "--provider", "testfs"]));
    assert_eq!(code, 0, "{stderr}");
    let root = project.root().display().to_string();
    assert_snapshot!(stdout.replace(&root, "DIR"), @r"
    wrote mac.toml
    wrote .gitignore
    wrote definitions/testfs.toml
    Initialised a mac project in . for testfs.
    Next: edit mac.toml's provider settings (credentials come from the environment variables it names), then `mac validate`, `mac plan` and `mac apply`; or `mac import INSTANCE` to start from what a server has.
    ");
    let gitignore = std::fs::read_to_string(project.root().join(".gitignore")).expect(".gitignore");
    assert!(gitignore.lines().any(|line| line == "/.mac/") && gitignore.lines().any(|line| line == "*.plan"));

    let (code, stdout, _) = run(project.mac().arg("validate"));
    assert_eq!((code, stdout.as_str()), (0, "Valid: 1 object(s) for 1 provider instance(s).\n"));
    let (code, stdout, _) = run(project.mac().args(["fmt", "--check"]));
    assert_eq!((code, stdout.as_str()), (0, ""), "a new project is formatted");
    let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert!(stdout.starts_with("+ create testfs/folder.example\n"), "{stdout}");

    // Again: refused, nothing touched.
    let before = std::fs::read_to_string(project.root().join("mac.toml")).expect("mac.toml");
    let (code, _, stderr) = run(project.mac().args(["init", "--provider", "testfs"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("mac.toml exists already") && stderr.contains("Nothing was written"), "{stderr}");
    assert_eq!(std::fs::read_to_string(project.root().join("mac.toml")).expect("mac.toml"), before);
}

#[test]
fn every_provider_s_starter_validates_and_a_file_there_is_kept() {
    let project = Project::empty();
    project.write(".gitignore", "target/\n");
    // Every provider compiled in (this build: cortex, grafana8, prometheus, testfs), into a new directory.
    let (code, stdout, stderr) = run(project.mac().args(["init", "new"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "wrote definitions/cortex.toml\nwrote definitions/grafana8.toml\nwrote definitions/prometheus.toml\n"
        ),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(project.mac().args(["-C", "new", "validate"]));
    assert_eq!((code, stdout.as_str()), (0, "Valid: 4 object(s) for 4 provider instance(s).\n"), "{stderr}");
    let (code, stdout, _) = run(project.mac().args(["-C", "new", "fmt", "--check"]));
    assert_eq!((code, stdout.as_str()), (0, ""), "every starter is formatted");

    // A file that exists is never overwritten: said, with what mac would have written.
    let (code, stdout, _) = run(project.mac().args(["init", "--provider", "testfs"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("kept .gitignore (it exists); mac would have written:\n    # mac: state"), "{stdout}");
    assert_eq!(std::fs::read_to_string(project.root().join(".gitignore")).expect("kept"), "target/\n");

    let (code, _, stderr) = run(project.mac().args(["init", "elsewhere", "--provider", "grafana9"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(
            "error: no provider `grafana9` in this mac (compiled in: cortex, grafana8, prometheus, testfs)"
        ),
        "{stderr}"
    );
    assert!(!project.root().join("elsewhere").exists(), "nothing written for a bad command");
}

#[test]
fn init_with_import_plans_no_change_against_the_server() {
    let grafana = Grafana::start("");
    grafana.api(reqwest::Method::POST, "/api/folders", Some(json!({ "uid": "ops-uid", "title": "Ops Team" })));
    grafana.hand_made_dashboard("abc", "Overview", "ops-uid", json!([{ "id": 1, "type": "text", "title": "Notes" }]));
    let fresh = Project::empty();
    let mac = || {
        let mut command = grafana.mac_in(&fresh);
        command.env("MAC_GRAFANA8_URL", grafana.emulator.base_url());
        command
    };
    let (code, stdout, stderr) = run(mac().args(["init", "--import", "grafana8"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @"
    wrote mac.toml
    wrote .gitignore
    Initialised a mac project in . for grafana8.
    wrote definitions/dashboards/overview.json
    wrote definitions/contact-points.toml
    wrote definitions/datasources.toml
    wrote definitions/ops-team.toml
    Imported 4 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    ");
    assert!(!fresh.root().join("definitions/grafana8.toml").exists(), "no example next to an import");

    let (code, stdout, stderr) = run(mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "no changes: {stdout}{stderr}");
    assert!(stdout.starts_with("No changes."), "{stdout}");
}
