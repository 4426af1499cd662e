//! `mac test`: promtool unit tests of the project's rendered Prometheus rules, and the
//! equivalence check of Grafana and Prometheus twins (`twins`).
//!
//! The rules under test are exactly what `mac apply` would write: every
//! `prometheus.rule_group` definition (templates expanded with the use site's parameters),
//! one rule file per namespace, rendered by the prometheus provider's own code. Each test
//! file is rewritten with `rule_files` naming those files, then run with
//! `promtool test rules`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mac_core::Definition;

use crate::twins;

/// Where test files are looked for when none are named: `<project>/tests/`.
pub const DEFAULT_DIR: &str = "tests";

/// How `mac test` runs.
#[derive(Debug)]
pub struct Config<'a> {
    pub root: &'a Path,
    /// Test files or directories named on the command line; empty: `<root>/tests/`.
    pub paths: &'a [PathBuf],
    /// promtool's path; `None`: `promtool` from PATH.
    pub promtool: Option<&'a Path>,
}

/// The outcome of one test file.
#[derive(Debug)]
struct FileOutcome {
    shown: String,
    passed: bool,
    /// promtool's explanation of a failure, temporary paths replaced.
    text: String,
}

pub fn run(config: &Config<'_>, definitions: &[Definition]) -> anyhow::Result<ExitCode> {
    let mut out = anstream::stdout();
    let files = test_files(config)?;
    let groups: Vec<&Definition> = definitions
        .iter()
        .filter(|definition| base(&definition.id.provider) == "prometheus" && definition.id.kind == "rule_group")
        .collect();
    let alert_groups: Vec<&Definition> = definitions
        .iter()
        .filter(|definition| base(&definition.id.provider) == "grafana8" && definition.id.kind == "alert_group")
        .collect();
    let twins_report = (!groups.is_empty() && !alert_groups.is_empty()).then(|| {
        let grafana = twins::grafana_rules(
            alert_groups.iter().map(|definition| (definition.id.local_id.as_str(), &definition.fields)),
        );
        let prometheus = twins::prometheus_rules(
            groups.iter().map(|definition| (definition.id.local_id.as_str(), &definition.fields)),
        );
        twins::check(&grafana, &prometheus)
    });
    if files.is_empty() && twins_report.is_none() {
        bail!(
            "nothing to test: no promtool test files in {} (name files or directories: mac test PATH…), and no Grafana alert rules with Prometheus twins",
            config.root.join(DEFAULT_DIR).display()
        );
    }

    let mut outcomes = Vec::new();
    if !files.is_empty() {
        let promtool = find_promtool(config.promtool)?;
        let work = tempfile::tempdir().context("cannot create a temporary directory")?;
        let rule_files = write_rule_files(work.path(), &groups)?;
        let rule_count: usize = groups
            .iter()
            .map(|group| group.fields.get("rules").and_then(serde_json::Value::as_array).map_or(0, Vec::len))
            .sum();
        writeln!(
            out,
            "Rules under test: {} group(s), {rule_count} rule(s), rendered as mac apply writes them.",
            groups.len()
        )?;
        for (index, file) in files.iter().enumerate() {
            let outcome = run_file(&promtool, work.path(), index, file, &rule_files)?;
            if outcome.passed {
                writeln!(out, "{} ... ok", outcome.shown)?;
            } else {
                writeln!(out, "{} ... FAILED", outcome.shown)?;
                for line in outcome.text.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
            outcomes.push(outcome);
        }
    }

    let mut differing = 0;
    if let Some(report) = &twins_report {
        if !outcomes.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "Grafana rules and their Prometheus twins (paired by runbook_url):")?;
        for pair in &report.pairs {
            if pair.differences.is_empty() {
                writeln!(out, "  {} = {} ... equivalent", pair.grafana, pair.prometheus)?;
            } else {
                differing += 1;
                writeln!(out, "  {} = {} ... DIFFERENT", pair.grafana, pair.prometheus)?;
                for difference in &pair.differences {
                    writeln!(out, "      {difference}")?;
                }
            }
        }
        if !report.unpaired_grafana.is_empty() || !report.unpaired_prometheus.is_empty() {
            writeln!(
                out,
                "  without a twin (not compared): {} Grafana rule(s), {} Prometheus alert(s)",
                report.unpaired_grafana.len(),
                report.unpaired_prometheus.len()
            )?;
        }
    }

    let failed = outcomes.iter().filter(|outcome| !outcome.passed).count();
    let mut summary = Vec::new();
    if !outcomes.is_empty() {
        summary.push(format!("{} test file(s): {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed));
    }
    if let Some(report) = &twins_report {
        summary.push(format!(
            "{} twin pair(s): {} equivalent, {differing} different",
            report.pairs.len(),
            report.pairs.len() - differing
        ));
    }
    writeln!(out, "\n{}.", summary.join("; "))?;
    Ok(if failed == 0 && differing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn base(instance: &str) -> &str {
    instance.split('.').next().unwrap_or(instance)
}

/// The named files, the `*.yml`/`*.yaml` files of named directories (recursively), or those
/// of `<root>/tests/`; sorted, so that output is stable.
fn test_files(config: &Config<'_>) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if config.paths.is_empty() {
        let dir = config.root.join(DEFAULT_DIR);
        if dir.is_dir() {
            collect(&dir, &mut files)?;
        }
    }
    for path in config.paths {
        if path.is_dir() {
            collect(path, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("{} is not a test file or a directory of test files", path.display());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "yml" || extension == "yaml") {
            files.push(path);
        }
    }
    Ok(())
}

fn find_promtool(configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    const INSTALL: &str = "install Debian's package `prometheus` (apt-get install prometheus), which ships promtool, or pass --promtool PATH";
    if let Some(path) = configured {
        if path.is_file() {
            return Ok(path.to_owned());
        }
        bail!("promtool {} does not exist: {INSTALL}", path.display());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|directory| directory.join("promtool"))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("mac test runs `promtool test rules`, and there is no promtool on PATH: {INSTALL}"))
}

/// Writes the rule files, one directory per provider instance; returns their paths.
#[cfg(feature = "prometheus")]
fn write_rule_files(dir: &Path, groups: &[&Definition]) -> anyhow::Result<Vec<String>> {
    use mac_provider_prometheus::unit_test::{GroupDefinition, rule_files};
    let mut instances: Vec<&str> = groups.iter().map(|group| group.id.provider.as_str()).collect();
    instances.sort_unstable();
    instances.dedup();
    let mut paths = Vec::new();
    for instance in instances {
        let definitions: Vec<GroupDefinition<'_>> = groups
            .iter()
            .filter(|group| group.id.provider == instance)
            .map(|group| GroupDefinition { local_id: &group.id.local_id, fields: &group.fields })
            .collect();
        let files = rule_files(&definitions).with_context(|| format!("cannot render the rule files of {instance}"))?;
        let directory = dir.join("rules").join(instance);
        std::fs::create_dir_all(&directory).with_context(|| format!("cannot create {}", directory.display()))?;
        for (name, text) in files {
            let path = directory.join(name);
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            paths.push(path.display().to_string());
        }
    }
    Ok(paths)
}

#[cfg(not(feature = "prometheus"))]
fn write_rule_files(_dir: &Path, _groups: &[&Definition]) -> anyhow::Result<Vec<String>> {
    bail!("this mac was built without the prometheus provider (feature `prometheus`), which mac test needs")
}

#[cfg(feature = "prometheus")]
fn point_test_file(text: &str, rule_files: &[String]) -> anyhow::Result<String> {
    Ok(mac_provider_prometheus::unit_test::point_test_file(text, rule_files)?)
}

#[cfg(not(feature = "prometheus"))]
fn point_test_file(_text: &str, _rule_files: &[String]) -> anyhow::Result<String> {
    bail!("this mac was built without the prometheus provider (feature `prometheus`), which mac test needs")
}

fn run_file(
    promtool: &Path,
    work: &Path,
    index: usize,
    file: &Path,
    rule_files: &[String],
) -> anyhow::Result<FileOutcome> {
    // `./tests/x.yml` when the project is the current directory: shown as `tests/x.yml`.
    let shown = file.strip_prefix(".").unwrap_or(file).display().to_string();
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {shown}"))?;
    let pointed = point_test_file(&text, rule_files).with_context(|| shown.clone())?;
    let name = file.file_name().map_or_else(|| "test.yml".into(), |name| name.to_string_lossy().into_owned());
    let written = work.join(format!("{index}-{name}"));
    std::fs::write(&written, pointed).with_context(|| format!("cannot write {}", written.display()))?;
    let output = std::process::Command::new(promtool)
        .args(["test", "rules"])
        .arg(&written)
        .current_dir(work)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", promtool.display()))?;
    let combined = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let rules_dir = format!("{}/", work.join("rules").display());
    let text: Vec<String> = combined
        .lines()
        .filter(|line| {
            let trimmed = line.trim();
            !trimmed.is_empty() && !trimmed.starts_with("Unit Testing:") && trimmed != "SUCCESS" && trimmed != "FAILED:"
        })
        .map(|line| line.replace(&written.display().to_string(), &shown).replace(&rules_dir, ""))
        .collect();
    Ok(FileOutcome { shown, passed: output.status.success(), text: dedent(&text) })
}

/// promtool indents its failures under the file's heading: take the common indentation off.
fn dedent(lines: &[String]) -> String {
    let indent = lines.iter().map(|line| line.len() - line.trim_start().len()).min().unwrap_or(0);
    lines.iter().map(|line| &line[indent..]).collect::<Vec<_>>().join("\n")
}
