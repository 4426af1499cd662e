//! `template_files` as Grafana 8.5.4 applies them: notifier/config.go `PersistTemplates`
//! checks each name, template.FromGlobs parses each file path as a glob, and each file is
//! parsed by Go 1.17's `text/template` (mac-alertmanager-syntax's `template`, shared with the
//! providers so that both refuse the same texts). Nothing is executed. The vectors in
//! tests/fixtures/go_template_vectors.json pin the messages.

use std::collections::{BTreeMap, BTreeSet};

/// The file Grafana adds to every configuration's templates (alertmanager.go `applyConfig`:
/// `cfg.TemplateFiles["__default__.tmpl"] = channels.DefaultTemplateString`), which parses.
pub(crate) const DEFAULT_TEMPLATE_FILE: &str = "__default__.tmpl";

/// Where Grafana's working directory for org `org_id` is in the official image
/// (`GF_PATHS_DATA=/var/lib/grafana`, notifier `workingDir` "alerting").
fn working_dir(org_id: i64) -> String {
    format!("/var/lib/grafana/alerting/{org_id}")
}

/// What `applyConfig` does with `template_files` before it builds receivers:
/// notifier/config.go `PersistTemplates` checks each name, then template.FromGlobs parses each
/// file path as a glob. The first failure is returned as its Go error text. Grafana walks a
/// Go map, so with several bad files the one reported varies; the emulator goes in name
/// order.
pub(crate) fn check_template_files(org_id: i64, files: &BTreeMap<String, String>) -> Result<(), String> {
    let mut names: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    names.insert(DEFAULT_TEMPLATE_FILE);
    for name in &names {
        if *name != go_base(&go_clean(name)) {
            return Err(format!("template file name '{name}' is not valid"));
        }
        // filepath.Join cleans "." and ".." into the directory itself, which
        // ioutil.ReadFile cannot read.
        if *name == "." || *name == ".." {
            let dir = working_dir(org_id);
            let path = if *name == "." { dir } else { go_clean(&format!("{dir}/..")) };
            return Err(format!("read {path}: is a directory"));
        }
    }
    for pattern in &names {
        let matched: Vec<&str> = if pattern.contains(['*', '?', '[', '\\']) {
            // filepath.Glob: a malformed pattern is ErrBadPattern; matches are sorted.
            go_match(pattern, "").map_err(|()| "syntax error in pattern".to_string())?;
            let mut m = vec![];
            for n in &names {
                if go_match(pattern, n).map_err(|()| "syntax error in pattern".to_string())? {
                    m.push(*n);
                }
            }
            m
        } else {
            vec![pattern]
        };
        for name in matched {
            if name == DEFAULT_TEMPLATE_FILE {
                continue;
            }
            if let Some(text) = files.get(name) {
                parse(name, text)?;
            }
        }
    }
    Ok(())
}

/// Parses one template file as `(*Template).Parse` does after `ParseGlob` named it.
pub(crate) fn parse(name: &str, text: &str) -> Result<(), String> {
    mac_alertmanager_syntax::template::parse(name, text).map_err(|error| error.message)
}

// ---------------------------------------------------------------------------------------------
// Paths (path/filepath on Unix)

