//! Secrets never leak; several provider instances; two applies at once.

use std::process::Stdio;

use insta::assert_snapshot;

use crate::{Project, TWO_FOLDERS, run};

const CANARY: &str = "s3cr3t-canary-value-9f2b";

#[test]
fn a_secret_never_appears_in_output_state_or_saved_plans() {
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\ntoken = { env = \"MAC_TEST_TOKEN\" }\n");
    let mut outputs = String::new();
    for args in [
        vec!["providers"],
        vec!["validate"],
        vec!["render"],
        vec!["plan", "-o", "saved.plan", "--log-level", "debug"],
        vec!["plan", "--json"],
        vec!["apply", "saved.plan", "--auto-approve", "--log-level", "debug"],
        vec!["apply", "--auto-approve", "--log-level", "info"],
        vec!["state", "list"],
        vec!["state", "show", "folder.a"],
    ] {
        let (code, stdout, stderr) = run(project.mac().args(&args).env("MAC_TEST_TOKEN", CANARY));
        assert_eq!(code, 0, "{args:?}: {stderr}");
        outputs.push_str(&stdout);
        outputs.push_str(&stderr);
    }
    assert!(!outputs.contains(CANARY), "a command printed the secret");
    for entry in walk(project.root()) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(!String::from_utf8_lossy(&bytes).contains(CANARY), "{} holds the secret", entry.display());
    }
}

fn walk(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn a_missing_or_inline_secret_is_a_clear_error_before_any_write() {
    let project = Project::new(TWO_FOLDERS);
    project
        .write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\ntoken = { env = \"MAC_TEST_UNSET_TOKEN\" }\n");
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]).env_remove("MAC_TEST_UNSET_TOKEN"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: provider `testfs`: cannot read the token: environment variable MAC_TEST_UNSET_TOKEN is not set (it holds a secret)");
    assert!(!project.root().join("remote.json").exists());

    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\ntoken = \"hunter2\"\n");
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"error: mac.toml:3:1: provider `testfs`: a secret must be given as { env = "VARIABLE" } or { file = "path" }, never written inline"#);
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn objects_pick_a_named_provider_instance() {
    let project = Project::new(
        r#"
[[testfs.folder]]
id = "main"
title = "Main"

[[testfs.folder]]
id = "eu"
title = "Europe"
provider = "testfs.eu"
"#,
    );
    project.write(
        "mac.toml",
        "[providers.testfs]\nfile = \"main.json\"\n\n[providers.\"testfs.eu\"]\nfile = \"eu.json\"\n",
    );
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("+ create testfs.eu/folder.eu"), "{stdout}");
    let read = |name: &str| std::fs::read_to_string(project.root().join(name)).expect("remote file");
    assert!(read("main.json").contains("Main") && !read("main.json").contains("Europe"));
    assert!(read("eu.json").contains("Europe") && !read("eu.json").contains("Main"));
}

