//! Loading a project: `mac.toml` (providers, state, environments) and the definition files
//! it names. Every problem is reported with `file:line:column`; all problems found in one
//! pass are reported together.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::backend::StateSettings;
use crate::graph::topological_order;
use crate::object::{Definition, LocalRef, ObjectId};
use crate::provider::{ProviderSettings, Providers, Registry, SettingsError};
use crate::source::{Document, Location, SourceError, push_pointer};
use crate::state::{FileStateStore, StateStore};

/// The name of the project file at the project root.
pub const CONFIG_FILE: &str = "mac.toml";

/// Problems that stop a project from loading.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("no {CONFIG_FILE} in {0}: run mac in a project directory or pass -C DIR")]
    NoConfig(PathBuf),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Problems(.0))]
    Invalid(Vec<SourceError>),
    /// A setting overridden by an environment variable has a value that cannot be used.
    #[error("{variable} (overriding `{setting}` of provider `{instance}`): {message}")]
    Variable { variable: String, instance: String, setting: String, message: String },
}

struct Problems<'a>(&'a [SourceError]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl From<SourceError> for ProjectError {
    fn from(error: SourceError) -> Self {
        ProjectError::Invalid(vec![error])
    }
}

/// `mac.toml`, with the selected environment's overrides applied.
#[derive(Debug)]
pub struct ProjectConfig {
    pub root: PathBuf,
    /// `project = "…"`: the project's name, the same on every runner and laptop (a shared
    /// state backend keys state by it and the environment).
    pub project: Option<String>,
    pub environment: Option<String>,
    /// `[state] backend`: `file` (the default) or a registered backend's name.
    pub state_backend: String,
    /// Where the file backend keeps state (relative paths are taken from the root).
    pub state_path: PathBuf,
    /// The `[state]` keys other than `backend` and `path`, the environment's merged over them.
    state_settings: Map<String, Value>,
    /// Pointers of the `[state]` tables merged into `state_settings`, the last applied first.
    state_pointers: Vec<String>,
    pub definition_paths: Vec<PathBuf>,
    /// Directories of templates (`templates`, default `templates/`; may be outside the project).
    pub template_paths: Vec<PathBuf>,
    /// The largest share of managed objects one plan may delete without --allow-mass-delete
    /// (`[safety] max_delete_share`, default 0.5).
    pub max_delete_share: f64,
    /// Whether `definitions` was written in mac.toml; the default path may be missing
    /// (a new project), a path the user named may not (a typo must not read as "no objects").
    definitions_given: bool,
    pub providers: Vec<ProviderConfig>,
    /// Values for templates, from `[values]` and the environment's `values`.
    pub values: Map<String, Value>,
    document: Arc<Document>,
}

/// One provider instance's settings and where they were written.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `grafana8` or `grafana8.eu`.
    pub instance: String,
    /// The registered provider's name: the instance name up to its first dot.
    pub provider: String,
    pub settings: Value,
    document: Arc<Document>,
    /// Pointers of the tables merged into `settings`, the last applied first.
    pointers: Vec<String>,
}

impl ProviderConfig {
    /// The location of a settings field, in the environment override if it set it.
    pub fn location(&self, settings_pointer: &str) -> Location {
        merged_location(&self.document, &self.pointers, settings_pointer)
    }
}