/// `filepath.Clean`.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = vec![];
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `filepath.Base`.
fn go_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// `filepath.Match` (Unix): `*`, `?`, `[...]` classes with ranges and `^`, `\` escapes; an
/// `Err` is `ErrBadPattern`, reported even when the name already failed to match.
fn go_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name.as_bytes()[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Before giving up, check the rest of the pattern for syntax errors.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &str) -> (bool, &str, &str) {
    let mut star = false;
    while pattern.starts_with('*') {
        pattern = &pattern[1..];
        star = true;
    }
    let b = pattern.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

fn match_chunk<'n>(chunk: &str, s: &'n str) -> Result<(&'n str, bool), ()> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk.as_bytes()[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let c = s.chars().next().unwrap_or('\0');
                    r = c;
                    s = &s[c.len_utf8()..];
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut n = 0;
                loop {
                    if !chunk.is_empty() && chunk.as_bytes()[0] == b']' && n > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.starts_with('-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    n += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    let c = s.chars().next().unwrap_or('\0');
                    if c == '/' {
                        failed = true;
                    }
                    s = &s[c.len_utf8().min(s.len())..];
                }
                chunk = &chunk[1..];
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(());
                }
                let c = chunk.chars().next().unwrap_or('\0');
                if !failed {
                    if !s.starts_with(c) {
                        failed = true;
                    } else {
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[c.len_utf8()..];
            }
            _ => {
                let c = chunk.chars().next().unwrap_or('\0');
                if !failed {
                    if !s.starts_with(c) {
                        failed = true;
                    } else {
                        s = &s[c.len_utf8()..];
                    }
                }
                chunk = &chunk[c.len_utf8()..];
            }
        }
    }
    if failed {
        return Ok(("", false));
    }
    Ok((s, true))
}

fn get_esc(chunk: &str) -> Result<(char, &str), ()> {
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(());
    }
    let mut chunk = chunk;
    if chunk.starts_with('\\') {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(());
        }
    }
    let r = chunk.chars().next().ok_or(())?;
    let rest = &chunk[r.len_utf8()..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        text: String,
        error: Option<String>,
    }

    /// Every vector of tests/fixtures/go_template_vectors.json, generated by
    /// tests/fixtures/gen (`go run . templates`) with template.FromGlobs of the Alertmanager
    /// version Grafana 8.5.4 vendors.
    #[test]
    fn parse_errors_match_go() {
        let v: Vectors =
            serde_json::from_str(include_str!("../tests/fixtures/go_template_vectors.json")).expect("vectors parse");
        let mut failures = vec![];
        for case in &v.vectors {
            let got = parse("t.tmpl", &case.text).err();
            if got != case.error {
                failures.push(format!("{}: got {got:?}, want {:?}", case.name, case.error));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn file_names_and_globs_follow_persist_templates_and_from_globs() {
        let files = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(check_template_files(1, &files(&[("a", "{{ .A }}")])), Ok(()));
        assert_eq!(
            check_template_files(1, &files(&[("a/b", "")])),
            Err("template file name 'a/b' is not valid".into())
        );
        assert_eq!(check_template_files(1, &files(&[("", "")])), Err("template file name '' is not valid".into()));
        assert_eq!(check_template_files(1, &files(&[("a/", "")])), Err("template file name 'a/' is not valid".into()));
        assert_eq!(
            check_template_files(3, &files(&[(".", "")])),
            Err("read /var/lib/grafana/alerting/3: is a directory".into())
        );
        assert_eq!(
            check_template_files(3, &files(&[("..", "")])),
            Err("read /var/lib/grafana/alerting: is a directory".into())
        );
        assert_eq!(check_template_files(1, &files(&[("a[", "")])), Err("syntax error in pattern".into()));
        // "[a]" matches only a file named "a", so its own text is never parsed...
        assert_eq!(check_template_files(1, &files(&[("[a]", "{{")])), Ok(()));
        // ...while "*" parses every file, bad ones included.
        assert_eq!(
            check_template_files(1, &files(&[("*", ""), ("b", "{{ end }}")])),
            Err("template: b:1: unexpected {{end}}".into())
        );
        // The user's __default__.tmpl is replaced by Grafana's before parsing.
        assert_eq!(check_template_files(1, &files(&[("__default__.tmpl", "{{")])), Ok(()));
    }

    #[test]
    fn go_match_follows_filepath_match() {
        assert_eq!(go_match("a*", "abc"), Ok(true));
        assert_eq!(go_match("a?c", "abc"), Ok(true));
        assert_eq!(go_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(go_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(go_match("\\*", "*"), Ok(true));
        assert_eq!(go_match("*.tmpl", "x.tmpl"), Ok(true));
        assert_eq!(go_match("[", "a"), Err(()));
        assert_eq!(go_match("a[", "b"), Err(()));
        assert_eq!(go_match("\\", "a"), Err(()));
    }
}
