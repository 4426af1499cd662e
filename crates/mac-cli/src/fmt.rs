//! `mac fmt`: the canonical layout of mac.toml, definition and template files.
//!
//! toml_edit keeps every comment, value and string as written (durations stay `"5m"`, quotes
//! stay as they were); only layout changes:
//! - the keys of each definition (`[[PROVIDER.KIND]]`, in definition and template files) in
//!   the order of its kind's fields: `id`, `provider` and `protect` first, then the order
//!   the kind's `Desired` type declares (its JSON Schema's `properties`, see
//!   `mac_core::schema`), nested tables likewise; keys the kind does not know keep their order
//!   after them, and maps (labels, annotations) keep theirs;
//! - `key = value` with one space each side, no indentation, no trailing whitespace;
//! - one blank line before each `[table]` header, at most one between keys;
//! - one-line inline tables and arrays spaced as `{ a = 1, b = [1, 2] }` (those spanning
//!   lines, or holding comments, are kept as written);
//! - one newline at the end.
//!
//! A comment after a value keeps its spacing, so comments aligned in a column stay aligned.
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

/// Beside the file, then renamed over it: a crash never leaves half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(format!(".fmt-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
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
    let trailing = comment_lines(&format!("{}\n", document.trailing().as_str().unwrap_or_default()), true);
    document.set_trailing(trailing);
    let mut formatted = document.to_string();
    // The first element's blank line, and blank lines at the end, are nobody's.
    formatted = formatted.trim_start_matches('\n').trim_end().to_owned();
    if !formatted.is_empty() {
        formatted.push('\n');
    }
    // A safety net: the layout changed, never a value.
    let same = text.parse::<toml::Table>().ok() == formatted.parse::<toml::Table>().ok();
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
        table.sort_values_by(|a, _, b, _| rank(a).cmp(&rank(b)));
    }
    for (key, item) in table.iter_mut() {
        let Some(field) = node.field(key.get()) else { continue };
        order_item(item, field);
    }
}

fn order_inline(table: &mut InlineTable, node: Node<'_>, definition: bool) {
    if let Some(ranks) = node.ranks(definition) {
        let rank = |key: &toml_edit::Key| ranks.get(key.get()).copied().unwrap_or(usize::MAX);
        table.sort_values_by(|a, _, b, _| rank(a).cmp(&rank(b)));
    }
    for (key, value) in table.iter_mut() {
        let Some(field) = node.field(key.get()) else { continue };
        order_value(value, field);
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
        let kept = comment_lines(&prefix, true);
        let floating = kept.ends_with("\n\n");
        decor.set_prefix(if floating { kept } else { format!("\n{}", comment_lines(&prefix, false)) });
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
            decor.set_prefix(comment_lines(&prefix, true));
        }
        // `key = value`: the space before `=` is the key's; none before a dot.
        decor.set_suffix(if matches!(item, Item::Value(_)) { " " } else { "" });
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
    match value {
        toml_edit::Value::InlineTable(table) if on_one_line(&table.to_string()) => {
            table.fmt();
            table.decor_mut().set_prefix(" ");
        }
        toml_edit::Value::Array(array) if on_one_line(&array.to_string()) => spaced_array(array),
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
            toml_edit::Value::InlineTable(table) => table.fmt(),
            toml_edit::Value::Array(inner) => spaced_array(inner),
            _ => {}
        }
    }
}

/// Without a line break or a comment inside: safe to lay out afresh.
fn on_one_line(text: &str) -> bool {
    !text.trim().contains(['\n', '#'])
}

fn trim_suffix(decor: &mut Decor) {
    let suffix = decor.suffix().and_then(|suffix| suffix.as_str()).unwrap_or_default().trim_end().to_owned();
    decor.set_suffix(suffix);
}

/// The comment lines of a decor prefix (what precedes a key or a header), unindented and
/// without trailing whitespace, each ending in a newline. Runs of blank lines become one; a
/// blank line before the first comment is kept only when `leading_blank` (between keys: it
/// separates groups; before a header, the caller puts its own).
fn comment_lines(text: &str, leading_blank: bool) -> String {
    // What follows the last newline is the indentation of the key or header itself.
    let Some(end) = text.rfind('\n') else { return String::new() };
    let mut lines = String::new();
    let mut blank = false;
    let mut any = false;
    for line in text[..end].split('\n') {
        let line = line.trim();
        if line.is_empty() {
            blank = true;
            continue;
        }
        if blank && (any || leading_blank) {
            lines.push('\n');
        }
        blank = false;
        any = true;
        lines.push_str(line);
        lines.push('\n');
    }
    if blank && (any || leading_blank) {
        lines.push('\n');
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> KindSchemas {
        KindSchemas::from_registry(&mac_core::Registry::from_inventory().expect("registry"))
    }

    #[test]
    fn layout_is_canonical_and_comments_stay() {
        let text = "  # a folder\n[[testfs.folder]]\ntitle=\"A\"   # its title\n  id = \"a\"\n\n\n\n[[testfs.folder]]\nid = \"b\"\ntitle = \"B\"\n";
        let formatted = format_text(text, &schemas()).expect("formats");
        assert_eq!(
            formatted,
            "# a folder\n[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"   # its title\n\n[[testfs.folder]]\nid = \"b\"\ntitle = \"B\"\n"
        );
        assert_eq!(format_text(&formatted, &schemas()).expect("formats"), formatted, "idempotent");
    }

    #[test]
    fn a_file_that_is_not_toml_is_located() {
        let error = format_text("[[testfs.folder]]\nid = \n", &schemas()).expect_err("not TOML");
        assert_eq!((error.line, error.column), (2, 6), "{error}");
    }
}