/// Where a field of a table merged from several (`bases`, the last applied first) was written:
/// in the first table that sets it, else at the base table.
fn merged_location(document: &Document, bases: &[String], field_pointer: &str) -> Location {
    let exact = bases
        .iter()
        .map(|base| format!("{base}{field_pointer}"))
        .find(|pointer| document.root().pointer(pointer).is_some());
    match exact {
        Some(pointer) => document.location(&pointer),
        None => document.location(bases.last().map_or("", String::as_str)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    project: Option<String>,
    definitions: Option<Vec<String>>,
    templates: Option<Vec<String>>,
    #[serde(default)]
    state: StateSection,
    #[serde(default)]
    safety: SafetySection,
    #[serde(default)]
    providers: BTreeMap<String, Map<String, Value>>,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SafetySection {
    max_delete_share: Option<f64>,
}

/// `[state]`: unknown keys are the backend's to judge (it parses them with its own type).
#[derive(Deserialize, Default)]
struct StateSection {
    backend: Option<String>,
    path: Option<String>,
    #[serde(flatten)]
    settings: Map<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EnvironmentSection {
    #[serde(default)]
    state: StateSection,
    #[serde(default)]
    providers: BTreeMap<String, Map<String, Value>>,
    #[serde(default)]
    values: Map<String, Value>,
}

impl ProjectConfig {
    /// Reads `root/mac.toml` and applies `environment`'s overrides.
    pub fn load(root: &Path, environment: Option<&str>) -> Result<ProjectConfig, ProjectError> {
        let path = root.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProjectError::NoConfig(root.to_path_buf()));
            }
            Err(source) => return Err(ProjectError::Read { path, source }),
        };
        let document = Document::from_bytes(display_path(root, &path), bytes)?;
        ProjectConfig::from_document(root, document, environment)
    }

    /// Builds the configuration from an already parsed `mac.toml`.
    pub fn from_document(
        root: &Path,
        document: Arc<Document>,
        environment: Option<&str>,
    ) -> Result<ProjectConfig, ProjectError> {
        let file: ConfigFile = crate::provider::parse_fields_value(document.root())
            .map_err(|err| document.error(&err.pointer, err.message))?;
        let mut problems = Vec::new();

        let selected = match environment {
            None => None,
            Some(name) => match file.environments.get(name) {
                Some(found) => Some((name, found)),
                None => {
                    let known: Vec<&str> = file.environments.keys().map(String::as_str).collect();
                    let hint = if known.is_empty() {
                        "none is defined".to_owned()
                    } else {
                        format!("defined: {}", known.join(", "))
                    };
                    return Err(document.error("", format!("unknown environment `{name}` ({hint})")).into());
                }
            },
        };

        let mut providers = Vec::new();
        for (instance, settings) in &file.providers {
            let provider = instance.split('.').next().unwrap_or(instance).to_owned();
            let mut merged = Value::Object(settings.clone());
            let mut pointers = vec![push_pointer("/providers", instance)];
            if let Some((name, overrides)) = selected
                && let Some(overrides) = overrides.providers.get(instance)
            {
                merge(&mut merged, &Value::Object(overrides.clone()));
                let base = push_pointer(&push_pointer("/environments", name), "providers");
                pointers.insert(0, push_pointer(&base, instance));
            }
            providers.push(ProviderConfig {
                instance: instance.clone(),
                provider,
                settings: merged,
                document: document.clone(),
                pointers,
            });
        }
        if let Some((name, overrides)) = selected {
            for instance in overrides.providers.keys().filter(|instance| !file.providers.contains_key(*instance)) {
                let pointer = push_pointer(&push_pointer(&push_pointer("/environments", name), "providers"), instance);
                problems.push(document.error(
                    &pointer,
                    format!("environment `{name}` overrides provider instance `{instance}`, which has no [providers.\"{instance}\"] table"),
                ));
            }
        }

        // An environment never shares the default state: the same object ids map to other
        // remote objects there, so sharing would plan one server from the other's state. (A
        // shared backend keys state by project and environment for the same reason.)
        let state_path = match selected {
            Some((name, overrides)) => {
                overrides.state.path.clone().unwrap_or_else(|| format!(".mac/state.{name}.json"))
            }
            None => file.state.path.clone().unwrap_or_else(|| ".mac/state.json".to_owned()),
        };
        let mut state_backend = file.state.backend.clone();
        let mut state_settings = file.state.settings.clone();
        let mut state_pointers = vec!["/state".to_owned()];
        if let Some((name, overrides)) = selected {
            if overrides.state.backend.is_some() {
                state_backend = overrides.state.backend.clone();
            }
            state_settings.extend(overrides.state.settings.clone());
            state_pointers.insert(0, push_pointer(&push_pointer("/environments", name), "state"));
        }
        let state_backend = state_backend.unwrap_or_else(|| crate::backend::FILE_BACKEND.to_owned());
        if let Some(project) = &file.project
            && let Err(message) = check_project_name(project)
        {
            problems.push(document.error("/project", message));
        }
        let max_delete_share = file.safety.max_delete_share.unwrap_or(0.5);
        if !(0.0..=1.0).contains(&max_delete_share) {
            return Err(document
                .error("/safety/max_delete_share", "`max_delete_share` is a share between 0.0 and 1.0")
                .into());
        }
        let template_paths =
            file.templates.unwrap_or_else(|| vec!["templates".to_owned()]).into_iter().map(PathBuf::from).collect();
        let definitions_given = file.definitions.is_some();
        let definition_paths =
            file.definitions.unwrap_or_else(|| vec!["definitions".to_owned()]).into_iter().map(PathBuf::from).collect();
        let mut values = file.values;
        if let Some((_, overrides)) = selected {
            values.extend(overrides.values.clone());
        }
        if !problems.is_empty() {
            return Err(ProjectError::Invalid(problems));
        }
        Ok(ProjectConfig {
            root: root.to_path_buf(),
            project: file.project,
            environment: environment.map(str::to_owned),
            state_backend,
            state_path: PathBuf::from(state_path),
            state_settings,
            state_pointers,
            definition_paths,
            template_paths,
            max_delete_share,
            definitions_given,
            providers,
            values,
            document,
        })
    }

    /// The state file, resolved against the root.
    pub fn state_file(&self) -> PathBuf {
        self.root.join(&self.state_path)
    }

    /// Where a `[state]` key was written: in the environment's table if it set it.
    fn state_location(&self, key_pointer: &str) -> Location {
        merged_location(&self.document, &self.state_pointers, key_pointer)
    }

    /// Opens the configured state store (offline: a shared backend connects on first use).
    pub fn open_state_store(&self) -> Result<Box<dyn StateStore>, ProjectError> {
        if self.state_backend == crate::backend::FILE_BACKEND {
            if let Some(key) = self.state_settings.keys().next() {
                return Err(ProjectError::from(SourceError {
                    location: self.state_location(&push_pointer("", key)),
                    message: format!(
                        "`[state] {key}` is not a setting of the file backend (it takes `path`); \
                         set `backend` to use another store"
                    ),
                }));
            }
            return Ok(Box::new(FileStateStore::new(self.state_file())));
        }
        let backends = crate::backend::registered_backends();
        let Some(registration) = backends.iter().find(|backend| backend.name == self.state_backend) else {
            let mut known = vec![crate::backend::FILE_BACKEND];
            known.extend(backends.iter().map(|backend| backend.name));
            return Err(ProjectError::from(SourceError {
                location: self.state_location("/backend"),
                message: format!(
                    "unknown state backend `{}` (compiled into this mac: {})",
                    self.state_backend,
                    known.join(", ")
                ),
            }));
        };
        if self.state_pointers.iter().any(|base| self.document.root().pointer(&format!("{base}/path")).is_some()) {
            return Err(ProjectError::from(SourceError {
                location: self.state_location("/path"),
                message: format!(
                    "`[state] path` is the file backend's; backend `{}` does not use it",
                    registration.name
                ),
            }));
        }
        let locations = self
            .state_settings
            .keys()
            .chain(["backend".to_owned()].iter())
            .map(|key| (key.clone(), self.state_location(&push_pointer("", key)).to_string()))
            .collect();
        let settings = StateSettings {
            project: self.project.clone(),
            environment: self.environment.clone(),
            values: Value::Object(self.state_settings.clone()),
            locations,
            project_root: self.root.clone(),
        };
        (registration.open)(&settings).map_err(|SettingsError { pointer, message, .. }| {
            ProjectError::from(SourceError {
                location: self.state_location(&pointer),
                message: format!("state backend `{}`: {message}", registration.name),
            })
        })
    }

    /// Instantiates every configured provider instance from the registry. Offline: no
    /// provider talks to its server while being built.
    pub fn build_providers(&self, registry: &Registry) -> Result<Providers, ProjectError> {
        let mut providers = Providers::new();
        let mut problems = Vec::new();
        for config in &self.providers {
            let Some(registration) = registry.get(&config.provider) else {
                let known = registry.names().join(", ");
                problems.push(SourceError {
                    location: config.location(""),
                    message: format!(
                        "unknown provider `{}` (compiled into this mac: {})",
                        config.provider,
                        if known.is_empty() { "none" } else { &known }
                    ),
                });
                continue;
            };
            let settings = ProviderSettings {
                instance: config.instance.clone(),
                values: config.settings.clone(),
                project_root: self.root.clone(),
                project: self.project.clone(),
            };
            match (registration.build)(&settings) {
                Ok(provider) => {
                    if let Err(err) = providers.insert(config.instance.clone(), provider) {
                        problems.push(SourceError { location: config.location(""), message: err.to_string() });
                    }
                }
                Err(SettingsError { pointer, message, variable: Some(variable) }) => {
                    return Err(ProjectError::Variable {
                        variable,
                        instance: config.instance.clone(),
                        setting: pointer.trim_start_matches('/').replace('/', "."),
                        message,
                    });
                }
                Err(SettingsError { pointer, message, variable: None }) => problems.push(SourceError {
                    location: config.location(&pointer),
                    message: format!("provider `{}`: {message}", config.instance),
                }),
            }
        }
        if problems.is_empty() { Ok(providers) } else { Err(ProjectError::Invalid(problems)) }
    }

    /// Reads and checks every definition file. `[[moved]]` blocks are checked and left out:
    /// use [`ProjectConfig::load_definitions_and_moves`] to plan with them.
    pub fn load_definitions(&self, providers: &Providers) -> Result<Vec<Definition>, ProjectError> {
        self.load_definitions_and_moves(providers).map(|loaded| loaded.definitions)
    }

    /// Reads and checks every definition file, with its `[[moved]]` blocks.
    pub fn load_definitions_and_moves(&self, providers: &Providers) -> Result<LoadedDefinitions, ProjectError> {
        let files = self.definition_files()?;
        let read = |path: &PathBuf| -> Result<Arc<Document>, SourceError> {
            let shown = display_path(&self.root, path);
            Document::from_bytes(shown.clone(), crate::source::read_source(path, &shown)?)
        };
        let library = crate::template::load_library(&self.template_paths, &self.root);
        let mut extraction = Extraction::new(self.providers.iter().map(|config| config.instance.as_str()), &self.root);
        // Reported in this order, each only when there is none of the one before.
        let mut unreadable = Vec::new();
        let mut unexpandable = Vec::new();
        // Files are independent, and parsing them is most of a large project's load time: on
        // every core, eight files a core at a time (at most 32: each file's parsed values are
        // held until its definitions are taken out, then dropped). Threads are started per
        // group: a group per pair of files cost a quarter of `mac validate` at 10k rules.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        for some in files.chunks((cores * 8).min(32)) {
            let mut documents = Vec::with_capacity(some.len());
            for result in crate::parallel::in_order(some, cores, read) {
                match result {
                    Ok(document) => documents.push(document),
                    Err(problem) => unreadable.push(problem),
                }
            }
            let Ok(library) = &library else { continue };
            // Every file is expanded, to report every file's template problems at once.
            match crate::template::expand(&documents, library, &self.values) {
                Ok(sources) if unreadable.is_empty() && unexpandable.is_empty() => {
                    sources.iter().for_each(|source| extraction.add(source, providers))
                }
                Ok(_) => {}
                Err(problems) => unexpandable.extend(problems),
            }
        }
        if !unreadable.is_empty() {
            return Err(ProjectError::Invalid(unreadable));
        }
        library.map_err(ProjectError::Invalid)?;
        if !unexpandable.is_empty() {
            return Err(ProjectError::Invalid(unexpandable));
        }
        extraction.finish(providers)
    }

    /// The `*.toml` files named by `definitions`, directories searched recursively, sorted.
    fn definition_files(&self) -> Result<Vec<PathBuf>, ProjectError> {
        let mut files = BTreeSet::new();
        for (index, relative) in self.definition_paths.iter().enumerate() {
            let path = self.root.join(relative);
            if path.is_file() {
                files.insert(path);
            } else if path.is_dir() {
                collect_toml_files(&path, &mut files)
                    .map_err(|source| ProjectError::Read { path: path.clone(), source })?;
            } else if !self.definitions_given {
                continue;
            } else {
                return Err(self
                    .document
                    .error(
                        &format!("/definitions/{index}"),
                        format!("definitions path `{}` does not exist", relative.display()),
                    )
                    .into());
            }
        }
        Ok(files.into_iter().collect())
    }
}

