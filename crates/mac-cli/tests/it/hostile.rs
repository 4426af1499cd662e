//! Bad input never reaches Grafana: each broken project exits 1 with one clear error at a
//! file:line:column, and the server sees zero requests.

use crate::grafana8::Grafana;
use crate::run;

const FOLDER: &str = "[[grafana8.folder]]\nid = \"ops\"\ntitle = \"Ops\"\n";

const GROUP: &str = r#"
[[grafana8.alert_group]]
id = "g"
folder = "ops"
interval = "1m"

[[grafana8.alert_group.rules]]
title = "Down"
condition = "A"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = "__expr__"
model = { type = "math", expression = "1 > 0" }
"#;

/// Files besides the definitions: (path, contents).
type Extra = Vec<(&'static str, Vec<u8>)>;

/// (what is wrong, the definitions file, extra files, the error's start)
fn corpus() -> Vec<(&'static str, Vec<u8>, Extra, &'static str)> {
    let text = |value: &str| value.as_bytes().to_vec();
    let mut huge = b"x = \"".to_vec();
    huge.resize(50 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\"\n");
    let deep = format!("x = {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    vec![
        ("malformed TOML", text("[[grafana8.folder]\nid = \"ops\"\n"), vec![], "error: definitions/main.toml:1:"),
        (
            "wrong type",
            text("[[grafana8.folder]]\nid = \"ops\"\ntitle = 5\n"),
            vec![],
            "error: definitions/main.toml:3:1:",
        ),
        ("unknown kind", text("[[grafana8.foldr]]\nid = \"ops\"\n"), vec![], "error: definitions/main.toml:1:12:"),
        ("unknown key", text(&format!("{FOLDER}colour = \"red\"\n")), vec![], "error: definitions/main.toml:4:1:"),
        (
            "dangling reference",
            text(&GROUP.replace("folder = \"ops\"", "folder = \"nope\"")),
            vec![],
            "error: definitions/main.toml:4:1:",
        ),
        (
            "cyclic references",
            text(
                "[[grafana8.datasource]]\nid = \"a\"\nname = \"A\"\ntype = \"prometheus\"\njson_data = { x = { ref = \"datasource.b\" } }\n\n\
                 [[grafana8.datasource]]\nid = \"b\"\nname = \"B\"\ntype = \"prometheus\"\njson_data = { x = { ref = \"datasource.a\" } }\n",
            ),
            vec![],
            "error: definitions/main.toml:",
        ),
        ("duplicate ids", text(&format!("{FOLDER}\n{FOLDER}")), vec![], "error: definitions/main.toml:5:1:"),
        (
            "invalid duration",
            text(&format!("{FOLDER}{}", GROUP.replace("\"1m\"", "\"soon\""))),
            vec![],
            "error: definitions/main.toml:8:1:",
        ),
        (
            "invalid UTF-8",
            b"[[grafana8.folder]]\nid = \"ops\"\ntitle = \"\xff\"\n".to_vec(),
            vec![],
            "error: definitions/main.toml:3:",
        ),
        ("a 50 MB file", huge, vec![], "error: definitions/main.toml:1:1: the file has"),
        ("deep nesting", text(&deep), vec![], "error: definitions/main.toml:1:"),
        (
            "template cycle",
            text("[[use]]\ntemplate = \"a\"\n"),
            vec![
                ("templates/a.toml", text("[template]\nname = \"a\"\n\n[[use]]\ntemplate = \"b\"\n")),
                ("templates/b.toml", text("[template]\nname = \"b\"\n\n[[use]]\ntemplate = \"a\"\n")),
            ],
            "error: templates/",
        ),
    ]
}

#[test]
fn every_bad_project_fails_plainly_before_any_request() {
    let grafana = Grafana::start("");
    for (what, definitions, extra, expected) in corpus() {
        std::fs::write(grafana.project.root().join("definitions/main.toml"), &definitions).expect("write");
        for (path, bytes) in &extra {
            let path = grafana.project.root().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("write");
        }
        grafana.emulator.reset_request_counts();
        for command in [vec!["plan"], vec!["apply", "--auto-approve"]] {
            let (code, stdout, stderr) = run(grafana.mac().args(&command));
            assert_eq!(code, 1, "{what}: {command:?} exits 1; stdout {stdout}");
            assert!(stderr.starts_with(expected), "{what}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{what}: one error: {stderr}");
            assert!(stdout.is_empty(), "{what}: nothing planned: {stdout}");
        }
        let requests: u64 = grafana.requests().values().sum();
        assert_eq!(requests, 0, "{what}: Grafana saw requests: {:?}", grafana.requests());
        for (path, _) in &extra {
            let _ = std::fs::remove_file(grafana.project.root().join(path));
        }
    }
    // The control: a valid project is planned, and its requests are counted.
    std::fs::write(grafana.project.root().join("definitions/main.toml"), FOLDER).expect("write");
    grafana.emulator.reset_request_counts();
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(grafana.requests().values().sum::<u64>() > 0, "the emulator counts what mac sends");
}
