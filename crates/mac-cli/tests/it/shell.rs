//! `mac completions` and `mac man`: the scripts load in their shells and complete commands,
//! and there is one man page per command that renders without a warning; the README's command
//! table has a row for every command. The commands are read from the binary's own `--help`, so
//! a command added later is checked without a change here.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use insta::assert_snapshot;

use crate::run;

/// The `mac` binary, outside any project.
fn mac() -> Command {
    let mut command = Command::cargo_bin("mac").expect("the mac binary is built");
    command.env("NO_COLOR", "1");
    command
}

/// The subcommands `mac PATH… --help` lists (clap's own `help` left out).
fn subcommands_of(path: &[String]) -> Vec<String> {
    let (code, stdout, stderr) = run(mac().args(path).arg("--help"));
    assert_eq!(code, 0, "mac {path:?} --help: {stderr}");
    stdout
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        // A command's line starts with two spaces; a wrapped description would start with more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command path of the tree: `["plan"]`, `["state"]`, `["state", "list"]`, … depth first.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(path: &[String], found: &mut Vec<Vec<String>>) {
        for name in subcommands_of(path) {
            let mut child = path.to_vec();
            child.push(name);
            found.push(child.clone());
            walk(&child, found);
        }
    }
    let mut found = Vec::new();
    walk(&[], &mut found);
    found
}

fn completion_script(shell: &str) -> String {
    let (code, stdout, stderr) = run(mac().args(["completions", shell]));
    assert_eq!(code, 0, "mac completions {shell}: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    stdout
}

/// Runs `script` in a non-interactive bash; (status, stdout, stderr).
fn bash(script: &str) -> (i32, String, String) {
    run(Command::new("bash").args(["-c", script]))
}

#[test]
fn the_bash_script_parses_registers_and_completes_commands_and_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mac.bash");
    std::fs::write(&file, completion_script("bash")).expect("write the script");
    let file = file.display();
    let (code, _, stderr) = run(Command::new("bash").arg("-n").arg(file.to_string()));
    assert_eq!((code, stderr.as_str()), (0, ""), "bash -n");
    let (code, stdout, stderr) = bash(&format!("source '{file}' && complete -p mac"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @"complete -o bashdefault -o default -o nosort -F _mac mac");

    // What bash does on TAB: COMP_WORDS and COMP_CWORD set, the function called with the
    // command, the word being completed and the word before it; COMPREPLY holds the candidates.
    let complete = |words: &str| {
        let script = format!(
            "source '{file}'\nCOMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()\n\
             _mac mac \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let (code, stdout, stderr) = bash(&script);
        assert_eq!(code, 0, "completing `{words}`: {stderr}");
        stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(complete("mac pl"), ["plan"]);
    assert_eq!(complete("mac state un"), ["unlock"]);
    assert_eq!(complete("mac apply --auto"), ["--auto-approve"]);
    let shells = complete("mac completions ''");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|candidate| candidate == shell), "{shell} is offered: {shells:?}");
    }
    // Every command, those added after this test too, completes from its first letters.
    for path in command_paths() {
        let (last, parents) = path.split_last().expect("a path names a command");
        let typed = format!("mac {} {}", parents.join(" "), &last[..2.min(last.len())]);
        assert!(complete(&typed).contains(last), "`{typed}<TAB>` offers {last}");
    }
}

/// The text by which a completion script offers a command, from the command's name.
type OfferOf = fn(&str) -> String;