#[test]
fn two_applies_at_once_never_interleave() {
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\nlatency_ms = 400\n");
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("mac"))
        .current_dir(project.root())
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("first apply starts");
    // Wait until the first run holds the lock (it records its pid in the lock file).
    let lock_file = project.root().join(".mac/state.json.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&lock_file).is_ok_and(|text| text.contains(&format!("\"pid\":{}", first.id()))) {
        assert!(std::time::Instant::now() < deadline, "the first apply never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("(pid {}, `mac apply", first.id())), "names the holder: {stderr}");

    let status = first.wait_with_output().expect("first apply ends").status;
    assert!(status.success());
    // Waiting for the lock instead succeeds and finds nothing left to do.
    let (code, stdout, _) = run(project.mac().args(["apply", "--auto-approve", "--lock-timeout", "30s"]));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("No changes."), "{stdout}");
}

#[test]
fn version_and_help_are_everywhere() {
    let (code, stdout, _) = run(Project::empty().mac().arg("--version"));
    assert_eq!(code, 0);
    // The workspace version, whatever it is: a release raises it without touching this test.
    assert_eq!(stdout, format!("mac {}\n", env!("CARGO_PKG_VERSION")));
    for command in ["plan", "apply", "state", "validate", "providers"] {
        let (code, stdout, _) = run(Project::empty().mac().args([command, "--help"]));
        assert_eq!(code, 0, "{command}");
        assert!(stdout.contains("Usage: mac"), "{command}: {stdout}");
    }
}

#[test]
fn a_secret_in_a_definition_is_written_shown_as_sensitive_and_its_change_detected() {
    let project =
        Project::new("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nsecret = { env = \"MAC_TEST_FOLDER_SECRET\" }\n");
    let (code, stdout, _) = run(project.mac().arg("plan").env("MAC_TEST_FOLDER_SECRET", CANARY));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @r#"
    + create testfs/folder.a
        title = "A"
        uid = "mac-a"
        secret = "(sensitive)"

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let mut outputs = stdout;
    let (code, stdout, stderr) =
        run(project.mac().args(["apply", "--auto-approve"]).env("MAC_TEST_FOLDER_SECRET", CANARY));
    assert_eq!(code, 0, "{stderr}");
    outputs.push_str(&stdout);
    assert_eq!(project.remote()["folder"]["mac-a"]["has_secret"], true, "the value reached the remote");

    let (code, stdout, _) =
        run(project.mac().args(["plan", "--detailed-exitcode"]).env("MAC_TEST_FOLDER_SECRET", CANARY));
    assert_eq!(code, 0, "an unchanged secret is no change: {stdout}");
    let (code, stdout, _) = run(project
        .mac()
        .args(["plan", "--detailed-exitcode", "-o", "rotate.plan"])
        .env("MAC_TEST_FOLDER_SECRET", "rotated"));
    assert_eq!(code, 2);
    assert_snapshot!(stdout.lines().take(2).collect::<Vec<_>>().join("\n"), @r#"
    ~ update testfs/folder.a
        ~ secret: "(sensitive)" -> "(sensitive, changed)"
    "#);
    let (code, _, stderr) =
        run(project.mac().args(["apply", "rotate.plan", "--auto-approve"]).env("MAC_TEST_FOLDER_SECRET", "rotated"));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, _) =
        run(project.mac().args(["plan", "--detailed-exitcode"]).env("MAC_TEST_FOLDER_SECRET", "rotated"));
    assert_eq!(code, 0);

    // Neither the value nor anything that reveals it is printed or kept by mac.
    assert!(!outputs.contains(CANARY));
    for entry in walk(project.root()).into_iter().filter(|path| !path.ends_with("remote.json")) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).expect("read")).into_owned();
        assert!(!text.contains(CANARY) && !text.contains("rotated"), "{} holds the secret", entry.display());
    }
    let (code, _, stderr) = run(project.mac().arg("plan").env_remove("MAC_TEST_FOLDER_SECRET"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: definitions/main.toml:4:1: environment variable MAC_TEST_FOLDER_SECRET is not set (it holds a secret)");
}

#[test]
fn a_protected_object_is_never_deleted_and_mass_deletes_need_a_flag() {
    let project = Project::new(
        &TWO_FOLDERS.replace("id = \"a\"\ntitle = \"Team A\"", "id = \"a\"\ntitle = \"Team A\"\nprotect = true"),
    );
    let (code, _, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(project.state()["resources"][0]["protect"], true, "recorded in state: {}", project.state());

    // Folder a leaves the code (its group too): refused, because state says it is protected.
    let without_a = TWO_FOLDERS.replace("[[testfs.folder]]\nid = \"a\"\ntitle = \"Team A\"\n", "").replace(
        "[[testfs.group]]\nid = \"a-alerts\"\nfolder = \"a\"",
        "[[testfs.group]]\nid = \"a-alerts\"\nfolder = \"b\"",
    );
    project.define(&without_a);
    let (code, _, stderr) = run(project.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: refusing to delete `testfs/folder.a`: it is protected (protect = true when last applied). Set protect = false in its definition and apply, then remove it");

    // Deleting 3 of 4 managed objects (over the default share of 0.5) needs the flag.
    project.define(
        &TWO_FOLDERS.replace("id = \"a\"\ntitle = \"Team A\"", "id = \"a\"\ntitle = \"Team A\"\nprotect = false"),
    );
    run(project.mac().args(["apply", "--auto-approve"]));
    project.define("[[testfs.folder]]\nid = \"b\"\ntitle = \"Team B\"\n");
    let (code, _, stderr) = run(project.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: refusing to delete 3 of 4 managed objects (more than the allowed share of 0.5): review the plan, then pass --allow-mass-delete, or raise [safety] max_delete_share");
    let (code, stdout, _) = run(project.mac().args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("3 deleted"), "{stdout}");
}
