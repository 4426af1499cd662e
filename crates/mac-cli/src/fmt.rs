//! `mac fmt`: the canonical layout of mac.toml, definition and template files.
//!
//! toml_edit keeps every comment, value and string as written (durations stay `"5m"`, quotes
//! stay as they were); only layout changes:
//! - the keys of each definition (`[[PROVIDER.KIND]]`, in definition and template files) in
//!   the order of its kind's fields: `id`, `provider` and `protect` first, then the order
//!   the kind's `Desired` type declares (its JSON Schema's `properties`, see
//!   `mac_core::schema`), nested tables likewise; keys the kind does not know keep their order
//!   after them, and maps (labels, annotations) keep theirs;
//! - `key = value` with one space each side, `a.b` without spaces, keys and headers not
//!   indented, no trailing whitespace;
//! - one blank line before each `[table]` header (or before the comments right above it), at
//!   most one between keys;
//! - one-line inline tables and arrays spaced as `{ a = 1, b = [1, 2] }` (those spanning
//!   lines keep their lines, each one-line item spaced);
//! - one newline at the end, in the file's line ending.
//!
//! Comments stay as written: a comment after a value keeps its spacing (comments aligned in a
//! column stay aligned), a comment line keeps its indentation (an indented one continues the
//! comment above it), and comments right below a line stay with it.
//! Formatting twice changes nothing the second time, and the formatted file must parse to the
//! same values as the original or it is not written.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::Value;
use toml_edit::{Array, Decor, DocumentMut, InlineTable, Item, Table};

use crate::args::{Cli, FmtArgs};

/// The meta-fields every definition has, before its kind's own fields (`mac_core::schema`).
const META_FIELDS: [&str; 3] = ["id", "provider", "protect"];

pub(crate) fn run(cli: &Cli, args: &FmtArgs) -> anyhow::Result<ExitCode> {
    let files = files_to_format(cli, &args.paths)?;
    let schemas = KindSchemas::from_registry(&mac_core::Registry::from_inventory()?);
    let mut changed = Vec::new();
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        match format_text(&text, &schemas) {
            Ok(formatted) if formatted != text => changed.push((path, text, formatted)),
            Ok(_) => {}
            Err(problem) => problems.push(format!("{}:{problem}", shown(cli, path).display())),
        }
    }
    // Nothing is written while any file cannot be read as TOML: fix it, then format.
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let mut out = crate::output::stdout();
    for (path, before, after) in &changed {
        let name = shown(cli, path).display().to_string();
        if args.diff {
            let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
            write!(out, "{}", diff.unified_diff().context_radius(3).header(&name, &name))?;
        }
        if args.check {
            writeln!(out, "would reformat {name}")?;
        } else if !args.diff {
            write_atomically(path, after)?;
            writeln!(out, "formatted {name}")?;
        }
    }
    if args.check && !changed.is_empty() {
        writeln!(out, "{} file(s) need `mac fmt`.", changed.len())?;
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `path` as the user knows it: relative to the project directory when inside it.
fn shown<'p>(cli: &Cli, path: &'p Path) -> &'p Path {
    path.strip_prefix(&cli.directory).unwrap_or(path)
}