fn collect_toml_files(directory: &Path, files: &mut BTreeSet<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_toml_files(&path, files)?;
        } else if path.extension().is_some_and(|extension| extension == "toml") {
            files.insert(path);
        }
    }
    Ok(())
}

fn display_path(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// Applies an environment's settings over the base ones, key by key. A value replaces the
/// base value whole, so that `token = { env = "PROD" }` replaces `token = { file = "dev" }`
/// rather than merging into a table with both.
fn merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                base.insert(key.clone(), value.clone());
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

/// Turns parsed definition documents into checked definitions: known providers and kinds,
/// unique ids, valid fields, references to defined objects, no cycles.
pub fn definitions_from_documents<'a>(
    documents: &[Arc<Document>],
    providers: &Providers,
    configured_instances: impl IntoIterator<Item = &'a str>,
    project_root: &Path,
) -> Result<Vec<Definition>, ProjectError> {
    let sources: Vec<crate::template::Source> =
        documents.iter().map(|document| crate::template::Source::document(document.clone())).collect();
    definitions_from_sources(&sources, providers, configured_instances, project_root)
}

/// Like [`definitions_from_documents`], for sources that templates may have produced.
pub fn definitions_from_sources<'a>(
    sources: &[crate::template::Source],
    providers: &Providers,
    configured_instances: impl IntoIterator<Item = &'a str>,
    project_root: &Path,
) -> Result<Vec<Definition>, ProjectError> {
    definitions_and_moves_from_sources(sources, providers, configured_instances, project_root)
        .map(|loaded| loaded.definitions)
}

