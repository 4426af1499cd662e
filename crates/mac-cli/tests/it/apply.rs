//! `mac apply`: confirmation, saved plans, failures, crashes, locks.

use insta::assert_snapshot;

use crate::{Project, TWO_FOLDERS, run};

#[test]
fn apply_refuses_without_a_terminal_or_approval_and_changes_nothing() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, stderr) = run(project.mac().arg("apply").write_stdin("yes\n"));
    assert_eq!(code, 1);
    assert!(stdout.contains("Plan: 4 to create"), "the plan is shown first: {stdout}");
    assert_snapshot!(stderr, @"error: refusing to apply without confirmation: standard input is not a terminal. Review the plan, then pass --auto-approve");
    assert!(!project.root().join("remote.json").exists());
    assert!(!project.state_path().exists());
}

#[test]
fn a_saved_plan_applies_without_a_question_where_a_fresh_one_is_refused() {
    let project = Project::new(TWO_FOLDERS);
    let (code, _, stderr) = run(project.mac().args(["plan", "-o", "reviewed.plan"]));
    assert_eq!(code, 0, "{stderr}");
    // No terminal and no --auto-approve: the saved plan was reviewed when it was made.
    let (code, stdout, stderr) = run(project.mac().args(["apply", "reviewed.plan"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("Apply complete: 4 created, 0 updated, 0 deleted, 0 failed, 0 skipped.\n"), "{stdout}");
    assert_eq!(project.remote_count("folder"), 2);
    // A fresh apply in the same conditions still asks, and so refuses.
    project.define(&TWO_FOLDERS.replace("Team A", "Team A renamed"));
    let (code, _, stderr) = run(project.mac().arg("apply"));
    assert_eq!(code, 1);
    assert!(stderr.contains("refusing to apply without confirmation"), "{stderr}");
}

#[test]
fn apply_reports_what_it_did() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve", "--parallelism", "2"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("Apply complete: 4 created, 0 updated, 0 deleted, 0 failed, 0 skipped.\n"), "{stdout}");
    // Without a terminal, progress is one line per action on stderr, for CI logs.
    assert_eq!(stderr.lines().filter(|line| line.ends_with(": done")).count(), 4, "{stderr}");
    assert_eq!(project.remote_count("folder"), 2);
    assert_eq!(project.remote_count("group"), 2);
    assert_eq!(project.state()["resources"].as_array().map(Vec::len), Some(4));
}

#[test]
fn a_failure_is_reported_dependants_skipped_and_the_exit_code_is_one() {
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\nfail = [\"folder.b\"]\n");
    let (code, stdout, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1);
    let report: Vec<&str> = stdout.lines().skip_while(|line| !line.starts_with("failed:")).collect();
    assert_snapshot!(report.join("\n"), @r"
    failed: create testfs/folder.b: injected failure writing folder.b
    skipped: create testfs/group.b-alerts: depends on `testfs/folder.b`, which failed
    Apply incomplete: 2 created, 0 updated, 0 deleted, 1 failed, 1 skipped.
    ");
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\n");
    let (code, stdout, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("Apply complete: 2 created"), "{stdout}");
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_when_stale() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, _) = run(project.mac().args(["plan", "-o", "reviewed.plan"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("Saved the plan to reviewed.plan"), "{stdout}");
    // The code changes after review: the saved plan still applies what was reviewed.
    project.define(&TWO_FOLDERS.replace("Team A", "Team Changed"));
    let (code, _, stderr) = run(project.mac().args(["apply", "reviewed.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.remote()["folder"]["mac-a"]["title"], "Team A");

    let (code, _, stderr) = run(project.mac().args(["apply", "reviewed.plan", "--auto-approve"]));
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: the plan was made from state serial 0"), "{stderr}");
    assert!(stderr.contains("Make a new plan"), "{stderr}");

    std::fs::write(project.root().join("garbage.plan"), "{").expect("write");
    let (code, _, stderr) = run(project.mac().args(["apply", "garbage.plan", "--auto-approve"]));
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: garbage.plan is not a plan saved by `mac plan -o`"), "{stderr}");
}

#[test]
fn a_process_killed_between_writes_leaves_readable_state_and_a_rerun_converges() {
    for crash_after in 1..=3 {
        let project = Project::new(TWO_FOLDERS);
        let (code, _, _) = run(project
            .mac()
            .args(["apply", "--auto-approve", "--parallelism", "1"])
            .env("MAC_TESTFS_CRASH_AFTER", crash_after.to_string()));
        assert_ne!(code, 0, "the process was killed after write {crash_after}");
        assert_eq!(project.remote_count("folder") + project.remote_count("group"), crash_after);
        let _ = project.state(); // parseable (or the test panics)

        let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
        assert_eq!(code, 0, "rerun after crash {crash_after}: {stdout}{stderr}");
        assert!(stderr.contains("ended without releasing its lock"), "the interrupted run is reported: {stderr}");
        assert_eq!(project.remote_count("folder"), 2, "no duplicates");
        assert_eq!(project.remote_count("group"), 2);
        let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "converged after crash {crash_after}: {stdout}");
    }
}

#[test]
fn a_second_apply_waits_for_the_lock_then_names_its_holder() {
    let project = Project::new(TWO_FOLDERS);
    let store = mac_core::FileStateStore::new(project.state_path());
    let held = mac_core::StateStore::lock(&store, std::time::Duration::ZERO).expect("lock");
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve", "--lock-timeout", "200ms"]));
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "it waited: {:?}", started.elapsed());
    assert_eq!(code, 1);
    assert!(stderr.contains("is locked by"), "{stderr}");
    assert!(stderr.contains(&format!("(pid {}, `", std::process::id())), "{stderr}");
    assert!(!project.root().join("remote.json").exists(), "nothing was written");
    drop(held);
    let (code, _, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
}