#[test]
fn the_zsh_fish_powershell_and_elvish_scripts_offer_every_command() {
    let top_level: Vec<String> = subcommands_of(&[]);
    assert!(top_level.len() >= 10, "{top_level:?}");
    // How each script offers a top-level command, as clap_complete writes it.
    let offers: [(&str, OfferOf); 4] = [
        ("zsh", |name| format!("'{name}:")),
        ("fish", |name| format!("__fish_mac_needs_command\" -f -a \"{name}\"")),
        ("powershell", |name| format!("[CompletionResult]::new('{name}', '{name}'")),
        ("elvish", |name| format!("cand {name} '")),
    ];
    for (shell, offer) in offers {
        let script = completion_script(shell);
        for command in &top_level {
            assert!(script.contains(&offer(command)), "the {shell} script offers `{command}`");
        }
        // Checked by the shell itself only where it is installed: setup installs no shell that
        // nothing else needs, and the bash test above runs its script for real.
        if ["zsh", "fish"].contains(&shell) && mac_test_tools::runs(Path::new(shell), &["--version"]) {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join(format!("mac.{shell}"));
            std::fs::write(&file, &script).expect("write the script");
            let (code, _, stderr) = run(Command::new(shell).arg("-n").arg(&file));
            assert_eq!((code, stderr.as_str()), (0, ""), "{shell} -n");
        }
    }
}

#[test]
fn every_command_has_a_man_page_that_renders_without_warnings() {
    let Some(man) = mac_test_tools::program(&mac_test_tools::MAN) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man1");
    let (code, stdout, stderr) = run(mac().args(["man", "--out"]).arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Wrote "), "{stdout}");

    let mut expected: Vec<String> = command_paths().iter().map(|path| format!("mac-{}.1", path.join("-"))).collect();
    expected.push("mac.1".to_owned());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .expect("the pages' directory")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected, "one page per command, nested `state` subcommands included");
    assert!(written.contains(&"mac-state-unlock.1".to_owned()));

    for name in &written {
        let page = out.join(name);
        let source = std::fs::read_to_string(&page).expect("a page");
        assert!(source.is_ascii(), "{name}: characters outside ASCII are written as groff escapes");
        let (code, rendered, stderr) = run(&mut render(&man, &page));
        assert_eq!((code, stderr.as_str()), (0, ""), "man -l {name} warns");
        let title = name.trim_end_matches(".1");
        assert!(rendered.contains("NAME") && rendered.contains(title), "{name}:\n{rendered}");
    }

    let (_, rendered, _) = run(&mut render(&man, &out.join("mac-state-unlock.1")));
    let first_lines: Vec<&str> = rendered.lines().take(16).map(str::trim_end).collect();
    let version = env!("CARGO_PKG_VERSION");
    assert_snapshot!(first_lines.join("\n").replace(version, "[version]"), @r"
    mac-state-unlock(1)         General Commands Manual        mac-state-unlock(1)

    NAME
           mac-state-unlock  -  Break the state lock of a run that is gone or hung
           (a shared backend releases the lock of a run that died by itself;  this
           is for the rare rest). Says what it breaks

    SYNOPSIS
           mac  state  unlock  [-C|--directory] [--force] [-e|--env] [--log-level]
           [--color] [--no-color] [-h|--help] [-V|--version]

    DESCRIPTION
           Break the state lock of a run that is gone or hung  (a  shared  backend
           releases  the  lock  of a run that died by itself; this is for the rare
           rest). Says what it breaks
    ");
}

/// `man -l PAGE` as a person at an 80-column terminal reads it, every groff warning on.
fn render(man: &Path, page: &Path) -> Command {
    let mut command = Command::from_std(Process::new(man));
    command
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C.UTF-8")
        .env_remove("MAN_KEEP_FORMATTING");
    command
}

/// The README's command table (issue 19: "lists every command with one line each") has a row
/// for every command `mac --help` lists, those added later included.
#[test]
fn the_readme_command_table_has_a_row_for_every_command() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .expect("the repository's README");
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|line| *line != "## Commands")
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(rows.len() > 10, "the table under `## Commands`: {rows:?}");
    for command in subcommands_of(&[]) {
        let row = format!("| `mac {command}");
        assert!(
            rows.iter().any(|line| line.starts_with(&row) && line[row.len()..].starts_with([' ', '`'])),
            "no row for `mac {command}` in the README's command table"
        );
    }
}