/// A project's checked definitions and `[[moved]]` blocks.
#[derive(Debug, Clone, Default)]
pub struct LoadedDefinitions {
    pub definitions: Vec<Definition>,
    pub moves: Vec<crate::moved::Move>,
}

/// Like [`definitions_from_sources`], keeping the `[[moved]]` blocks.
pub fn definitions_and_moves_from_sources<'a>(
    sources: &[crate::template::Source],
    providers: &Providers,
    configured_instances: impl IntoIterator<Item = &'a str>,
    project_root: &Path,
) -> Result<LoadedDefinitions, ProjectError> {
    let mut extraction = Extraction::new(configured_instances, project_root);
    for source in sources {
        extraction.add(source, providers);
    }
    extraction.finish(providers)
}

/// Definitions taken out of sources one at a time, so that a loader can drop each file's
/// parsed values once its definitions are out (at 10k rules the parsed files were a third
/// of a plan's peak heap); [`Extraction::finish`] checks them together.
struct Extraction<'a> {
    configured: BTreeSet<&'a str>,
    project_root: PathBuf,
    problems: Vec<SourceError>,
    definitions: Vec<Definition>,
    moves: Vec<crate::moved::Move>,
    /// Each id and the index of its definition: the location text is made only for a duplicate.
    seen: BTreeMap<ObjectId, usize>,
    /// Definitions keep each file for their error locations, not its parsed values: one copy
    /// per file, shared by every use of a template. By serial, not address: a file's parsed
    /// document is dropped after its definitions are out, and another may take its address.
    located_files: HashMap<u64, Arc<crate::source::Document>>,
}

