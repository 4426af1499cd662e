//! Offline checks, before any request: the tenant's spelling, and the rule groups' PromQL with
//! `promtool check rules` (Cortex refuses a group it cannot parse with an empty 400, which
//! says nothing of where the problem is), each complaint located at the rule it concerns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mac_core::FieldError;

pub(crate) const TENANT_MESSAGE: &str =
    "`tenant` must be 1 to 150 letters, digits or `!-_.*'()`, and not `.` or `..` (Cortex's tenant ids)";

/// A tenant id as Cortex accepts it (`tenant.ValidTenantID`).
pub(crate) fn tenant(tenant: &str) -> Result<(), String> {
    let valid = !tenant.is_empty()
        && tenant.len() <= 150
        && tenant != "."
        && tenant != ".."
        && tenant.chars().all(|c| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c));
    if valid { Ok(()) } else { Err(TENANT_MESSAGE.to_owned()) }
}

/// One group to check: the position of its definition, its namespace and name, and the group
/// as it is sent.
#[derive(Debug)]
pub(crate) struct GroupToCheck {
    pub position: usize,
    pub namespace: String,
    pub name: String,
    pub yaml: serde_norway::Value,
}

/// Runs `promtool check rules` once over every group (a rule file per namespace, in a
/// temporary directory) and returns each complaint at its definition: `/rules/N/expr` for an
/// expression promtool cannot parse, `/rules/N` for another problem of a rule. A promtool that
/// cannot run is one error at the first definition.
pub(crate) fn promtool(promtool: &Path, groups: Vec<GroupToCheck>) -> Vec<(usize, FieldError)> {
    let Some(first) = groups.first().map(|group| group.position) else { return Vec::new() };
    let mut namespaces: BTreeMap<String, Vec<GroupToCheck>> = BTreeMap::new();
    for group in groups {
        namespaces.entry(group.namespace.clone()).or_default().push(group);
    }
    let failed = |message: String| vec![(first, FieldError::at("", message))];
    let directory = match tempfile::tempdir() {
        Ok(directory) => directory,
        Err(err) => return failed(format!("cannot check rule groups with promtool: a temporary directory: {err}")),
    };
    let mut files: Vec<(PathBuf, &str)> = Vec::new();
    for (index, (namespace, groups)) in namespaces.iter().enumerate() {
        let mut document = serde_norway::Mapping::new();
        let list = groups.iter().map(|group| group.yaml.clone()).collect();
        document.insert(serde_norway::Value::String("groups".to_owned()), serde_norway::Value::Sequence(list));
        let Ok(text) = serde_norway::to_string(&document) else {
            return failed(format!("cannot write the groups of namespace `{namespace}` as YAML"));
        };
        // Numbered names: a namespace may hold characters a file name should not.
        let path = directory.path().join(format!("{index}.yml"));
        if let Err(err) = std::fs::write(&path, text) {
            return failed(format!("cannot check rule groups with promtool: {}: {err}", path.display()));
        }
        files.push((path, namespace));
    }
    let output = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .args(files.iter().map(|(path, _)| path))
        .stdin(std::process::Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => return failed(format!("cannot run {}: {err}", promtool.display())),
    };
    if output.status.success() {
        return Vec::new();
    }
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let mut errors = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some((path, namespace)) = files.iter().find(|(path, _)| line.starts_with(&format!("{}: ", path.display())))
        else {
            continue;
        };
        let complaint = &line[path.display().to_string().len() + 2..];
        let groups = &namespaces[*namespace];
        errors.push(locate(complaint, namespace, groups));
    }
    if errors.is_empty() {
        let complaint: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("Checking ") && *line != "FAILED:")
            .collect();
        return failed(format!("promtool check rules rejects the rule groups: {}", complaint.join("; ")));
    }
    errors
}

