//! Colour flags and a reader that goes away: `--color`, `--no-color`, `NO_COLOR`, and
//! `mac plan -o FILE | head -1`.

use std::io::Read;
use std::process::Stdio;

use crate::{Project, TWO_FOLDERS, run};

const ESCAPE: char = '\u{1b}';

#[test]
fn color_flags_choose_over_the_environment_and_the_terminal() {
    let project = Project::new(TWO_FOLDERS);
    // Piped, with NO_COLOR set (as `mac()` sets it): no colour unless asked for.
    let (code, plain, _) = run(project.mac().arg("plan"));
    assert_eq!(code, 0);
    assert!(plain.contains("create testfs/folder.a"), "{plain}");
    assert!(!plain.contains(ESCAPE), "{plain}");

    let (code, coloured, _) = run(project.mac().args(["--color", "always", "plan"]));
    assert_eq!(code, 0);
    assert!(coloured.contains(ESCAPE), "a flag wins over NO_COLOR and the pipe: {coloured}");
    let stripped: String = strip_escapes(&coloured);
    assert_eq!(stripped, plain, "the same text, coloured");

    for never in
        [&["--color", "never", "plan"][..], &["plan", "--no-color"], &["--color", "always", "--no-color", "plan"]]
    {
        let (code, stdout, _) = run(project.mac().env_remove("NO_COLOR").args(never));
        assert_eq!(code, 0);
        assert!(!stdout.contains(ESCAPE), "{never:?}: {stdout}");
    }

    let (code, _, stderr) = run(project.mac().args(["--color", "sometimes", "plan"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("possible values: auto, always, never"), "{stderr}");
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly_and_the_plan_is_still_saved() {
    let project = Project::new(TWO_FOLDERS);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mac"))
        .current_dir(project.root())
        .env("NO_COLOR", "1")
        .args(["plan", "-o", "saved.plan"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mac starts");
    // `| head -0`: the reader is gone before mac writes anything.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr reads");
    let status = child.wait().expect("mac ends");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "no `Broken pipe` error");
    assert!(project.root().join("saved.plan").exists(), "the plan was saved all the same");
}

fn strip_escapes(text: &str) -> String {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
