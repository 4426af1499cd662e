//! The rules directory: reading rule files, and changing them as one transaction — check
//! with promtool, replace atomically, reload Prometheus, verify, and restore the previous
//! files if anything on the way fails.
//!
//! Every transaction of a provider instance holds one lock from reading the files to the end
//! of the verification. Several groups share a file, so concurrent writes to one file would
//! lose each other's changes; and a reload loads every file, so a bad file written by one
//! write would make another write's reload fail too. Rule files are small: they are read and
//! written with blocking calls, which take microseconds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mac_core::{HandlerError, HandlerErrorKind};
use serde_json::Value;
use serde_norway::{Mapping, Value as Yaml};

use crate::server::{LoadedRules, Server};

/// The first lines of every file mac writes, for whoever opens it.
pub(crate) const HEADER: &str = "# Managed by mac (monitoring as code). Groups defined in mac are rewritten on apply;\n# other groups are kept, comments are not.\n";

#[derive(Debug)]
pub struct RuleFiles {
    dir: PathBuf,
    promtool: Option<PathBuf>,
    timeout: Duration,
    lock: tokio::sync::Mutex<()>,
}

/// A rule file as read: its namespace (the file stem) and its groups, as JSON.
#[derive(Debug)]
pub struct RuleFile {
    pub namespace: String,
    pub groups: Vec<Value>,
}

impl RuleFiles {
    pub fn new(dir: PathBuf, promtool: Option<PathBuf>, timeout: Duration) -> RuleFiles {
        RuleFiles { dir, promtool, timeout, lock: tokio::sync::Mutex::new(()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn file_name(namespace: &str) -> String {
        format!("{namespace}.yml")
    }

    fn path(&self, namespace: &str) -> PathBuf {
        self.dir.join(RuleFiles::file_name(namespace))
    }

    /// Every `*.yml` file of the directory, in name order.
    pub fn list(&self) -> Result<Vec<RuleFile>, HandlerError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Unavailable, format!("cannot read rules_dir {}", self.dir.display()))
                .with_source(err)
        })?;
        let mut namespaces = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!("cannot read rules_dir {}", self.dir.display()),
                )
                .with_source(err)
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(namespace) = name.strip_suffix(".yml")
                && !namespace.starts_with('.')
                && entry.path().is_file()
            {
                namespaces.push(namespace.to_owned());
            }
        }
        namespaces.sort();
        let mut files = Vec::new();
        for namespace in namespaces {
            let Some(bytes) = self.read(&namespace)? else { continue };
            let document = parse(&self.path(&namespace), &bytes)?;
            let groups = groups_of(&document)
                .iter()
                .map(|group| serde_json::to_value(group).unwrap_or(Value::Null))
                .filter(Value::is_object)
                .collect();
            files.push(RuleFile { namespace, groups });
        }
        Ok(files)
    }

    /// A file's bytes, `None` when it does not exist.
    fn read(&self, namespace: &str) -> Result<Option<Vec<u8>>, HandlerError> {
        let path = self.path(namespace);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => {
                Err(HandlerError::new(HandlerErrorKind::Unavailable, format!("cannot read {}", path.display()))
                    .with_source(err))
            }
        }
    }

    /// Starts a transaction: nothing else reads or writes these files until it is dropped.
    pub async fn edit(&self) -> Edit<'_> {
        let guard = self.lock.lock().await;
        Edit { files: self, _guard: guard, changed: BTreeMap::new() }
    }

    /// `promtool check rules FILE`: `Err` with promtool's complaint, the file shown as `shown`.
    async fn check(&self, promtool: &Path, file: &Path, shown: &Path) -> Result<(), HandlerError> {
        let run = tokio::process::Command::new(promtool)
            .args(["check", "rules"])
            .arg(file)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(output)) => output,
            Ok(Err(err)) => {
                return Err(HandlerError::new(HandlerErrorKind::Other, format!("cannot run {}", promtool.display()))
                    .with_source(err));
            }
            Err(_) => {
                return Err(HandlerError::new(
                    HandlerErrorKind::Other,
                    format!("{} check rules did not finish within {:?}", promtool.display(), self.timeout),
                ));
            }
        };
        if output.status.success() {
            return Ok(());
        }
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let complaint: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("Checking ") && *line != "FAILED:")
            .collect();
        let complaint = complaint.join("; ").replace(&file.display().to_string(), &shown.display().to_string());
        Err(HandlerError::new(HandlerErrorKind::Invalid, format!("promtool check rules rejects {complaint}")))
    }
}

