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

/// A grafana8 project whose server is gone: nothing listens on the port any more.
fn unreachable_grafana() -> (Project, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    drop(listener);
    let project = Project::empty();
    project.write(
        "mac.toml",
        &format!("[providers.grafana8]\nurl = \"{url}\"\nretries = 3\ntoken = {{ env = \"MAC_TEST_TOKEN\" }}\n"),
    );
    project.define("[[grafana8.folder]]\nid = \"a\"\ntitle = \"A\"\n");
    (project, url)
}

#[test]
fn a_server_that_cannot_be_reached_is_one_error_naming_the_url_and_the_setting() {
    let (project, url) = unreachable_grafana();
    let (code, stdout, stderr) =
        run(project.mac().env("MAC_TEST_TOKEN", "t").env_remove("MAC_GRAFANA8_URL").arg("plan"));
    assert_eq!((code, stdout.as_str()), (1, ""));
    let stderr = stderr.replace(&url, "http://127.0.0.1:PORT");
    let stderr = any_seconds(&stderr);
    assert_eq!(
        stderr,
        "error: provider `grafana8`: cannot connect to Grafana at http://127.0.0.1:PORT/ (GET /api/health: \
         Connection refused (os error 111), 3 attempts in N s); check `url` of provider `grafana8` in mac.toml\n",
        "one line: no warning per retry"
    );

    // Overridden by MAC_GRAFANA8_URL: the variable is what to check.
    let (code, _, stderr) = run(project.mac().env("MAC_TEST_TOKEN", "t").env("MAC_GRAFANA8_URL", &url).args(["plan"]));
    assert_eq!(code, 1);
    assert!(stderr.ends_with("check MAC_GRAFANA8_URL (it overrides `url` of provider `grafana8`)\n"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // The retries are there at debug level.
    let (_, _, stderr) = run(project.mac().env("MAC_TEST_TOKEN", "t").args(["--log-level", "debug", "plan"]));
    assert!(stderr.contains("GET /api/health attempt 2"), "{stderr}");

    // A bad URL in the variable is the variable's fault, not a line of mac.toml's.
    let (code, _, stderr) =
        run(project.mac().env("MAC_TEST_TOKEN", "t").env("MAC_GRAFANA8_URL", "htp:/bad").arg("validate"));
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: MAC_GRAFANA8_URL (overriding `url` of provider `grafana8`): `htp:/bad` must be an http:// or https:// URL\n"
    );
}

/// `3.1 s` → `N s`: attempts take as long as they take.
fn any_seconds(text: &str) -> String {
    let Some(at) = text.find(" attempts in ") else { return text.to_owned() };
    let start = at + " attempts in ".len();
    let end = text[start..].find(" s)").map_or(start, |offset| start + offset);
    format!("{}N{}", &text[..start], &text[end..])
}

#[test]
fn under_json_every_error_is_one_json_object_on_stdout() {
    let project = Project::new(
        "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n\n[[testfs.group]]\nid = \"g\"\nfolder = \"ghost\"\ninterval = \"1m\"\n",
    );
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--json"]));
    assert_eq!((code, stderr.as_str()), (1, ""));
    let error: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    insta::assert_json_snapshot!(error, @r#"
    {
      "format_version": 1,
      "error": {
        "kind": "invalid",
        "message": "definitions/main.toml:7:1: `folder.ghost` is not defined for provider instance `testfs`",
        "problems": [
          {
            "file": "definitions/main.toml",
            "line": 7,
            "column": 1,
            "message": "`folder.ghost` is not defined for provider instance `testfs`"
          }
        ]
      }
    }
    "#);

    // A command line clap refuses.
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--json", "--target"]));
    assert_eq!((code, stderr.as_str()), (2, ""));
    let error: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(error["error"]["kind"], "usage");
    assert_eq!(
        error["error"]["message"],
        "a value is required for '--target <KIND.ID|INSTANCE>' but none was supplied"
    );

    // Anything else: the message, no problems.
    project.define("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n");
    let (code, stdout, _) = run(project.mac().args(["plan", "--json", "--target", "folder.nope"]));
    assert_eq!(code, 1);
    let error: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(
        error,
        serde_json::json!({ "format_version": 1, "error": { "kind": "failed", "message": "no defined or managed object matches --target folder.nope", "problems": [] } })
    );
    assert_eq!(stdout.lines().count(), 1);

    // Without --json: the human line on stderr, as ever.
    let (_, stdout, stderr) = run(project.mac().args(["plan", "--target", "folder.nope"]));
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", "error: no defined or managed object matches --target folder.nope\n")
    );
}

#[test]
fn a_plan_that_cannot_be_saved_is_one_json_error_and_no_plan() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, _) = run(project.mac().args(["plan", "--json", "-o", "missing/dir/p.plan"]));
    assert_eq!(code, 1);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let error: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(error["error"]["kind"], "failed", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("cannot write the plan to missing/dir/p.plan")),
        "{error}"
    );
}
