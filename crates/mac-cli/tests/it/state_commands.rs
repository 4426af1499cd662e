//! `mac state pull`, `push` and `unlock` with the file store (the PostgreSQL store's are in
//! `team_state`).

use crate::{Project, TWO_FOLDERS, run};

fn project_with_environments() -> Project {
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\n\n[environments.copy]\n");
    project
}

#[test]
fn pull_then_push_moves_a_state_with_its_lineage_and_serial() {
    let project = project_with_environments();
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = run(project.mac().args(["state", "pull", "-o", "backup.json"]));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("Wrote the state of "), "{stdout}");
    let (code, stdout, stderr) = run(project.mac().args(["-e", "copy", "state", "push", "backup.json"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Pushed backup.json"), "{stdout}");
    let original = project.state();
    let copy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.root().join(".mac/state.copy.json")).expect("pushed state"),
    )
    .expect("JSON");
    assert_eq!(copy, original, "lineage, serial and entries kept");
    let (code, stdout, _) = run(project.mac().args(["-e", "copy", "plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    // Standard output holds a state file too.
    let (code, stdout, _) = run(project.mac().args(["state", "pull"]));
    assert_eq!(code, 0);
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("a state file on stdout");
    assert_eq!(printed, original);
    // A pull never overwrites a file.
    let (code, _, stderr) = run(project.mac().args(["state", "pull", "-o", "backup.json"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("backup.json exists already"), "{stderr}");
}

#[test]
fn push_refuses_another_lineage_and_an_older_serial() {
    let project = project_with_environments();
    let (code, _, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let (code, _, _) = run(project.mac().args(["state", "pull", "-o", "old.json"]));
    assert_eq!(code, 0);
    // The copy environment gets a state of its own (another lineage).
    let (code, _, stderr) = run(project.mac().args(["-e", "copy", "apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(project.mac().args(["-e", "copy", "state", "push", "old.json"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("holds another state (lineage"), "{stderr}");
    assert!(stderr.contains("refusing to replace it"), "{stderr}");
    // The default state moves on; the older pull would move it backwards.
    let (code, _, _) = run(project.mac().args(["state", "rm", "folder.a"]));
    assert_eq!(code, 0);
    let (code, _, stderr) = run(project.mac().args(["state", "push", "old.json"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("would move the state backwards"), "{stderr}");
}

#[test]
fn unlock_says_what_holds_the_lock_and_a_file_lock_is_not_broken() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, _) = run(project.mac().args(["state", "unlock"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("is not locked; nothing to do"), "{stdout}");
    let store = mac_core::FileStateStore::new(project.state_path());
    let held = mac_core::StateStore::lock(&store, std::time::Duration::ZERO).expect("lock");
    let (code, stdout, stderr) = run(project.mac().args(["state", "unlock"]));
    assert_eq!(code, 1);
    assert!(stdout.contains("is locked by") && stdout.contains(&format!("(pid {}", std::process::id())), "{stdout}");
    assert!(stderr.contains("pass --force"), "no terminal, no --force: refused: {stderr}");
    let (code, _, stderr) = run(project.mac().args(["state", "unlock", "--force"]));
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("stop pid {}", std::process::id())), "{stderr}");
    drop(held);
}