/// A file a commit changes: its namespace, its bytes before and after (`None`: no file).
type PlannedFile = (String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Changes to rule files under the transaction lock, made real by [`Edit::commit`].
#[derive(Debug)]
pub struct Edit<'a> {
    files: &'a RuleFiles,
    _guard: tokio::sync::MutexGuard<'a, ()>,
    /// Namespace → (the file's bytes before, its document now).
    changed: BTreeMap<String, (Option<Vec<u8>>, Yaml)>,
}

impl Edit<'_> {
    fn document(&mut self, namespace: &str) -> Result<&mut Yaml, HandlerError> {
        if !self.changed.contains_key(namespace) {
            let before = self.files.read(namespace)?;
            let document = match &before {
                Some(bytes) => parse(&self.files.path(namespace), bytes)?,
                None => Yaml::Mapping(Mapping::new()),
            };
            self.changed.insert(namespace.to_owned(), (before, document));
        }
        match self.changed.get_mut(namespace) {
            Some((_, document)) => Ok(document),
            None => Err(HandlerError::new(HandlerErrorKind::Other, "a rule file vanished from the transaction")),
        }
    }

    /// Puts `group` (named `name`) into the namespace's file: in place of the group of that
    /// name, or at the end. With `must_be_new`, a group of that name already there is a
    /// conflict (it is someone else's: adopt it with `--adopt`).
    pub fn put(&mut self, namespace: &str, name: &str, group: Yaml, must_be_new: bool) -> Result<(), HandlerError> {
        let path = self.files.path(namespace);
        let groups = groups_mut(self.document(namespace)?, &path)?;
        match groups.iter().position(|existing| group_name(existing) == Some(name)) {
            Some(_) if must_be_new => Err(HandlerError::new(
                HandlerErrorKind::Conflict,
                format!("{} already has a group named `{name}`", path.display()),
            )),
            Some(index) => {
                groups[index] = group;
                Ok(())
            }
            None => {
                groups.push(group);
                Ok(())
            }
        }
    }

    /// Takes the group named `name` out of the namespace's file, if it is there.
    pub fn remove(&mut self, namespace: &str, name: &str) -> Result<(), HandlerError> {
        let path = self.files.path(namespace);
        let groups = groups_mut(self.document(namespace)?, &path)?;
        groups.retain(|existing| group_name(existing) != Some(name));
        Ok(())
    }

    /// Checks, writes, reloads and verifies the changed files; on any failure after the
    /// first file was replaced, puts every file back as it was and reloads again.
    pub async fn commit(self, server: Option<&Server>) -> Result<(), HandlerError> {
        let files = self.files;
        let mut planned: Vec<PlannedFile> = Vec::new();
        for (namespace, (before, document)) in &self.changed {
            let empty = groups_of(document).is_empty();
            let after = if empty {
                None
            } else {
                let text = serde_norway::to_string(document).map_err(|err| {
                    HandlerError::new(HandlerErrorKind::Other, format!("cannot write {namespace}.yml as YAML"))
                        .with_source(err)
                })?;
                Some(format!("{HEADER}{text}").into_bytes())
            };
            if after.as_deref() != before.as_deref() {
                planned.push((namespace.clone(), before.clone(), after));
            }
        }
        if planned.is_empty() {
            return Ok(());
        }

        // Stage every new file next to its destination and check it before any is replaced.
        let mut staged = Vec::new();
        for (namespace, _, after) in &planned {
            let Some(after) = after else { continue };
            let path = files.path(namespace);
            let temporary = stage(&path, after)?;
            if let Some(promtool) = &files.promtool {
                files.check(promtool, temporary.path(), &path).await?;
            }
            staged.push((path, temporary));
        }
        for (path, temporary) in staged {
            temporary.persist(&path).map_err(|err| {
                HandlerError::new(HandlerErrorKind::Other, format!("cannot replace {}", path.display()))
                    .with_source(err.error)
            })?;
        }
        let mut removed = Vec::new();
        for (namespace, _, after) in &planned {
            if after.is_none() {
                let path = files.path(namespace);
                if let Err(err) = std::fs::remove_file(&path)
                    && err.kind() != std::io::ErrorKind::NotFound
                {
                    removed.push(Err(HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("cannot remove {}", path.display()),
                    )
                    .with_source(err)));
                }
            }
        }
        sync_directory(&files.dir);
        let outcome = match removed.into_iter().next() {
            Some(failed) => failed,
            None => match server {
                Some(server) => reload_and_verify(server, &planned, files.timeout).await,
                None => {
                    tracing::debug!("no `url`: rule files written, Prometheus not reloaded");
                    Ok(())
                }
            },
        };
        let Err(error) = outcome else { return Ok(()) };

        // Put the previous files back, so Prometheus keeps (or gets back) what worked.
        let mut restored = Ok(());
        for (namespace, before, _) in &planned {
            let path = files.path(namespace);
            let result = match before {
                Some(bytes) => stage(&path, bytes).and_then(|temporary| {
                    temporary.persist(&path).map(|_| ()).map_err(|err| {
                        HandlerError::new(HandlerErrorKind::Other, format!("cannot restore {}", path.display()))
                            .with_source(err.error)
                    })
                }),
                None => match std::fs::remove_file(&path) {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                        Err(HandlerError::new(HandlerErrorKind::Other, format!("cannot remove {}", path.display()))
                            .with_source(err))
                    }
                    _ => Ok(()),
                },
            };
            if restored.is_ok() {
                restored = result;
            }
        }
        sync_directory(&files.dir);
        let mut message = error.message.clone();
        match restored {
            Ok(()) => message.push_str("; the previous rule files were restored"),
            Err(err) => message.push_str(&format!("; restoring the previous rule files failed too: {}", err.message)),
        }
        if let Some(server) = server {
            match server.reload().await {
                Ok(()) => message.push_str(" and reloaded"),
                Err(err) => message.push_str(&format!(", but reloading them failed: {}", err.message)),
            }
        }
        Err(HandlerError { message, ..error })
    }
}

