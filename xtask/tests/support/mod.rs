//! The CI examples of `examples/ci`, read for tests: where they are, and the `mac` command
//! lines each job runs, in order. A test file uses it with `mod support;`.
//!
//! ```ignore
//! let workflow = support::read_example(support::GITHUB_WORKFLOW);
//! let plan = support::github_mac_commands(&workflow, "plan")?;   // ["mac validate", "mac test", "mac plan …"]
//! let apply = support::github_mac_commands(&workflow, "apply")?; // ["mac apply reviewed.plan …"]
//! ```
//!
//! A mac command is a line of a step's `run:` (GitHub) or of a job's `before_script:` or
//! `script:` entry (GitLab) that begins with `mac `; each is a whole shell command line (some
//! end in `|| [ $? -eq 2 ]` or redirect the output), to be run with `sh -c` in the project's
//! directory with `mac` on PATH.

use std::path::PathBuf;

use serde_norway::Value;

/// The GitHub Actions workflow, in `examples/ci`.
pub const GITHUB_WORKFLOW: &str = "github-actions.yml";

/// The GitLab CI/CD configuration, in `examples/ci`.
pub const GITLAB_CI: &str = "gitlab-ci.yml";

/// `examples/ci` of this repository, found from the crate whose tests include this module
/// (xtask's, and mac-cli's, which runs the examples' mac lines against real servers).
pub fn examples_dir() -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .map(|dir| dir.join("examples/ci"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no examples/ci above {}", crate_dir.display()))
}

/// The text of `examples/ci/NAME`.
pub fn read_example(name: &str) -> String {
    let path = examples_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Parses YAML text.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_norway::from_str(text).map_err(|err| format!("not YAML: {err}"))
}

/// The mac command lines of the job `job` of a GitHub Actions workflow, in the order its steps
/// run them.
pub fn github_mac_commands(workflow: &str, job: &str) -> Result<Vec<String>, String> {
    let workflow = parse(workflow)?;
    let steps = workflow["jobs"][job]["steps"].as_sequence().ok_or_else(|| format!("no job `{job}` with steps"))?;
    let mut commands = Vec::new();
    for step in steps {
        if let Some(run) = step.get("run") {
            let run = run.as_str().ok_or_else(|| format!("job `{job}`: a `run:` that is not text: {run:?}"))?;
            commands.extend(mac_lines(run).map_err(|err| format!("job `{job}`: {err}"))?);
        }
    }
    Ok(commands)
}

/// The mac command lines of the job `job` of a GitLab CI/CD configuration: its `before_script`
/// (its own, or the nearest one among the jobs it `extends`, as GitLab merges them), then its
/// `script`.
pub fn gitlab_mac_commands(ci: &str, job: &str) -> Result<Vec<String>, String> {
    let ci = parse(ci)?;
    let definition = ci.get(job).filter(|job| job.is_mapping()).ok_or_else(|| format!("no job `{job}`"))?;
    let mut commands = Vec::new();
    if let Some(before) = inherited(&ci, definition, "before_script", 0)? {
        commands.extend(script_lines(before, job)?);
    }
    let script = definition.get("script").ok_or_else(|| format!("job `{job}` has no `script`"))?;
    commands.extend(script_lines(script, job)?);
    Ok(commands)
}

/// `key` of `job`, else of the jobs it extends (the last one first, as GitLab merges them).
fn inherited<'a>(ci: &'a Value, job: &'a Value, key: &str, depth: usize) -> Result<Option<&'a Value>, String> {
    if let Some(value) = job.get(key) {
        return Ok(Some(value));
    }
    if depth > 10 {
        return Err("`extends` nests more than 10 deep".to_owned());
    }
    let parents: Vec<&str> = match job.get("extends") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Sequence(many)) => many.iter().filter_map(Value::as_str).collect(),
        Some(other) => return Err(format!("an `extends` that is not a job name or a list of them: {other:?}")),
    };
    for parent in parents.into_iter().rev() {
        let definition = ci.get(parent).ok_or_else(|| format!("`extends: {parent}` names no job"))?;
        if let Some(value) = inherited(ci, definition, key, depth + 1)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// The mac lines of a GitLab `script`-like value: a list of entries (or one text).
fn script_lines(script: &Value, job: &str) -> Result<Vec<String>, String> {
    let entries: Vec<&Value> = match script {
        Value::Sequence(entries) => entries.iter().collect(),
        one => vec![one],
    };
    let mut commands = Vec::new();
    for entry in entries {
        let text = entry.as_str().ok_or_else(|| format!("job `{job}`: a script entry that is not text: {entry:?}"))?;
        commands.extend(mac_lines(text).map_err(|err| format!("job `{job}`: {err}"))?);
    }
    Ok(commands)
}

/// The lines of a shell script that begin with `mac `. One indented (inside an `if` or a loop,
/// where it would not run on its own) or continued on the next line is an error: mac commands
/// must be lines that run as they stand.
pub fn mac_lines(script: &str) -> Result<Vec<String>, String> {
    let mut commands = Vec::new();
    for line in script.lines() {
        let trimmed = line.trim_start();
        if !(trimmed == "mac" || trimmed.starts_with("mac ")) {
            continue;
        }
        if trimmed.len() != line.len() {
            return Err(format!("an indented mac command, not a line of its own: `{line}`"));
        }
        if line.trim_end().ends_with('\\') {
            return Err(format!("a mac command continued on the next line: `{line}`"));
        }
        commands.push(line.trim_end().to_owned());
    }
    Ok(commands)
}
