//! `mac fmt`: before/after snapshots of a deliberately misformatted project, `--check` and
//! `--diff`, and every example project formatted twice with no change the second time.

use std::path::Path;

use insta::assert_snapshot;

use crate::{Project, run};

const MISFORMATTED_CONFIG: &str = "  definitions=[ \"definitions/\" ,\"more/\"]   \n\n\n\n[providers.testfs]\n   file = \"remote.json\"     # the fake server\n";

/// Keys out of order, spacing, indentation, blank lines, trailing whitespace; comments and
/// values (durations as written) that must survive.
const MISFORMATTED_DEFINITIONS: &str = "# Team A's folder and alerts.   \n\n\n\
[[testfs.group]]\n\
    interval=\"1m\"      # evaluated every minute\n\
  folder = \"a\"\n\
id = \"a-alerts\"\n\
\n\
\n\
  [[testfs.group.rules]]\n\
  expr = \"errors > 1\"\n\
  for=\"5m\"\n\
  title = \"High error rate\"\n\
[[testfs.folder]]\n\
title= \"Team A\"\n\
# the id other definitions use\n\
id= \"a\"\n";

fn misformatted() -> Project {
    let project = Project::empty();
    project.write("mac.toml", MISFORMATTED_CONFIG);
    project.write("definitions/main.toml", MISFORMATTED_DEFINITIONS);
    project.write("more/empty.toml", "");
    project
}

fn read(project: &Project, relative: &str) -> String {
    std::fs::read_to_string(project.root().join(relative)).expect("readable")
}

