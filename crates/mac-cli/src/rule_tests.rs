//! `mac test`: promtool unit tests of the project's rendered Prometheus rules, and the
//! equivalence check of rules other systems evaluate (Grafana's) with their Prometheus twins.
//!
//! The CLI knows no provider's fields: each kind that holds alerting rules exposes them
//! through `Handler::rule_view` (`mac_core::rules`). The rules under test are exactly what
//! `mac apply` would write: every definition whose rules Prometheus evaluates (templates
//! expanded with the use site's parameters), rendered by its provider's own code; running
//! promtool and comparing twins is `mac_promql`'s. This module finds the test files, asks the
//! providers, and prints.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mac_core::rules::{AlertRule, Evaluator, RuleView, TranslatedSystem};
use mac_core::{Definition, Fields, Providers};
use mac_promql::promtool::{self, UnitTests};
use mac_promql::twins;

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

/// A definition whose kind holds alerting rules, with its kind's view of them.
struct Viewed<'a> {
    definition: &'a Definition,
    view: &'a dyn RuleView,
}

pub fn run(config: &Config<'_>, definitions: &[Definition], providers: &Providers) -> anyhow::Result<ExitCode> {
    let mut out = crate::output::stdout();
    let files = test_files(config)?;
    let viewed: Vec<Viewed<'_>> = definitions
        .iter()
        .filter_map(|definition| {
            let handler = providers.handler(&definition.id.provider, &definition.id.kind)?;
            Some(Viewed { definition, view: handler.rule_view()? })
        })
        .collect();
    // Rules Prometheus evaluates: unit-tested, and the twins of the others.
    let groups: Vec<&Viewed<'_>> =
        viewed.iter().filter(|viewed| viewed.view.evaluator() == Evaluator::Prometheus).collect();
    let twin_reports = if groups.is_empty() { Vec::new() } else { twin_reports(&viewed, &groups) };
    if files.is_empty() && twin_reports.is_empty() {
        bail!(
            "nothing to test: no promtool test files in {} (name files or directories: mac test PATH…), and no Grafana alert rules with Prometheus twins",
            config.root.join(DEFAULT_DIR).display()
        );
    }

    let mut outcomes = Vec::new();
    if !files.is_empty() {
        let promtool = promtool::find(config.promtool)?;
        let mut unit_tests = UnitTests::new(promtool, &rule_files(&groups)?)?;
        let rule_count: usize =
            groups.iter().map(|group| group.view.rule_count(&group.definition.fields.to_map())).sum();
        writeln!(
            out,
            "Rules under test: {} group(s), {rule_count} rule(s), rendered as mac apply writes them.",
            groups.len()
        )?;
        for file in &files {
            // `./tests/x.yml` when the project is the current directory: shown as `tests/x.yml`.
            let shown = file.strip_prefix(".").unwrap_or(file).display().to_string();
            let outcome = unit_tests.run(file, &shown)?;
            if outcome.passed {
                writeln!(out, "{shown} ... ok")?;
            } else {
                writeln!(out, "{shown} ... FAILED")?;
                for line in outcome.text.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
            outcomes.push(outcome);
        }
    }

    let mut differing = 0;
    for (index, report) in twin_reports.iter().enumerate() {
        if index > 0 || !outcomes.is_empty() {
            writeln!(out)?;
        }
        let system = report.system.name;
        writeln!(out, "{system} rules and their Prometheus twins (paired by runbook_url):")?;
        for pair in &report.pairs {
            if pair.differences.is_empty() {
                writeln!(out, "  {} = {} ... equivalent", pair.translated, pair.prometheus)?;
            } else {
                differing += 1;
                writeln!(out, "  {} = {} ... DIFFERENT", pair.translated, pair.prometheus)?;
                for difference in &pair.differences {
                    writeln!(out, "      {difference}")?;
                }
            }
        }
        if !report.unpaired_translated.is_empty() || !report.unpaired_prometheus.is_empty() {
            writeln!(
                out,
                "  without a twin (not compared): {} {system} rule(s), {} Prometheus alert(s)",
                report.unpaired_translated.len(),
                report.unpaired_prometheus.len()
            )?;
        }
    }

    let failed = outcomes.iter().filter(|outcome| !outcome.passed).count();
    let mut summary = Vec::new();
    if !outcomes.is_empty() {
        summary.push(format!("{} test file(s): {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed));
    }
    if !twin_reports.is_empty() {
        let pairs: usize = twin_reports.iter().map(|report| report.pairs.len()).sum();
        summary.push(format!("{pairs} twin pair(s): {} equivalent, {differing} different", pairs - differing));
    }
    writeln!(out, "\n{}.", summary.join("; "))?;
    Ok(if failed == 0 && differing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One report per system whose rules are translated into PromQL (by its name), comparing its
/// rules with the alerting rules Prometheus evaluates.
fn twin_reports(viewed: &[Viewed<'_>], groups: &[&Viewed<'_>]) -> Vec<twins::Report> {
    let alert_rules = |viewed: &Viewed<'_>| {
        viewed.view.alert_rules(&viewed.definition.id.local_id, &viewed.definition.fields.to_map())
    };
    let prometheus: Vec<AlertRule> = groups.iter().flat_map(|group| alert_rules(group)).collect();
    let mut translated: BTreeMap<&str, (TranslatedSystem, Vec<AlertRule>)> = BTreeMap::new();
    for viewed in viewed {
        if let Evaluator::Translated(system) = viewed.view.evaluator() {
            translated.entry(system.name).or_insert_with(|| (system, Vec::new())).1.extend(alert_rules(viewed));
        }
    }
    translated.into_values().map(|(system, rules)| twins::check(system, &rules, &prometheus)).collect()
}

/// The rule files of the groups, by provider instance: what an apply would write to each
/// instance's rules directory.
fn rule_files(groups: &[&Viewed<'_>]) -> anyhow::Result<BTreeMap<String, BTreeMap<String, String>>> {
    // Each kind of each instance renders its own groups.
    let mut by_kind: BTreeMap<(&str, &str), Vec<&Viewed<'_>>> = BTreeMap::new();
    for group in groups {
        let id = &group.definition.id;
        by_kind.entry((id.provider.as_str(), id.kind.as_str())).or_default().push(group);
    }
    let mut files: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for ((instance, kind), groups) in by_kind {
        let fields: Vec<Fields> = groups.iter().map(|group| group.definition.fields.to_map()).collect();
        let definitions: Vec<(&str, &Fields)> =
            groups.iter().zip(&fields).map(|(group, fields)| (group.definition.id.local_id.as_str(), fields)).collect();
        let rendered = groups[0]
            .view
            .rule_files(&definitions)
            .with_context(|| format!("cannot render the rule files of {instance}"))?;
        let instance_files = files.entry(instance.to_owned()).or_default();
        for (name, text) in rendered {
            if instance_files.insert(name.clone(), text).is_some() {
                bail!("cannot render the rule files of {instance}: two kinds write {name} ({kind} is the second)");
            }
        }
    }
    Ok(files)
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
