//! promtool unit tests (`promtool test rules`) of rendered rule files: the rule files of each
//! provider instance written to a temporary directory, each test file rewritten with
//! `rule_files` naming them, then run, and promtool's explanation of a failure kept without
//! the temporary paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value as Yaml;

const INSTALL: &str =
    "install Debian's package `prometheus` (apt-get install prometheus), which ships promtool, or pass --promtool PATH";

/// Why a unit test could not be run (a test that runs and fails is an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum PromtoolError {
    #[error("promtool {} does not exist: {INSTALL}", .0.display())]
    Missing(PathBuf),
    #[error("mac test runs `promtool test rules`, and there is no promtool on PATH: {INSTALL}")]
    NotOnPath,
    #[error("cannot create a temporary directory")]
    TemporaryDirectory(#[source] std::io::Error),
    #[error("cannot {action} {}", path.display())]
    Io {
        /// `read`, `write`, `create`.
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{shown}")]
    TestFile {
        shown: String,
        #[source]
        source: TestFileError,
    },
    #[error("cannot run {}", .0.display())]
    Run(PathBuf, #[source] std::io::Error),
}

/// Why a test file cannot be pointed at the rendered rules.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    #[error("not valid YAML")]
    Yaml(#[source] serde_norway::Error),
    #[error("not a promtool test file: {0}")]
    NotATestFile(&'static str),
}

/// `configured` when it is a file, else `promtool` from PATH.
pub fn find(configured: Option<&Path>) -> Result<PathBuf, PromtoolError> {
    if let Some(path) = configured {
        if path.is_file() {
            return Ok(path.to_owned());
        }
        return Err(PromtoolError::Missing(path.to_owned()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|directory| directory.join("promtool"))
        .find(|candidate| candidate.is_file())
        .ok_or(PromtoolError::NotOnPath)
}

/// The outcome of one test file.
#[derive(Debug)]
pub struct Outcome {
    pub passed: bool,
    /// promtool's explanation of a failure, temporary paths replaced and common indentation
    /// taken off.
    pub text: String,
}

/// Rendered rule files in a temporary directory (removed on drop), against which test files run.
#[derive(Debug)]
pub struct UnitTests {
    promtool: PathBuf,
    work: tempfile::TempDir,
    rule_files: Vec<String>,
    /// Test files run so far: each is written under its own name.
    runs: usize,
}

impl UnitTests {
    /// Writes the rule files, one directory per provider instance (instance → file name → text).
    pub fn new(
        promtool: PathBuf,
        rule_files: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, PromtoolError> {
        let work = tempfile::tempdir().map_err(PromtoolError::TemporaryDirectory)?;
        let mut paths = Vec::new();
        for (instance, files) in rule_files {
            let directory = work.path().join("rules").join(instance);
            std::fs::create_dir_all(&directory).map_err(|source| io("create", &directory, source))?;
            for (name, text) in files {
                let path = directory.join(name);
                std::fs::write(&path, text).map_err(|source| io("write", &path, source))?;
                paths.push(path.display().to_string());
            }
        }
        Ok(UnitTests { promtool, work, rule_files: paths, runs: 0 })
    }

    /// Runs one test file against the rule files; `shown` is how messages name it.
    pub fn run(&mut self, file: &Path, shown: &str) -> Result<Outcome, PromtoolError> {
        let work = self.work.path();
        let text = std::fs::read_to_string(file).map_err(|source| PromtoolError::Io {
            action: "read",
            path: PathBuf::from(shown),
            source,
        })?;
        let pointed = point_test_file(&text, &self.rule_files)
            .map_err(|source| PromtoolError::TestFile { shown: shown.to_owned(), source })?;
        let name = file.file_name().map_or_else(|| "test.yml".into(), |name| name.to_string_lossy().into_owned());
        let written = work.join(format!("{}-{name}", self.runs));
        self.runs += 1;
        std::fs::write(&written, pointed).map_err(|source| io("write", &written, source))?;
        let output = std::process::Command::new(&self.promtool)
            .args(["test", "rules"])
            .arg(&written)
            .current_dir(work)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| PromtoolError::Run(self.promtool.clone(), source))?;
        let combined =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let rules_dir = format!("{}/", work.join("rules").display());
        let text: Vec<String> = combined
            .lines()
            .filter(|line| {
                let trimmed = line.trim();
                !trimmed.is_empty()
                    && !trimmed.starts_with("Unit Testing:")
                    && trimmed != "SUCCESS"
                    && trimmed != "FAILED:"
            })
            .map(|line| line.replace(&written.display().to_string(), shown).replace(&rules_dir, ""))
            .collect();
        Ok(Outcome { passed: output.status.success(), text: dedent(&text) })
    }
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> PromtoolError {
    PromtoolError::Io { action, path: path.to_owned(), source }
}

/// A promtool unit-test file whose `rule_files` are `rule_files`, whatever it named before:
/// the rules under test are the project's.
pub fn point_test_file(text: &str, rule_files: &[String]) -> Result<String, TestFileError> {
    let mut document: Yaml = serde_norway::from_str(text).map_err(TestFileError::Yaml)?;
    let Yaml::Mapping(map) = &mut document else {
        return Err(TestFileError::NotATestFile("it must be a mapping with `tests`"));
    };
    if !map.get("tests").is_some_and(Yaml::is_sequence) {
        return Err(TestFileError::NotATestFile("it has no list of `tests`"));
    }
    let files = rule_files.iter().cloned().map(Yaml::String).collect();
    map.insert(Yaml::String("rule_files".to_owned()), Yaml::Sequence(files));
    serde_norway::to_string(&document).map_err(TestFileError::Yaml)
}

/// promtool indents its failures under the file's heading: take the common indentation off.
fn dedent(lines: &[String]) -> String {
    let indent = lines.iter().map(|line| line.len() - line.trim_start().len()).min().unwrap_or(0);
    lines.iter().map(|line| &line[indent..]).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_file_is_pointed_at_the_rendered_rules() {
        let text = "rule_files: [theirs.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series: []\n";
        let pointed = point_test_file(text, &["/tmp/x/payments.yml".to_owned()]).expect("a test file");
        let document: Yaml = serde_norway::from_str(&pointed).expect("YAML");
        assert_eq!(document["rule_files"][0].as_str(), Some("/tmp/x/payments.yml"));
        assert_eq!(document["rule_files"].as_sequence().map(Vec::len), Some(1));
        assert_eq!(document["evaluation_interval"].as_str(), Some("1m"));
        assert!(matches!(point_test_file("- a\n", &[]), Err(TestFileError::NotATestFile(_))));
        assert!(matches!(point_test_file("groups: []\n", &[]), Err(TestFileError::NotATestFile(_))));
        assert!(matches!(point_test_file("tests: [\n", &[]), Err(TestFileError::Yaml(_))));
    }

    #[test]
    fn promtools_indentation_is_taken_off() {
        let lines = ["    a".to_owned(), "      b".to_owned()];
        assert_eq!(dedent(&lines), "a\n  b");
    }
}