/// Reloads, then checks that the reload succeeded and that each changed file's groups are
/// loaded as written: group names, and each rule's type and name in order. Expressions are
/// not compared: Prometheus prints them back in its own formatting.
async fn reload_and_verify(server: &Server, planned: &[PlannedFile], timeout: Duration) -> Result<(), HandlerError> {
    server.reload().await?;
    if !server.last_reload_succeeded().await? {
        return Err(HandlerError::new(
            HandlerErrorKind::Invalid,
            format!(
                "Prometheus at {} reports that its last configuration reload failed (see its log)",
                server.base_url()
            ),
        ));
    }
    let started = Instant::now();
    for (namespace, _, after) in planned {
        let file_name = RuleFiles::file_name(namespace);
        let expected = match after {
            Some(bytes) => expected_groups(&parse(Path::new(&file_name), bytes)?),
            None => BTreeMap::new(),
        };
        loop {
            let loaded = server.loaded_groups(&file_name).await?;
            if loaded == expected {
                break;
            }
            // The reload answers when it is done; a little grace for a slow server all the same.
            if started.elapsed() >= timeout {
                return Err(HandlerError::new(
                    HandlerErrorKind::Invalid,
                    format!(
                        "after the reload Prometheus at {} has {} from {file_name}, but the file has {}; check that its rule_files cover this directory",
                        server.base_url(),
                        describe(&loaded),
                        describe(&expected)
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

fn describe(groups: &BTreeMap<String, LoadedRules>) -> String {
    if groups.is_empty() {
        return "no groups".to_owned();
    }
    let described: Vec<String> =
        groups.iter().map(|(name, rules)| format!("`{name}` ({} rules)", rules.len())).collect();
    format!("groups {}", described.join(", "))
}

/// What Prometheus should report for a file: group name → (type, name) of each rule.
fn expected_groups(document: &Yaml) -> BTreeMap<String, LoadedRules> {
    groups_of(document)
        .iter()
        .filter_map(|group| {
            let name = group_name(group)?.to_owned();
            let rules = group
                .get("rules")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .map(|rule| {
                    match (rule.get("alert").and_then(Yaml::as_str), rule.get("record").and_then(Yaml::as_str)) {
                        (Some(alert), _) => ("alerting".to_owned(), alert.to_owned()),
                        (None, Some(record)) => ("recording".to_owned(), record.to_owned()),
                        (None, None) => (String::new(), String::new()),
                    }
                })
                .collect();
            Some((name, rules))
        })
        .collect()
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Yaml, HandlerError> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        return Ok(Yaml::Mapping(Mapping::new()));
    }
    let document: Yaml = serde_norway::from_str(&text).map_err(|err| {
        HandlerError::new(HandlerErrorKind::Invalid, format!("{} is not valid YAML: {err}", path.display()))
    })?;
    match document {
        Yaml::Mapping(_) => Ok(document),
        Yaml::Null => Ok(Yaml::Mapping(Mapping::new())),
        _ => Err(HandlerError::new(
            HandlerErrorKind::Invalid,
            format!("{} is not a rule file: it must be a mapping with `groups`", path.display()),
        )),
    }
}

fn groups_of(document: &Yaml) -> &[Yaml] {
    document.get("groups").and_then(Yaml::as_sequence).map_or(&[], Vec::as_slice)
}

fn groups_mut<'a>(document: &'a mut Yaml, path: &Path) -> Result<&'a mut Vec<Yaml>, HandlerError> {
    let Yaml::Mapping(map) = document else {
        return Err(HandlerError::new(HandlerErrorKind::Invalid, format!("{} is not a rule file", path.display())));
    };
    let entry = map.entry(Yaml::String("groups".to_owned())).or_insert_with(|| Yaml::Sequence(Vec::new()));
    if entry.is_null() {
        *entry = Yaml::Sequence(Vec::new());
    }
    entry.as_sequence_mut().ok_or_else(|| {
        HandlerError::new(HandlerErrorKind::Invalid, format!("`groups` in {} is not a list", path.display()))
    })
}

fn group_name(group: &Yaml) -> Option<&str> {
    group.get("name").and_then(Yaml::as_str)
}

/// Writes `bytes` to a temporary file beside `path` (same directory, so that the rename is
/// atomic), readable as the file it replaces is — or by everyone, as Prometheus often runs
/// as its own user — and flushed to disk.
fn stage(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, HandlerError> {
    let failed = |err: std::io::Error| {
        HandlerError::new(HandlerErrorKind::Other, format!("cannot write a temporary file for {}", path.display()))
            .with_source(err)
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_name().and_then(|name| name.to_str()).unwrap_or("rules");
    // Not ending in .yml: a rule_files glob never picks up a half-made file.
    let mut temporary =
        tempfile::Builder::new().prefix(&format!(".{stem}.")).suffix(".mac-tmp").tempfile_in(dir).map_err(failed)?;
    temporary.write_all(bytes).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|metadata| metadata.permissions().mode() & 0o777).unwrap_or(0o644);
        temporary.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(failed)?;
    }
    temporary.as_file().sync_all().map_err(failed)?;
    Ok(temporary)
}

/// Makes renames and removals in `dir` durable. Best effort: not every platform can.
fn sync_directory(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).expect("yaml")
    }

    #[tokio::test]
    async fn edits_keep_other_groups_and_an_empty_file_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = "groups:\n- name: theirs\n  rules:\n  - record: x:sum\n    expr: sum(x)\n";
        std::fs::write(dir.path().join("team.yml"), other).expect("write");
        let files = RuleFiles::new(dir.path().to_owned(), None, Duration::from_secs(5));

        let mut edit = files.edit().await;
        let group = yaml("name: ours\nrules:\n- alert: Down\n  expr: up == 0\n");
        edit.put("team", "ours", group.clone(), true).expect("put");
        edit.commit(None).await.expect("commit");
        let listed = files.list().expect("list");
        assert_eq!(listed.len(), 1);
        let names: Vec<&str> = listed[0].groups.iter().filter_map(|group| group["name"].as_str()).collect();
        assert_eq!(names, ["theirs", "ours"]);

        let mut edit = files.edit().await;
        let err = edit.put("team", "theirs", group, true).expect_err("a clash");
        assert_eq!(err.kind, HandlerErrorKind::Conflict);
        drop(edit);

        let mut edit = files.edit().await;
        edit.remove("team", "ours").expect("remove");
        edit.remove("team", "theirs").expect("remove");
        edit.commit(None).await.expect("commit");
        assert!(!dir.path().join("team.yml").exists(), "an empty file is removed");
        assert!(files.list().expect("list").is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("read_dir").collect();
        assert!(leftovers.is_empty(), "no temporary files are left: {leftovers:?}");
    }

    #[test]
    fn expected_groups_name_rule_types_in_order() {
        let document =
            yaml("groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(a)\n  - alert: A\n    expr: a > 1\n");
        let expected = expected_groups(&document);
        assert_eq!(
            expected["g"],
            [("recording".to_owned(), "a:b".to_owned()), ("alerting".to_owned(), "A".to_owned())]
        );
    }

    #[test]
    fn a_file_that_is_not_a_rule_file_is_an_error_naming_it() {
        let err = parse(Path::new("x.yml"), b"- just\n- a list\n").expect_err("not a mapping");
        assert!(err.message.contains("x.yml is not a rule file"), "{}", err.message);
        let err = parse(Path::new("x.yml"), b"groups: [\n").expect_err("not YAML");
        assert!(err.message.starts_with("x.yml is not valid YAML"), "{}", err.message);
    }
}