#[test]
fn a_misformatted_project_is_laid_out_canonically_and_keeps_comments_and_values() {
    let project = misformatted();
    let (_, rendered_before, _) = run(project.mac().arg("render"));

    let (code, stdout, _) = run(project.mac().args(["fmt", "--check"]));
    assert_eq!(code, 1, "--check fails on an unformatted project");
    assert_snapshot!(stdout, @r"
    would reformat definitions/main.toml
    would reformat mac.toml
    2 file(s) need `mac fmt`.
    ");
    assert_eq!(read(&project, "mac.toml"), MISFORMATTED_CONFIG, "--check writes nothing");

    let (code, diff, _) = run(project.mac().args(["fmt", "--diff", "mac.toml"]));
    assert_eq!(code, 0);
    assert_snapshot!(diff, @r#"
    --- mac.toml
    +++ mac.toml
    @@ -1,6 +1,4 @@
    -  definitions=[ "definitions/" ,"more/"]   
    -
    +definitions = ["definitions/", "more/"]
     
    -
     [providers.testfs]
    -   file = "remote.json"     # the fake server
    +file = "remote.json"     # the fake server
    "#);
    assert_eq!(read(&project, "mac.toml"), MISFORMATTED_CONFIG, "--diff writes nothing");

    let (code, stdout, stderr) = run(project.mac().arg("fmt"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r"
    formatted definitions/main.toml
    formatted mac.toml
    ");
    assert_snapshot!(read(&project, "definitions/main.toml"), @r#"
    # Team A's folder and alerts.

    [[testfs.group]]
    id = "a-alerts"
    folder = "a"
    interval = "1m"      # evaluated every minute

    [[testfs.group.rules]]
    title = "High error rate"
    expr = "errors > 1"
    for = "5m"

    [[testfs.folder]]
    # the id other definitions use
    id = "a"
    title = "Team A"
    "#);
    assert_snapshot!(read(&project, "mac.toml"), @r#"
    definitions = ["definitions/", "more/"]

    [providers.testfs]
    file = "remote.json"     # the fake server
    "#);

    // The same definitions, and nothing left to do.
    let (_, rendered_after, _) = run(project.mac().arg("render"));
    assert_eq!(rendered_after, rendered_before);
    let (code, stdout, _) = run(project.mac().args(["fmt", "--check"]));
    assert_eq!((code, stdout.as_str()), (0, ""));
}

#[test]
fn a_file_that_is_not_toml_is_reported_at_its_line_and_nothing_is_written() {
    let project = misformatted();
    project.write("definitions/broken.toml", "[[testfs.folder]]\nid = \"b\"\ntitle = \n");
    let (code, stdout, stderr) = run(project.mac().arg("fmt"));
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.starts_with("error: definitions/broken.toml:3:"), "{stderr}");
    assert_eq!(read(&project, "definitions/main.toml"), MISFORMATTED_DEFINITIONS, "nothing written");

    let (code, _, stderr) = run(project.mac().args(["fmt", "README.md"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("README.md does not exist"), "{stderr}");
}

#[test]
fn every_example_project_is_formatted_and_formatting_twice_changes_nothing() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut projects = Vec::new();
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.join("mac.toml").exists() {
            projects.push(path);
        }
    }
    projects.sort();
    assert!(projects.len() >= 3, "{projects:?}");
    for example in projects {
        let project = Project::empty();
        copy_dir(&example, project.root());
        let name = example.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        // The examples are kept formatted: `mac fmt --check` is what CI would run on them.
        let (code, stdout, stderr) = run(project.mac().args(["fmt", "--check"]));
        assert_eq!(code, 0, "examples/{name} is not formatted:\n{stdout}{stderr}");
        // Formatting a formatted project changes nothing, and neither does a second time.
        let (code, stdout, stderr) = run(project.mac().arg("fmt"));
        assert_eq!((code, stdout.as_str()), (0, ""), "examples/{name}: {stderr}");
    }
    // And a misformatted one: the second run finds nothing left.
    let project = misformatted();
    run(project.mac().arg("fmt"));
    let first: Vec<String> = ["mac.toml", "definitions/main.toml"].iter().map(|file| read(&project, file)).collect();
    let (code, stdout, _) = run(project.mac().arg("fmt"));
    assert_eq!((code, stdout.as_str()), (0, ""));
    let second: Vec<String> = ["mac.toml", "definitions/main.toml"].iter().map(|file| read(&project, file)).collect();
    assert_eq!(first, second);
}

#[test]
fn template_bodies_are_ordered_like_definitions() {
    let project = Project::new("");
    project.write(
        "templates/team.toml",
        "[template]\nname = \"team\"\n\n[template.params.name]\ntype = \"string\"\n\n[[testfs.folder]]\ntitle=\"%{name}\"\nid = \"%{name}\"\n",
    );
    let (code, _, stderr) = run(project.mac().arg("fmt"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(read(&project, "templates/team.toml"), @r#"
    [template]
    name = "team"

    [template.params.name]
    type = "string"

    [[testfs.folder]]
    id = "%{name}"
    title = "%{name}"
    "#);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_stays_one_and_a_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new("");
    project.write("shared.toml", "[[testfs.folder]]\ntitle=\"S\"\nid = \"s\"\n");
    std::fs::set_permissions(project.root().join("shared.toml"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::os::unix::fs::symlink("../shared.toml", project.root().join("definitions/s.toml")).expect("symlink");
    let (code, stdout, stderr) = run(project.mac().arg("fmt"));
    assert_eq!((code, stdout.as_str()), (0, "formatted definitions/s.toml\n"), "{stderr}");
    let link = project.root().join("definitions/s.toml");
    assert!(std::fs::symlink_metadata(&link).expect("exists").file_type().is_symlink(), "still a link");
    assert_eq!(read(&project, "shared.toml"), "[[testfs.folder]]\nid = \"s\"\ntitle = \"S\"\n");
    let mode = std::fs::metadata(project.root().join("shared.toml")).expect("exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn inline_tables_inside_inline_tables_are_ordered_and_spaced_at_every_depth() {
    let project = Project::empty();
    project.write("mac.toml", "[providers.grafana8]\nurl = \"http://127.0.0.1:3000\"\ntoken = { env = \"T\" }\n");
    project.define(
        "[[grafana8.mute_timing]]\nname = \"m\"\nid = \"m\"\n\
         time_intervals = [{ weekdays = [\"monday\"], times = [{ end_time = \"10:00\", start_time = \"09:00\" }] }]\n",
    );
    let (code, stdout, stderr) = run(project.mac().arg("fmt"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(read(&project, "definitions/main.toml"), @r#"
    [[grafana8.mute_timing]]
    id = "m"
    name = "m"
    time_intervals = [{ times = [{ start_time = "09:00", end_time = "10:00" }], weekdays = ["monday"] }]
    "#);
}