/// The files named (directories: their `*.toml`, recursively), or the project's: mac.toml,
/// and the definition and template paths it names.
fn files_to_format(cli: &Cli, paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        let config = mac_core::ProjectConfig::load(&cli.directory, cli.environment.as_deref())?;
        let mut roots = vec![cli.directory.join(mac_core::project::CONFIG_FILE)];
        roots.extend(config.definition_paths.iter().chain(&config.template_paths).map(|path| cli.directory.join(path)));
        roots.retain(|path| path.exists());
        roots
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            collect_toml(&root, &mut files).with_context(|| format!("cannot read {}", root.display()))?;
        } else if root.extension().is_some_and(|extension| extension == "toml") {
            files.push(root);
        } else if root.exists() {
            bail!("{} is not a TOML file (mac fmt formats mac.toml, definitions and templates)", root.display());
        } else {
            bail!("{} does not exist", root.display());
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn collect_toml(directory: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_toml(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Beside the file, then renamed over it: a crash never leaves half a file. A symbolic link
/// stays one (the file it points at is written), and the file keeps its permissions.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let path = &std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let permissions = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.permissions();
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(format!(".fmt-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let written = std::fs::write(&temporary, text)
        .and_then(|()| std::fs::set_permissions(&temporary, permissions))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Every registered kind's JSON Schema, by provider and kind name: where key orders come from.
#[derive(Debug, Default)]
pub(crate) struct KindSchemas(BTreeMap<(String, String), Value>);

impl KindSchemas {
    pub(crate) fn from_registry(registry: &mac_core::Registry) -> KindSchemas {
        let mut schemas = BTreeMap::new();
        for registration in registry.iter() {
            for kind in (registration.kinds)() {
                schemas.insert((registration.name.to_owned(), kind.name.clone()), (kind.desired_schema)());
            }
        }
        KindSchemas(schemas)
    }

    fn get(&self, provider: &str, kind: &str) -> Option<&Value> {
        self.0.get(&(provider.to_owned(), kind.to_owned()))
    }
}

/// Why a file could not be formatted: `line:column: message`.
#[derive(Debug)]
pub(crate) struct FormatError {
    line: usize,
    column: usize,
    message: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// `text` in canonical layout.
pub(crate) fn format_text(text: &str, schemas: &KindSchemas) -> Result<String, FormatError> {
    let mut document: DocumentMut = text.parse().map_err(|err: toml_edit::TomlError| {
        let (line, column) = err.span().map_or((1, 1), |span| line_and_column(text, span.start));
        FormatError { line, column, message: err.message().trim_end().to_owned() }
    })?;
    order_definitions(document.as_table_mut(), schemas);
    normalise_table(document.as_table_mut());
    // A last comment may end the file without a newline.
    let trailing = trailing_comments(document.trailing().as_str().unwrap_or_default());
    document.set_trailing(trailing);
    let mut formatted = document.to_string().replace("\r\n", "\n");
    // The first element's blank line, and blank lines at the end, are nobody's.
    formatted = formatted.trim_start_matches('\n').trim_end().to_owned();
    if !formatted.is_empty() {
        formatted.push('\n');
    }
    // The file's line ending, everywhere (a CRLF file keeps CRLF).
    if text.contains("\r\n") {
        formatted = formatted.replace('\n', "\r\n");
    }
    // A safety net: the layout changed, never a value (compared as printed, where NaN is NaN).
    let values = |text: &str| text.parse::<toml::Table>().ok().map(|table| format!("{table:?}"));
    let same = values(text) == values(&formatted);
    if !same {
        return Err(FormatError {
            line: 1,
            column: 1,
            message: "formatting would change a value: left as it is (please report this)".to_owned(),
        });
    }
    Ok(formatted)
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

/// Sorts the keys of every `[[PROVIDER.KIND]]` definition of a known kind.
fn order_definitions(root: &mut Table, schemas: &KindSchemas) {
    for (provider, item) in root.iter_mut() {
        let Some(kinds) = item.as_table_mut() else { continue };
        for (kind, item) in kinds.iter_mut() {
            let Some(schema) = schemas.get(provider.get(), kind.get()) else { continue };
            let node = Node { schema, root: schema };
            match item {
                Item::ArrayOfTables(definitions) => {
                    for definition in definitions.iter_mut() {
                        order_table(definition, node, true);
                    }
                }
                Item::Value(toml_edit::Value::Array(definitions)) => {
                    for definition in definitions.iter_mut() {
                        if let toml_edit::Value::InlineTable(definition) = definition {
                            order_inline(definition, node, true);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// A place in a kind's schema: the subschema, and the root its `$ref`s point into.
#[derive(Clone, Copy)]
struct Node<'s> {
    schema: &'s Value,
    root: &'s Value,
}

impl<'s> Node<'s> {
    /// Through `$ref`s and to the first alternative with properties (an optional struct is
    /// `anyOf [struct, null]`, a struct or a reference is `anyOf [struct, reference]`).
    fn resolved(self) -> Node<'s> {
        let mut schema = self.schema;
        for _ in 0..16 {
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                let Some(target) = reference.strip_prefix('#').and_then(|pointer| self.root.pointer(pointer)) else {
                    break;
                };
                schema = target;
                continue;
            }
            let alternatives = ["anyOf", "oneOf", "allOf"]
                .iter()
                .filter_map(|keyword| schema.get(*keyword).and_then(Value::as_array))
                .flatten();
            let structured = alternatives.into_iter().find(|alternative| {
                let alternative = Node { schema: alternative, root: self.root }.shallow();
                alternative.get("properties").is_some() || alternative.get("items").is_some()
            });
            match structured {
                Some(alternative) => schema = alternative,
                None => break,
            }
        }
        Node { schema, root: self.root }
    }

    /// One `$ref` followed, no more.
    fn shallow(self) -> &'s Value {
        match self.schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                reference.strip_prefix('#').and_then(|pointer| self.root.pointer(pointer)).unwrap_or(self.schema)
            }
            None => self.schema,
        }
    }

    /// The rank of each field, when this is a struct (a map has no order of its own).
    fn ranks(self, definition: bool) -> Option<HashMap<String, usize>> {
        let properties = self.resolved().schema.get("properties")?.as_object()?;
        let meta = if definition { &META_FIELDS[..] } else { &[] };
        let names = meta.iter().copied().chain(properties.keys().map(String::as_str));
        let mut ranks = HashMap::new();
        for name in names {
            let next = ranks.len();
            ranks.entry(name.to_owned()).or_insert(next);
        }
        Some(ranks)
    }

    fn field(self, name: &str) -> Option<Node<'s>> {
        let schema = self.resolved().schema.get("properties")?.get(name)?;
        Some(Node { schema, root: self.root })
    }

    /// The schema of a list's items.
    fn items(self) -> Option<Node<'s>> {
        let schema = self.resolved().schema.get("items")?;
        Some(Node { schema, root: self.root })
    }
}

fn order_table(table: &mut Table, node: Node<'_>, definition: bool) {
    if let Some(ranks) = node.ranks(definition) {
        let rank = |key: &toml_edit::Key| ranks.get(key.get()).copied().unwrap_or(usize::MAX);
        // toml_edit sorts inside dotted keys (`labels.team = …`) with the same order: they are
        // maps or other structs, so they are hidden from it meanwhile.
        let dotted: Vec<String> = table
            .iter()
            .filter(|(_, item)| item.as_table().is_some_and(Table::is_dotted))
            .map(|(key, _)| key.to_owned())
            .collect();
        set_dotted(table, &dotted, false);
        table.sort_values_by(|a, _, b, _| rank(a).cmp(&rank(b)));
        set_dotted(table, &dotted, true);
    }
    for (key, item) in table.iter_mut() {
        let Some(field) = node.field(key.get()) else { continue };
        order_item(item, field);
    }
}

fn order_inline(table: &mut InlineTable, node: Node<'_>, definition: bool) {
    if let Some(ranks) = node.ranks(definition) {
        let rank = |key: &toml_edit::Key| ranks.get(key.get()).copied().unwrap_or(usize::MAX);
        let dotted: Vec<String> = table
            .iter()
            .filter(|(_, value)| value.as_inline_table().is_some_and(InlineTable::is_dotted))
            .map(|(key, _)| key.to_owned())
            .collect();
        set_inline_dotted(table, &dotted, false);
        table.sort_values_by(|a, _, b, _| rank(a).cmp(&rank(b)));
        set_inline_dotted(table, &dotted, true);
    }
    for (key, value) in table.iter_mut() {
        let Some(field) = node.field(key.get()) else { continue };
        order_value(value, field);
    }
}

fn set_dotted(table: &mut Table, keys: &[String], dotted: bool) {
    for key in keys {
        if let Some(Item::Table(child)) = table.get_mut(key) {
            child.set_dotted(dotted);
        }
    }
}

fn set_inline_dotted(table: &mut InlineTable, keys: &[String], dotted: bool) {
    for key in keys {
        if let Some(toml_edit::Value::InlineTable(child)) = table.get_mut(key) {
            child.set_dotted(dotted);
        }
    }
}

fn order_item(item: &mut Item, node: Node<'_>) {
    match item {
        Item::Table(table) => order_table(table, node, false),
        Item::ArrayOfTables(tables) => {
            if let Some(items) = node.items() {
                for table in tables.iter_mut() {
                    order_table(table, items, false);
                }
            }
        }
        Item::Value(value) => order_value(value, node),
        Item::None => {}
    }
}

fn order_value(value: &mut toml_edit::Value, node: Node<'_>) {
    match value {
        toml_edit::Value::InlineTable(table) => order_inline(table, node, false),
        toml_edit::Value::Array(array) => {
            if let Some(items) = node.items() {
                for value in array.iter_mut() {
                    order_value(value, items);
                }
            }
        }
        _ => {}
    }
}

/// Layout of a table and everything under it; see the module's documentation.
fn normalise_table(table: &mut Table) {
    if !table.is_implicit() && !table.is_dotted() && table.position().is_some() {
        let decor = table.decor_mut();
        // One blank line before each header (the document's first loses it at the end), and
        // before the comments right above it; comments a blank line away from it belong to
        // what precedes, and stay where they are.
        let prefix = decor.prefix().and_then(|prefix| prefix.as_str()).unwrap_or_default().to_owned();
        decor.set_prefix(header_prefix(&prefix));
        trim_suffix(decor);
    }
    let dotted = table.is_dotted();
    for (mut key, item) in table.iter_mut() {
        let decor = key.leaf_decor_mut();
        let starts_line = matches!(item, Item::Value(_)) || matches!(item, Item::Table(table) if table.is_dotted());
        if !starts_line {
            // A header's key: `[a.b]`, its comments are the table's.
            decor.set_prefix("");
        } else if !dotted {
            let prefix = decor.prefix().and_then(|prefix| prefix.as_str()).unwrap_or_default().to_owned();
            decor.set_prefix(key_prefix(&prefix));
        }
        // `key = value`: the space before `=` is the key's; none before a dot.
        decor.set_suffix(if matches!(item, Item::Value(_)) { " " } else { "" });
        // `a.b`, never `a . b`.
        let around_dot = key.dotted_decor_mut();
        around_dot.set_prefix("");
        around_dot.set_suffix("");
        match item {
            Item::Value(value) => normalise_value(value),
            Item::Table(table) => normalise_table(table),
            Item::ArrayOfTables(tables) => {
                for table in tables.iter_mut() {
                    normalise_table(table);
                }
            }
            Item::None => {}
        }
    }
}

/// `key = value`: one space before the value; a comment after it keeps its spacing.
fn normalise_value(value: &mut toml_edit::Value) {
    let decor = value.decor_mut();
    decor.set_prefix(" ");
    let suffix = decor.suffix().and_then(|suffix| suffix.as_str()).unwrap_or_default().trim_end().to_owned();
    decor.set_suffix(if suffix.is_empty() || suffix.starts_with([' ', '\t']) { suffix } else { format!(" {suffix}") });
    let one_line = bare_on_one_line(value);
    match value {
        toml_edit::Value::InlineTable(table) if one_line => spaced_inline_table(table),
        toml_edit::Value::Array(array) if one_line => spaced_array(array),
        // Spanning lines: laid out as written, but each one-line item spaced.
        toml_edit::Value::Array(array) => {
            for item in array.iter_mut() {
                if bare_on_one_line(item) {
                    let decor = item.decor().clone();
                    match item {
                        toml_edit::Value::InlineTable(table) => spaced_inline_table(table),
                        toml_edit::Value::Array(inner) => spaced_array(inner),
                        _ => {}
                    }
                    *item.decor_mut() = decor;
                }
            }
        }
        _ => {}
    }
}

/// `[a, b]`, each inline table and array in it spaced likewise, without a trailing comma.
fn spaced_array(array: &mut Array) {
    array.fmt();
    array.set_trailing_comma(false);
    array.set_trailing("");
    for value in array.iter_mut() {
        match value {
            toml_edit::Value::InlineTable(table) => spaced_inline_table(table),
            toml_edit::Value::Array(inner) => spaced_array(inner),
            _ => {}
        }
    }
}

/// `{ a = 1, b = [{ c = 2 }] }` at every depth: toml_edit's `fmt` spaces only the table's own
/// keys, and keys reordered by `order_inline` keep the spacing of the place they came from.
fn spaced_inline_table(table: &mut InlineTable) {
    table.fmt();
    for (_, value) in table.iter_mut() {
        match value {
            toml_edit::Value::InlineTable(inner) => spaced_inline_table(inner),
            toml_edit::Value::Array(inner) => spaced_array(inner),
            _ => {}
        }
    }
}

/// Without a line break or a comment inside (the comments around it are its decor's, and
/// stay): safe to lay out afresh.
fn bare_on_one_line(value: &toml_edit::Value) -> bool {
    let mut bare = value.clone();
    bare.decor_mut().clear();
    !bare.to_string().contains(['\n', '#'])
}

fn trim_suffix(decor: &mut Decor) {
    let suffix = decor.suffix().and_then(|suffix| suffix.as_str()).unwrap_or_default().trim_end().to_owned();
    decor.set_suffix(suffix);
}

/// The lines of a decor prefix (what precedes a key or a header) as groups of comment lines
/// separated by blank lines, each line as written but for trailing whitespace (an indented
/// comment continues the one above it), and whether blank lines came before the first group
/// and after the last. What follows the prefix's last newline is the indentation of the key or
/// header itself, and goes.
struct CommentGroups<'t> {
    groups: Vec<Vec<&'t str>>,
    blank_before: bool,
    blank_after: bool,
}

impl<'t> CommentGroups<'t> {
    fn of(prefix: &'t str) -> CommentGroups<'t> {
        let mut groups: Vec<Vec<&str>> = Vec::new();
        let (mut blank_before, mut blank_after) = (false, false);
        let complete = prefix.rfind('\n').map_or("", |end| &prefix[..end]);
        if prefix.contains('\n') {
            let mut current: Vec<&str> = Vec::new();
            for line in complete.split('\n').map(str::trim_end) {
                if line.trim().is_empty() {
                    if current.is_empty() && groups.is_empty() {
                        blank_before = true;
                    } else if !current.is_empty() {
                        groups.push(std::mem::take(&mut current));
                    }
                    blank_after = true;
                } else {
                    current.push(line);
                    blank_after = false;
                }
            }
            if !current.is_empty() {
                groups.push(current);
            }
        }
        CommentGroups { groups, blank_before, blank_after }
    }

    /// The groups, one blank line between two, none around.
    fn joined(&self) -> String {
        let groups: Vec<String> =
            self.groups.iter().map(|group| group.iter().map(|line| format!("{line}\n")).collect()).collect();
        groups.join("\n")
    }
}

/// Before a key: its comments as written (indentation kept), at most one blank line
/// between groups, and one before them if there was any.
fn key_prefix(prefix: &str) -> String {
    let comments = CommentGroups::of(prefix);
    let mut text = String::new();
    if comments.blank_before {
        text.push('\n');
    }
    text.push_str(&comments.joined());
    if comments.blank_after && !comments.groups.is_empty() {
        text.push('\n');
    }
    text
}

/// Before a header: one blank line above it, or above the comments right above it. Comments
/// that follow the previous line directly stay with it (they continue what it says), and
/// groups already a blank line away keep their place.
fn header_prefix(prefix: &str) -> String {
    let comments = CommentGroups::of(prefix);
    if comments.groups.is_empty() {
        return "\n".to_owned();
    }
    let mut text = String::new();
    let attached_to_header = !comments.blank_after;
    // One group touching both the line before and the header: the header's.
    let blank_first = comments.blank_before || (comments.groups.len() == 1 && attached_to_header);
    if blank_first {
        text.push('\n');
    }
    text.push_str(&comments.joined());
    if !attached_to_header {
        text.push('\n');
    }
    text
}

/// What ends the document: its comments, as before a key.
fn trailing_comments(trailing: &str) -> String {
    key_prefix(&format!("{trailing}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> KindSchemas {
        KindSchemas::from_registry(&mac_core::Registry::from_inventory().expect("registry"))
    }

    #[test]
    fn layout_is_canonical_and_comments_stay() {
        let text = "# a folder\n[[testfs.folder]]\ntitle=\"A\"   # its title\n  id = \"a\"\n\n\n\n[[testfs.folder]]\nid = \"b\"\ntitle = \"B\"\n";
        let formatted = format_text(text, &schemas()).expect("formats");
        assert_eq!(
            formatted,
            "# a folder\n[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"   # its title\n\n[[testfs.folder]]\nid = \"b\"\ntitle = \"B\"\n"
        );
        assert_eq!(format_text(&formatted, &schemas()).expect("formats"), formatted, "idempotent");
    }

    /// Formats `text`, checks that a second run changes nothing, and returns the first result.
    fn formatted(text: &str) -> String {
        let once = format_text(text, &schemas()).expect("formats");
        assert_eq!(format_text(&once, &schemas()).expect("formats"), once, "idempotent");
        once
    }

    #[test]
    fn dotted_keys_keep_their_order_and_lose_their_spaces() {
        let text = "[[testfs.folder]]\ntitle = \"A\"\nid = \"a\"\nlabels.team = \"x\"\nlabels.id = \"y\"\na . e = 3\n# before f\na.f = 4\n\n[ testfs . other ]\nx = 1\n";
        assert_eq!(
            formatted(text),
            "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nlabels.team = \"x\"\nlabels.id = \"y\"\na.e = 3\n# before f\na.f = 4\n\n[testfs.other]\nx = 1\n"
        );
    }

    #[test]
    fn arrays_spanning_lines_keep_their_lines_and_comments() {
        let text = "[[testfs.group]]\nid = \"g\"\nrules = [\n  {title=\"t\",   expr = \"up\"},   # first\n  # about u\n  { expr = \"x\", title = \"u\" },\n]\nlabels = {b=1,a=2}  # a map keeps its order\n";
        assert_eq!(
            formatted(text),
            "[[testfs.group]]\nid = \"g\"\nrules = [\n  { title = \"t\", expr = \"up\" },   # first\n  # about u\n  { title = \"u\", expr = \"x\" },\n]\nlabels = { b = 1, a = 2 }  # a map keeps its order\n"
        );
    }

    #[test]
    fn comments_stay_where_they_were_written() {
        // Continuation comments under a line stay with it, indented; a comment right above a
        // header gets the blank line; the file's last comment has no newline.
        let text = "a = 1   # one\n        # continued\n# b = 2\n\n# the table\n[t]\nx = 1\n# the end";
        assert_eq!(
            formatted(text),
            "a = 1   # one\n        # continued\n# b = 2\n\n# the table\n[t]\nx = 1\n# the end\n"
        );
        assert_eq!(formatted("a = 1\n# above t\n[t]\n"), "a = 1\n\n# above t\n[t]\n");
    }

    #[test]
    fn crlf_files_stay_crlf_and_nan_is_a_value_like_any_other() {
        assert_eq!(formatted("a=1\r\nb = \"\"\"\r\nx\r\n\"\"\"\r\n"), "a = 1\r\nb = \"\"\"\r\nx\r\n\"\"\"\r\n");
        assert_eq!(formatted("a=nan\n"), "a = nan\n");
    }

    #[test]
    fn a_file_that_is_not_toml_is_located() {
        let error = format_text("[[testfs.folder]]\nid = \n", &schemas()).expect_err("not TOML");
        assert_eq!((error.line, error.column), (2, 6), "{error}");
    }
}