/// A complaint of promtool about a file of `namespace`'s groups — `8:11: group "http", rule 2,
/// "HighErrors": could not parse expression: …` — at the definition and rule it names.
fn locate(complaint: &str, namespace: &str, groups: &[GroupToCheck]) -> (usize, FieldError) {
    // The temporary file's line and column mean nothing to the user: the pointer replaces them.
    let without_position = complaint
        .split_once(": ")
        .filter(|(position, _)| position.chars().all(|c| c.is_ascii_digit() || c == ':'))
        .map_or(complaint, |(_, rest)| rest);
    let group = without_position
        .strip_prefix("group \"")
        .and_then(|rest| rest.split_once('"'))
        .and_then(|(name, _)| groups.iter().find(|group| group.name == name));
    let Some(group) = group else {
        let position = groups.first().map_or(0, |group| group.position);
        return (
            position,
            FieldError::at("", format!("promtool check rules, namespace `{namespace}`: {without_position}")),
        );
    };
    let marker = ", rule ";
    let rule = without_position.find(marker).and_then(|start| {
        let digits: String =
            without_position[start + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok()
    });
    // What follows the quoted rule name (or group name, for a group's problem):
    // `could not parse expression: …`.
    let reason = without_position.split_once("\": ").map_or(without_position, |(_, reason)| reason);
    let pointer = match rule {
        Some(number) if number > 0 && reason.starts_with("could not parse expression") => {
            format!("/rules/{}/expr", number - 1)
        }
        Some(number) if number > 0 => format!("/rules/{}", number - 1),
        _ => String::new(),
    };
    (group.position, FieldError::at(pointer, format!("promtool check rules: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(position: usize, name: &str) -> GroupToCheck {
        GroupToCheck {
            position,
            namespace: "payments".to_owned(),
            name: name.to_owned(),
            yaml: serde_norway::Value::Null,
        }
    }

    #[test]
    fn complaints_are_located_at_the_rule() {
        let groups = [group(3, "a"), group(7, "b")];
        let (position, error) = locate(
            "11:11: group \"b\", rule 2, \"bad name\": could not parse expression: 1:5: parse error: unclosed left parenthesis",
            "payments",
            &groups,
        );
        assert_eq!(position, 7);
        assert_eq!(error.pointer, "/rules/1/expr");
        assert_eq!(
            error.message,
            "promtool check rules: could not parse expression: 1:5: parse error: unclosed left parenthesis"
        );
        let (position, error) =
            locate("10:13: group \"a\", rule 1, \"x y\": invalid recording rule name: x y", "payments", &groups);
        assert_eq!((position, error.pointer.as_str()), (3, "/rules/0"));
        assert_eq!(error.message, "promtool check rules: invalid recording rule name: x y");
        let (position, error) = locate("something else entirely", "payments", &groups);
        assert_eq!((position, error.pointer.as_str()), (3, ""));
        assert!(error.message.contains("namespace `payments`"), "{}", error.message);
    }

    fn yaml(text: &str) -> serde_norway::Value {
        serde_norway::from_str(text).expect("yaml")
    }

    #[test]
    fn promtool_finds_a_bad_expression_in_one_run_over_every_namespace() {
        let Some(promtool) = mac_test_tools::program(&mac_test_tools::PROMTOOL) else { return };
        let good = "name: good\nrules:\n- alert: Up\n  expr: up == 1\n";
        let bad = "name: bad\nrules:\n- alert: Fine\n  expr: up == 0\n- alert: Broken\n  expr: rate(up[5m]\n";
        let groups = vec![
            GroupToCheck { position: 0, namespace: "a".to_owned(), name: "good".to_owned(), yaml: yaml(good) },
            GroupToCheck { position: 1, namespace: "b/c".to_owned(), name: "bad".to_owned(), yaml: yaml(bad) },
        ];
        let errors = super::promtool(&promtool, groups);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (position, error) = &errors[0];
        assert_eq!((*position, error.pointer.as_str()), (1, "/rules/1/expr"));
        assert!(error.message.starts_with("promtool check rules: could not parse expression"), "{}", error.message);
        let fine =
            vec![GroupToCheck { position: 0, namespace: "a".to_owned(), name: "good".to_owned(), yaml: yaml(good) }];
        assert!(super::promtool(&promtool, fine).is_empty());
    }

    #[test]
    fn tenants_are_cortex_tenant_ids() {
        assert!(tenant("team-a").is_ok());
        assert!(tenant("a.b_c(1)").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(151)] {
            assert!(tenant(bad).is_err(), "{bad:?}");
        }
    }
}