impl<'a> Extraction<'a> {
    fn new(configured_instances: impl IntoIterator<Item = &'a str>, project_root: &Path) -> Extraction<'a> {
        Extraction {
            configured: configured_instances.into_iter().collect(),
            project_root: project_root.to_path_buf(),
            problems: Vec::new(),
            definitions: Vec::new(),
            moves: Vec::new(),
            seen: BTreeMap::new(),
            located_files: HashMap::new(),
        }
    }

    fn add(&mut self, source: &crate::template::Source, providers: &Providers) {
        let Extraction { configured, project_root, problems, definitions, moves, seen, located_files } = self;
        let configured = &*configured;
        let project_root: &Path = project_root;
        let document = &source.document;
        let located = located_files.entry(document.serial()).or_insert_with(|| document.for_locations()).clone();
        let problems_before = problems.len();
        let Some(root) = source.root().as_object() else { return };
        for (provider_name, kinds) in root {
            if provider_name == crate::moved::MOVED_KEY {
                moves.extend(crate::moved::parse_moves(document, kinds, providers, configured, problems));
                continue;
            }
            let provider_pointer = push_pointer("", provider_name);
            if !configured.iter().any(|instance| instance.split('.').next() == Some(provider_name.as_str())) {
                let message = match crate::suggest::did_you_mean(provider_name, configured.iter().copied()) {
                    Some(close) => format!(
                        "`{provider_name}` is not a provider configured in {CONFIG_FILE}; did you mean `{close}`?"
                    ),
                    None => format!(
                        "`{provider_name}` is not a provider configured in {CONFIG_FILE}; add a [providers.{provider_name}] table"
                    ),
                };
                problems.push(document.error(&provider_pointer, message));
                continue;
            }
            let Some(kinds) = kinds.as_object() else {
                problems.push(
                    document.error(
                        &provider_pointer,
                        format!("expected tables of objects such as [[{provider_name}.KIND]]"),
                    ),
                );
                continue;
            };
            for (kind, objects) in kinds {
                let kind_pointer = push_pointer(&provider_pointer, kind);
                let Some(objects) = objects.as_array().filter(|items| items.iter().all(Value::is_object)) else {
                    problems.push(
                        document
                            .error(&kind_pointer, format!("expected an array of tables: [[{provider_name}.{kind}]]")),
                    );
                    continue;
                };
                for (index, object) in objects.iter().enumerate() {
                    let pointer = push_pointer(&kind_pointer, &index.to_string());
                    let Some(mut fields) = object.as_object().cloned() else { continue };
                    match definition(document, &pointer, provider_name, kind, &mut fields, providers, configured) {
                        Ok((id, protect)) => {
                            if let Err(problem) =
                                embed_files(document, &pointer, &id, &mut fields, providers, project_root)
                            {
                                problems.push(problem);
                                continue;
                            }
                            let mut definition =
                                Definition::from_document(id.clone(), fields, located.clone(), pointer)
                                    .with_via(source.via.clone());
                            definition.protect = protect;
                            if let Some(first) = seen.get(&id).map(|index| definitions[*index].describe_location()) {
                                problems.push(SourceError {
                                    location: definition.location(),
                                    message: format!(
                                        "`{id}` is defined twice; first definition at {first}{}",
                                        definition
                                            .via()
                                            .last()
                                            .map(|used| format!(" (this one from a template used at {used})"))
                                            .unwrap_or_default()
                                    ),
                                });
                                continue;
                            }
                            seen.insert(id, definitions.len());
                            definitions.push(definition);
                        }
                        Err(problem) => problems.push(problem),
                    }
                }
            }
        }
        if let Some(used) = source.via.last() {
            for problem in &mut problems[problems_before..] {
                if !problem.message.contains(" used at ") {
                    problem.message.push_str(&format!(" (in a template used at {used})"));
                }
            }
        }
    }

    /// Checks the definitions taken out, together.
    fn finish(self, providers: &Providers) -> Result<LoadedDefinitions, ProjectError> {
        let Extraction { mut problems, mut definitions, moves, seen, .. } = self;
        // Names of objects the project defines become references to them, before references are
        // checked and dependencies ordered.
        problems.extend(crate::keyrefs::link(&mut definitions, providers));
        // Each definition is parsed into its kind's type here: on every core.
        for found in crate::parallel::in_order(&definitions, 64, |definition| {
            let mut found = Vec::new();
            check_fields(definition, providers, &seen, &mut found);
            found
        }) {
            problems.extend(found);
        }
        if problems.is_empty() {
            check_together(&definitions, providers, &mut problems);
        }
        crate::moved::check_moves(&moves, &seen.keys().collect(), &mut problems);
        if problems.is_empty()
            && let Err(problem) = check_cycles(&definitions, providers)
        {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(LoadedDefinitions { definitions, moves })
        } else {
            Err(ProjectError::Invalid(problems))
        }
    }
}

/// Replaces each `{ file = "…" }` at a handler's file fields with the file's parsed JSON, or
/// at its text file fields with the file's text (see [`crate::Handler::file_fields`] and
/// [`crate::Handler::text_file_fields`]).
fn embed_files(
    document: &Document,
    pointer: &str,
    id: &ObjectId,
    fields: &mut Map<String, Value>,
    providers: &Providers,
    root: &Path,
) -> Result<(), SourceError> {
    let Some(handler) = providers.handler(&id.provider, &id.kind) else { return Ok(()) };
    embed_file_fields(fields, handler.as_ref(), root).map_err(|error| match error {
        FileFieldError::Unreadable { field_pointer, message } => {
            document.error(&format!("{pointer}{field_pointer}"), message)
        }
        FileFieldError::Invalid(error) => error,
    })
}

/// Reads the JSON (or text) files a definition built in code names at its handler's file fields
/// (`{ file = "…" }`, relative to `root`) into `{ file, content }`, as the loader does for
/// the definitions it reads: a library user calls it before planning such a definition.
pub fn read_file_fields(definition: &mut Definition, providers: &Providers, root: &Path) -> Result<(), SourceError> {
    let Some(handler) = providers.handler(&definition.id.provider, &definition.id.kind) else { return Ok(()) };
    let mut fields = definition.fields.to_map();
    embed_file_fields(&mut fields, handler.as_ref(), root).map_err(|error| match error {
        FileFieldError::Unreadable { field_pointer, message } => definition.error(&field_pointer, message),
        FileFieldError::Invalid(error) => error,
    })?;
    definition.fields = crate::JsonText::from_map(&fields);
    Ok(())
}

/// Why a file field could not be embedded.
enum FileFieldError {
    /// The file could not be read: at `{ file = … }` (a pointer relative to the definition).
    Unreadable { field_pointer: String, message: String },
    /// The file is not JSON: at the line and column in the file.
    Invalid(SourceError),
}

/// The work of [`embed_files`] and [`read_file_fields`].
fn embed_file_fields(
    fields: &mut Map<String, Value>,
    handler: &dyn crate::Handler,
    root: &Path,
) -> Result<(), FileFieldError> {
    let json_fields = handler.file_fields().into_iter().map(|pattern| (pattern, true));
    for (pattern, is_json) in json_fields.chain(handler.text_file_fields().into_iter().map(|pattern| (pattern, false)))
    {
        // File fields are top-level (`/json`): keep the mechanism simple until a kind needs more.
        let Some(key) = pattern.strip_prefix('/').filter(|key| !key.contains('/')) else { continue };
        let Some(Value::Object(table)) = fields.get(key) else { continue };
        let Some(relative) = table.get("file").and_then(Value::as_str).filter(|_| table.len() == 1) else { continue };
        let path = root.join(relative);
        let text = std::fs::read_to_string(&path).map_err(|err| FileFieldError::Unreadable {
            field_pointer: push_pointer(&push_pointer("", key), "file"),
            message: format!("cannot read {relative}: {err}"),
        })?;
        let content: Value = if is_json {
            serde_json::from_str(&text).map_err(|err| {
                FileFieldError::Invalid(SourceError {
                    location: Location { path: PathBuf::from(relative), line: err.line(), column: err.column() },
                    // serde_json ends its message with the position, which the location already gives.
                    message: format!("invalid JSON: {}", err.to_string().split(" at line ").next().unwrap_or_default()),
                })
            })?
        } else {
            Value::String(text)
        };
        let relative = relative.to_owned();
        fields.insert(key.to_owned(), serde_json::json!({ "file": relative, "content": content }));
    }
    Ok(())
}

/// A definition's fields with each file the loader embedded (see [`embed_files`]) back to the
/// `{ file = "…" }` it was written as: what `mac render` prints, since a file's JSON may hold
/// what TOML cannot (`null`), and loading the reference again reads the same content.
pub fn fields_as_written(fields: &Map<String, Value>, handler: &dyn crate::Handler) -> Map<String, Value> {
    let mut written = fields.clone();
    for pattern in handler.file_fields().into_iter().chain(handler.text_file_fields()) {
        let Some(key) = pattern.strip_prefix('/').filter(|key| !key.contains('/')) else { continue };
        if let Some(Value::Object(table)) = written.get_mut(key)
            && table.contains_key("file")
            && table.contains_key("content")
        {
            table.remove("content");
        }
    }
    written
}

/// Takes `id` and `provider` out of an object table and checks its kind.
fn definition(
    document: &Document,
    pointer: &str,
    provider_name: &str,
    kind: &str,
    fields: &mut Map<String, Value>,
    providers: &Providers,
    configured: &BTreeSet<&str>,
) -> Result<(ObjectId, bool), SourceError> {
    let local_id = match fields.remove("id") {
        Some(Value::String(id)) if valid_local_id(&id) => id,
        Some(Value::String(_)) => {
            return Err(document.error(
                &push_pointer(pointer, "id"),
                "`id` must be non-empty and use only letters, digits, `_`, `-`, `.` and `:`",
            ));
        }
        Some(_) => return Err(document.error(&push_pointer(pointer, "id"), "`id` must be a string")),
        None => return Err(document.error(pointer, format!("missing `id` in [[{provider_name}.{kind}]]"))),
    };
    let instance = match fields.remove("provider") {
        None => provider_name.to_owned(),
        Some(Value::String(instance)) => {
            let of_this_provider = instance == provider_name
                || instance.strip_prefix(provider_name).is_some_and(|rest| rest.starts_with('.'));
            if !of_this_provider || !configured.contains(instance.as_str()) {
                return Err(document.error(
                    &push_pointer(pointer, "provider"),
                    format!("`{instance}` is not a configured instance of provider `{provider_name}`"),
                ));
            }
            instance
        }
        Some(_) => return Err(document.error(&push_pointer(pointer, "provider"), "`provider` must be a string")),
    };
    if providers.handler(&instance, kind).is_none() {
        let known = providers.kinds(&instance);
        let kinds = known.join(", ");
        return Err(document.error(
            &push_pointer(&push_pointer("", provider_name), kind),
            format!(
                "provider `{provider_name}` has no kind `{kind}`{} (its kinds: {kinds})",
                crate::suggest::hint(kind, known.iter().copied())
            ),
        ));
    }
    let protect = match fields.remove("protect") {
        None => false,
        Some(Value::Bool(protect)) => protect,
        Some(_) => return Err(document.error(&push_pointer(pointer, "protect"), "`protect` must be true or false")),
    };
    Ok((ObjectId::new(instance, kind, local_id), protect))
}

fn valid_local_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Runs each kind's [`crate::Handler::validate_together`] over its definitions, per instance.
fn check_together(definitions: &[Definition], providers: &Providers, problems: &mut Vec<SourceError>) {
    let mut by_kind: BTreeMap<(&str, &str), Vec<&Definition>> = BTreeMap::new();
    for definition in definitions {
        by_kind.entry((&definition.id.provider, &definition.id.kind)).or_default().push(definition);
    }
    for ((instance, kind), of_kind) in by_kind {
        let Some(handler) = providers.handler(instance, kind) else { continue };
        let pairs: Vec<(&ObjectId, &crate::JsonText)> =
            of_kind.iter().map(|definition| (&definition.id, &definition.fields)).collect();
        for (index, error) in handler.validate_together(&pairs) {
            if let Some(definition) = of_kind.get(index) {
                problems.push(definition.field_error(&error));
            }
        }
    }
}

/// Runs the handler's validation and checks that references point at defined objects.
fn check_fields(
    definition: &Definition,
    providers: &Providers,
    defined: &BTreeMap<ObjectId, usize>,
    problems: &mut Vec<SourceError>,
) {
    let Some(handler) = providers.handler(&definition.id.provider, &definition.id.kind) else { return };
    if let Err(errors) = handler.validate(&definition.fields) {
        problems.extend(errors.iter().map(|error| definition.field_error(error)));
        return;
    }
    if let Err(error) = crate::secrets::secret_refs_in(&definition.fields, &handler.secret_fields()) {
        problems.push(definition.error(&error.pointer, error.message));
        return;
    }
    match dependencies(definition, handler.as_ref()) {
        Ok(references) => {
            for (pointer, reference) in references {
                if !defined.contains_key(&definition.id.sibling(&reference)) {
                    let siblings: Vec<String> = defined
                        .keys()
                        .filter(|id| id.provider == definition.id.provider)
                        .map(ObjectId::short)
                        .collect();
                    problems.push(definition.error(
                        &pointer,
                        format!(
                            "`{reference}` is not defined for provider instance `{}`{}",
                            definition.id.provider,
                            crate::suggest::hint(&reference.to_string(), siblings.iter().map(String::as_str))
                        ),
                    ));
                }
            }
        }
        Err(error) => problems.push(definition.error(&error.pointer, error.message)),
    }
}

/// Everything a definition depends on: the handler's references and generic `{ ref = … }`s.
pub fn dependencies(
    definition: &Definition,
    handler: &dyn crate::Handler,
) -> Result<Vec<(String, LocalRef)>, crate::FieldError> {
    let mut references = handler.references(&definition.fields);
    references
        .extend(crate::refs::find_refs_in(&definition.fields)?.into_iter().map(|found| (found.pointer, found.target)));
    Ok(references)
}

fn check_cycles(definitions: &[Definition], providers: &Providers) -> Result<(), SourceError> {
    let nodes: BTreeSet<ObjectId> = definitions.iter().map(|definition| definition.id.clone()).collect();
    let mut depends_on: BTreeMap<ObjectId, BTreeSet<ObjectId>> = BTreeMap::new();
    let all_references = crate::parallel::in_order(definitions, 64, |definition| {
        let handler = providers.handler(&definition.id.provider, &definition.id.kind)?;
        Some(dependencies(definition, handler.as_ref()).unwrap_or_default())
    });
    for (definition, references) in definitions.iter().zip(all_references) {
        let Some(references) = references else { continue };
        depends_on.insert(
            definition.id.clone(),
            references.into_iter().map(|(_, reference)| definition.id.sibling(&reference)).collect(),
        );
    }
    match topological_order(&nodes, &depends_on) {
        Ok(_) => Ok(()),
        Err(cycle) => {
            let first = cycle.first().and_then(|id| definitions.iter().find(|definition| &definition.id == id));
            let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
            let location = first.map(Definition::location).unwrap_or_else(|| Location::file(CONFIG_FILE));
            Err(SourceError {
                location,
                message: format!("definitions depend on each other in a cycle: {}", names.join(" -> ")),
            })
        }
    }
}

/// A project name is a key shared by every runner: letters, digits, `.`, `_` and `-`.
fn check_project_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err("`project` is a name of 1 to 100 characters".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("`project` may hold letters, digits, `.`, `_` and `-`, not {bad:?}"));
    }
    Ok(())
}
