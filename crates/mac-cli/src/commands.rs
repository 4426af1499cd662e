//! Acting on parsed arguments: each command loads what it needs, calls the engine and
//! renders the result.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use mac_core::state::{StateLock, StateStore};
use mac_core::{
    ApplyOptions, Definition, FileStateStore, ObjectId, Plan, PlanOptions, ProjectConfig, Providers, Registry, State,
    StateError,
};

use crate::args::{ApplyArgs, Cli, Command, ImportArgs, LockArgs, PlanArgs, PlanSelection, StateCommand, TestArgs};
use crate::{progress, render, rule_tests};

/// Exit code of `plan --detailed-exitcode` when there are changes.
const EXIT_CHANGES: u8 = 2;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Init(args) => crate::init::run(&cli, args).await,
        Command::Providers => providers(),
        Command::Validate => validate(&cli),
        Command::Fmt(args) => crate::fmt::run(&cli, args),
        Command::Plan(args) => plan(&cli, args).await,
        Command::Apply(args) => apply(&cli, args).await,
        Command::Show(args) => crate::show::run(&cli, args),
        Command::Destroy(args) => destroy(&cli, args).await,
        Command::Import(args) => import(&cli, args).await,
        Command::Render => render_definitions(&cli),
        Command::Test(args) => test(&cli, args),
        Command::State(command) => state(&cli, command),
        Command::Completions(args) => crate::completions::print(args),
        Command::Man(args) => crate::man_pages::write(args),
        Command::Schema { kind, json_schema } => crate::schema::run(kind.as_deref(), *json_schema),
    }
}

fn registry() -> anyhow::Result<Registry> {
    Ok(Registry::from_inventory()?)
}

fn providers() -> anyhow::Result<ExitCode> {
    let registry = registry()?;
    let mut out = crate::output::stdout();
    if registry.names().is_empty() {
        writeln!(out, "No providers are compiled into this mac.")?;
    }
    for registration in registry.iter() {
        writeln!(out, "{:<12} {}", registration.name, registration.description)?;
        // From the registration, as the provider declares them: never a list kept here.
        let kinds: Vec<String> = (registration.kinds)().into_iter().map(|kind| kind.name).collect();
        writeln!(out, "{:<12} kinds: {}", "", kinds.join(", "))?;
    }
    writeln!(out, "\nState backends ([state] backend = \"NAME\"):")?;
    writeln!(out, "{:<12} a JSON file in the project (the default)", mac_core::backend::FILE_BACKEND)?;
    for backend in mac_core::backend::registered_backends() {
        writeln!(out, "{:<12} {}", backend.name, backend.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A loaded project: configuration, state store, providers, definitions.
struct Project {
    config: ProjectConfig,
    store: Box<dyn StateStore>,
    providers: Providers,
    definitions: Vec<Definition>,
    /// The project's `[[moved]]` blocks.
    moves: Vec<mac_core::moved::Move>,
}

impl Project {
    fn load(cli: &Cli) -> anyhow::Result<Project> {
        let config = ProjectConfig::load(&cli.directory, cli.environment.as_deref())?;
        // Opened (offline) before anything else, so that a bad `[state]` is reported by
        // `mac validate` too, and before any request to a server.
        let store = config.open_state_store()?;
        let providers = config.build_providers(&registry()?)?;
        let loaded = config.load_definitions_and_moves(&providers)?;
        Ok(Project { config, store, providers, definitions: loaded.definitions, moves: loaded.moves })
    }

    /// Where a field of a defined object was written.
    fn locate(&self, id: &ObjectId, pointer: &str) -> Option<mac_core::Location> {
        self.definitions
            .iter()
            .find(|definition| &definition.id == id)
            .map(|definition| definition.field_location(pointer))
    }

    /// What a plan is made for: applying a saved plan elsewhere (another environment, state
    /// file or server) is refused. Settings hold secret references, never values.
    fn bindings(&self) -> BTreeMap<String, String> {
        let mut bindings = BTreeMap::new();
        bindings
            .insert("environment".to_owned(), self.config.environment.clone().unwrap_or_else(|| "(none)".to_owned()));
        bindings.insert("state".to_owned(), state_binding(&self.config, self.store.as_ref()));
        for provider in &self.config.providers {
            let settings = provider.settings.as_object().cloned().unwrap_or_default();
            bindings.insert(format!("provider {}", provider.instance), mac_core::state::definition_hash(&settings));
        }
        bindings
    }

    /// Reads `--target`s: an instance of this project, `kind.id` or `instance/kind.id`.
    fn targets(&self, texts: &[String]) -> anyhow::Result<Vec<mac_core::Target>> {
        texts
            .iter()
            .map(|text| {
                mac_core::Target::parse(text, self.providers.instances()).ok_or_else(|| {
                    let known: Vec<&str> = self.providers.instances().collect();
                    anyhow::anyhow!(
                        "--target `{text}` is neither KIND.ID, INSTANCE/KIND.ID nor a provider instance of this \
                         project (configured: {})",
                        known.join(", ")
                    )
                })
            })
            .collect()
    }

    fn store(&self) -> &dyn StateStore {
        self.store.as_ref()
    }

    /// Observes the remote systems that definitions or state involve, and plans.
    async fn plan(&self, state: &State, selection: &PlanSelection) -> anyhow::Result<Plan> {
        let targets = self.targets(&selection.targets)?;
        self.plan_for(state, selection, targets).await
    }

    async fn plan_for(
        &self,
        state: &State,
        selection: &PlanSelection,
        targets: Vec<mac_core::Target>,
    ) -> anyhow::Result<Plan> {
        let kinds = mac_core::refresh::kinds_in_use(
            self.definitions
                .iter()
                .map(|definition| &definition.id)
                .chain(state.resources().iter().map(|entry| &entry.id))
                .chain(state.pending().iter().map(|pending| &pending.id)),
        );
        // What lives in or uses an object the plan may delete, read only when one may be.
        // Objects a `[[moved]]` block renames to a defined id are not deleted: they count as
        // defined here (renamed to an id no longer defined, they are deleted like any other).
        let defined: BTreeSet<&ObjectId> = self.definitions.iter().map(|definition| &definition.id).collect();
        let renamed = self.moves.iter().filter(|moved| defined.contains(&moved.to)).map(|moved| &moved.from);
        let deletable = mac_core::links::deletable_remote_ids(defined.iter().copied().chain(renamed), state);
        let linked = mac_core::links::kinds_for_deletes(&self.providers, &deletable, &kinds);
        let mut observed = mac_core::refresh::observe_with_links(&self.providers, &kinds, &linked).await?;
        mac_core::refresh::observe_contents(&self.providers, &deletable, &mut observed).await?;
        // Secrets are read and digested here, so that the planner compares digests only.
        let salt = state.clone().secret_salt().to_owned();
        let secrets = mac_core::secrets::digest_definitions(
            &self.definitions,
            &self.providers,
            &salt,
            &self.config.root,
            &|id| state.get(id).is_some(),
        )
        .map_err(mac_core::ProjectError::Invalid)?;
        let options = PlanOptions {
            allow_delete_all: selection.allow_delete_all,
            // Deleting all of an instance is more than any share: `--allow-delete-all` says
            // both. `mac destroy` allows all and keeps the share a question of its own.
            allow_mass_delete: selection.allow_mass_delete || (selection.allow_delete_all && !selection.destroy),
            max_delete_share: Some(self.config.max_delete_share),
            targets,
            secrets,
            moves: self.moves.clone(),
            project: self.config.project.clone(),
        };
        let mut plan = mac_core::plan(&self.definitions, state, &observed, &self.providers, &options)?;
        plan.bindings = self.bindings();
        Ok(plan)
    }
}

/// What a saved plan is bound to: the state file as written in mac.toml (the same in every
/// working copy), or what a shared store names.
fn state_binding(config: &ProjectConfig, store: &dyn StateStore) -> String {
    if config.state_backend == mac_core::backend::FILE_BACKEND {
        config.state_path.display().to_string()
    } else {
        store.binding()
    }
}

/// Prints every definition as planned: templates expanded, names of defined objects as
/// references, files as the `{ file = … }` references they were written as.
fn render_definitions(cli: &Cli) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    let mut document = serde_json::Map::new();
    for definition in &project.definitions {
        let provider = definition.id.provider.split('.').next().unwrap_or(&definition.id.provider).to_owned();
        let mut table = serde_json::Map::new();
        table.insert("id".to_owned(), definition.id.local_id.clone().into());
        if definition.id.provider != provider {
            table.insert("provider".to_owned(), definition.id.provider.clone().into());
        }
        // Files stay references: their JSON is read again, identically, when the output is
        // planned, and may hold `null`, which TOML cannot.
        match project.providers.handler(&definition.id.provider, &definition.id.kind) {
            Some(handler) => {
                table.extend(mac_core::project::fields_as_written(&definition.fields.to_map(), handler.as_ref()))
            }
            None => table.extend(definition.fields.to_map()),
        }
        let kinds = document.entry(provider).or_insert_with(|| serde_json::json!({}));
        if let Some(kinds) = kinds.as_object_mut()
            && let serde_json::Value::Array(tables) =
                kinds.entry(definition.id.kind.clone()).or_insert_with(|| serde_json::json!([]))
        {
            tables.push(table.into());
        }
    }
    let header = "# Rendered by `mac render`: the definitions as planned, templates expanded.";
    write!(crate::output::stdout(), "{}", render::definitions_toml(header, &serde_json::Value::Object(document))?)?;
    Ok(ExitCode::SUCCESS)
}

/// `mac test`: promtool unit tests of the rendered Prometheus rules, and Grafana twins.
fn test(cli: &Cli, args: &TestArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    let config =
        rule_tests::Config { root: &project.config.root, paths: &args.paths, promtool: args.promtool.as_deref() };
    rule_tests::run(&config, &project.definitions, &project.providers)
}

fn validate(cli: &Cli) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    let instances: BTreeSet<&str> =
        project.definitions.iter().map(|definition| definition.id.provider.as_str()).collect();
    writeln!(
        crate::output::stdout(),
        "Valid: {} object(s) for {} provider instance(s).",
        project.definitions.len(),
        instances.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn plan(cli: &Cli, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    let state = project.store().load()?;
    let plan = project.plan(&state, &args.selection).await?;
    // Saved before anything is printed: a plan that cannot be saved is an error, and under
    // --json the only output is then that error.
    if let Some(path) = &args.out {
        save_plan(path, &plan)?;
    }
    let mut out = crate::output::stdout();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&render::plan_json(&plan))?)?;
    } else {
        render::write_plan(&plan, &mut |part| out.write_all(part.as_bytes()))?;
    }
    if let Some(path) = &args.out
        && !args.json
    {
        writeln!(out, "Saved the plan to {}. Apply exactly it with: mac apply {}", path.display(), path.display())?;
    }
    let code =
        if args.detailed_exitcode && plan.has_changes() { ExitCode::from(EXIT_CHANGES) } else { ExitCode::SUCCESS };
    // The process ends next: freeing every definition, remote object and action one by one
    // took a tenth of a large plan's time, and the OS takes the memory back at once.
    std::mem::forget((project, state, plan));
    Ok(code)
}

/// Writes the plan next to its final name, flushes it, then renames it into place.
fn save_plan(path: &Path, plan: &Plan) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(plan)?;
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write the plan to {}", path.display()))
}

pub(crate) fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read plan file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a plan saved by `mac plan -o` (or it was damaged)", path.display()))
}

fn take_lock(store: &dyn StateStore, lock: &LockArgs) -> anyhow::Result<Box<dyn StateLock>> {
    let held = store.lock(lock.lock_timeout)?;
    if let Some(previous) = held.previous_holder() {
        eprintln!(
            "note: the previous run on this state ({previous}) ended without releasing its lock; \
             this run carries on from its last saved write"
        );
    }
    Ok(held)
}

async fn apply(cli: &Cli, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    let store = project.store();
    let _lock = take_lock(store, &args.lock)?;
    let mut state = store.load()?;
    // Fix the salt before planning, so that plan and apply digest secrets alike.
    state.secret_salt();
    let plan = match &args.plan_file {
        Some(path) => {
            if !args.selection.targets.is_empty() || args.selection.allow_delete_all || args.selection.allow_mass_delete
            {
                bail!(
                    "--target, --allow-delete-all and --allow-mass-delete shape a new plan; a saved plan is applied as it was saved"
                );
            }
            let plan = load_plan(path)?;
            let current = project.bindings();
            for (what, planned) in &plan.bindings {
                if current.get(what) != Some(planned) {
                    bail!(
                        "{} was made for another {what} ({planned}) than this run's ({}); make a new plan",
                        path.display(),
                        current.get(what).map_or("none", String::as_str)
                    );
                }
            }
            // Refused before any request when the state moved on since the plan.
            mac_core::apply::check_saved_plan(&plan, &state)?;
            // A saved plan is applied without a fresh read: check the servers answer and
            // accept the credentials before the first write.
            let instances = plan.actions.iter().map(|action| action.id.provider.clone()).collect();
            mac_core::refresh::check(&project.providers, &instances).await?;
            // Before any write: what the plan writes or deletes must be as the plan saw it,
            // or the write would also undo, unseen, what someone changed since.
            recheck_plan(&plan, &project.providers, path).await?;
            plan
        }
        None => project.plan(&state, &args.selection).await?,
    };
    let mut out = crate::output::stdout();
    render::write_plan(&plan, &mut |part| out.write_all(part.as_bytes()))?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    // A saved plan was reviewed when it was made (and was just checked against the remote):
    // applying it needs no confirmation. A fresh plan is being shown for the first time.
    if !args.auto_approve && args.plan_file.is_none() {
        if !confirm()? {
            writeln!(out, "Apply cancelled; nothing was changed.")?;
            return Ok(ExitCode::FAILURE);
        }
        // A person may take long to answer: check again that what the plan writes or deletes
        // is still as the plan saw it (a fresh plan too: it was read before the question).
        let shown = args.plan_file.clone().unwrap_or_else(|| PathBuf::from("the plan shown"));
        recheck_plan(&plan, &project.providers, &shown).await?;
    }

    execute(&project, &plan, state, usize::from(args.parallelism), args.adopt).await
}

/// Applies a plan that was shown (and confirmed, where that was asked for), and reports.
async fn execute(
    project: &Project,
    plan: &Plan,
    state: State,
    parallelism: usize,
    adopt: bool,
) -> anyhow::Result<ExitCode> {
    let store = project.store();
    let mut out = crate::output::stdout();
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    tokio::spawn(async move {
        // Ctrl-C, or SIGTERM from a cancelled CI job: start nothing new, let the writes in
        // flight finish and be saved. A second signal stops at once.
        wait_for_stop_signal().await;
        eprintln!("interrupted: finishing the writes in progress and saving state (interrupt again to abort)");
        flag.store(true, Ordering::SeqCst);
        wait_for_stop_signal().await;
        std::process::exit(130);
    });
    let options =
        ApplyOptions { parallelism, adopt, interrupt: Some(interrupt), secrets_root: project.config.root.clone() };
    let progress = progress::Progress::new(plan.actions.len());
    let result = mac_core::apply(plan, &project.providers, store, state, &options, &progress).await;
    progress.finish();
    let report = match result {
        Ok((_, report)) => report,
        Err(mac_core::ApplyError::State { source, report, unrecorded }) => {
            write!(out, "{}", render::apply_report(&report, &|id, pointer| project.locate(id, pointer)))?;
            if !unrecorded.is_empty() {
                let mut err = anstream::stderr();
                writeln!(
                    err,
                    "These {} change(s) were made on the servers but could not be recorded in state; the next \
                     run finds them (a create by its name, recorded as pending before it started) and adopts or \
                     completes them without duplicates:",
                    unrecorded.len()
                )?;
                for id in &unrecorded {
                    writeln!(err, "  {id}")?;
                }
            }
            return Err(anyhow::Error::new(source).context("could not save state after a remote write"));
        }
        Err(err) => return Err(err.into()),
    };
    write!(out, "{}", render::apply_report(&report, &|id, pointer| project.locate(id, pointer)))?;
    Ok(if report.succeeded() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `mac destroy`: plans deleting the managed objects of the targets (every instance by
/// default) as if their definitions were removed, so that every guard of a prune holds;
/// shows the plan, asks for the instances' names to be typed, and applies it.
async fn destroy(cli: &Cli, args: &crate::args::DestroyArgs) -> anyhow::Result<ExitCode> {
    let mut project = Project::load(cli)?;
    let targets = project.targets(&args.targets)?;
    let store = project.store();
    let _lock = take_lock(store, &args.lock)?;
    let mut state = store.load()?;
    state.secret_salt();
    // An object named that state does not manage has nothing on the servers to destroy.
    for target in &targets {
        let managed =
            state.resources().iter().map(|entry| &entry.id).chain(state.pending().iter().map(|pending| &pending.id));
        if matches!(target, mac_core::Target::Object { .. }) && !managed.into_iter().any(|id| target.matches(id)) {
            let defined = project.definitions.iter().any(|definition| target.matches(&definition.id));
            if defined {
                bail!(
                    "`{target}` is defined but not managed (it was never applied): there is nothing of it to destroy"
                );
            }
            bail!("no managed object matches --target {target} (see `mac show`)");
        }
    }
    let destroy = mac_core::destroy::destroy(std::mem::take(&mut project.definitions), &targets, &project.providers)?;
    project.definitions = destroy.kept;
    // Deleting every object of an instance is what was asked for; the share is still a guard.
    let selection = PlanSelection {
        targets: Vec::new(),
        allow_delete_all: true,
        allow_mass_delete: args.allow_mass_delete,
        destroy: true,
    };
    let plan = project.plan_for(&state, &selection, destroy.targets).await?;
    // A destroy only removes. An object that stays but, as last applied, still uses one that
    // goes has its change pulled in (its update must come first): say so rather than apply it.
    if let Some(action) = plan.actions.iter().find(|action| !action.operation.removes()) {
        bail!(
            "{} stays, but as last applied it uses an object this destroy deletes, and its change ({}) is not \
             applied yet: apply that change first, or --target {} too",
            action.id,
            format!("{:?}", action.operation).to_lowercase(),
            action.id
        );
    }
    let mut out = crate::output::stdout();
    for dependent in &destroy.dependents {
        writeln!(out, "note: {dependent} is destroyed too: it needs an object that --target destroys")?;
    }
    if !plan.has_changes() && plan.blocked.is_empty() {
        writeln!(out, "Nothing to destroy: no object is managed there.")?;
        return Ok(ExitCode::SUCCESS);
    }
    render::write_plan(&plan, &mut |part| out.write_all(part.as_bytes()))?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve {
        let instances: BTreeSet<&str> = plan.actions.iter().map(|action| action.id.provider.as_str()).collect();
        let expected = instances.into_iter().collect::<Vec<_>>().join(" ");
        if !confirm_destroy(plan.actions.len(), &expected)? {
            writeln!(out, "Destroy cancelled; nothing was deleted.")?;
            return Ok(ExitCode::FAILURE);
        }
        recheck_plan(&plan, &project.providers, Path::new("the plan shown")).await?;
    }
    execute(&project, &plan, state, usize::from(args.parallelism), false).await
}

/// Asks for `expected` (the instances' names) to be typed; refuses when there is no terminal.
fn confirm_destroy(count: usize, expected: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to destroy without confirmation: standard input is not a terminal. Review the plan, then pass --auto-approve"
        );
    }
    let mut out = crate::output::stdout();
    write!(out, "\nThis deletes {count} object(s) from the servers. Type `{expected}` to confirm: ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == expected)
}

/// Refuses a plan (saved, or shown and confirmed) when an object it writes or deletes changed
/// on a server since it was made (see `mac_core::recheck`); `path` names it in the message.
async fn recheck_plan(plan: &Plan, providers: &Providers, path: &Path) -> anyhow::Result<()> {
    match mac_core::recheck(plan, providers).await {
        Ok(()) => Ok(()),
        Err(mac_core::RecheckError::Moved(moved)) => {
            bail!("{}", render::moved_since_plan(&path.display().to_string(), &moved))
        }
        Err(error) => Err(error.into()),
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn import(cli: &Cli, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let project = Project::load(cli)?;
    if !project.providers.contains(&args.instance) {
        let known: Vec<&str> = project.providers.instances().collect();
        bail!("`{}` is not a provider instance of this project (configured: {})", args.instance, known.join(", "));
    }
    let provider = args.instance.split('.').next().unwrap_or(&args.instance).to_owned();
    let directory = match &args.out {
        Some(out) => out.clone(),
        None => project.config.definition_paths.first().cloned().unwrap_or_else(|| "definitions".into()),
    };
    let store = project.store();
    let _lock = take_lock(store, &args.lock)?;
    let mut state = store.load()?;
    let instances = [args.instance.clone()].into_iter().collect();
    let mut kinds = mac_core::refresh::all_kinds(&project.providers, &instances);
    // A kind these credentials may not list (grafana8 users need a server admin) is left out
    // of an import, said once, rather than failing the import of everything else.
    let observed = loop {
        match mac_core::refresh::observe(&project.providers, &kinds).await {
            Err(error) if error.source.kind == mac_core::HandlerErrorKind::Unauthorized && error.kind.is_some() => {
                let kind = error.kind.clone().unwrap_or_default();
                eprintln!("note: not importing {}/{kind}: {}", error.instance, error.source.message);
                kinds.remove(&(error.instance.clone(), kind));
            }
            observed => break observed?,
        }
    };
    let defined: BTreeSet<ObjectId> = project.definitions.iter().map(|definition| definition.id.clone()).collect();
    let options =
        mac_core::import::ImportOptions { project: project.config.project.clone(), directory: directory.clone() };
    let found = mac_core::import::import(&project.providers, &args.instance, &observed, &state, &defined, &options);
    let imported = mac_core::import::select_scopes(found.objects, &args.folders, &project.providers);
    let mut out = crate::output::stdout();
    // Said whatever else happens: these are another project's, and stay so.
    for skipped in &found.owned_elsewhere {
        writeln!(
            out,
            "skipped {}/{} `{}`: marked as managed by project `{}`",
            skipped.instance, skipped.kind, skipped.remote_id, skipped.owner
        )?;
    }
    if imported.is_empty() {
        writeln!(out, "Nothing to import: every object of `{}` is managed already (or none matched).", args.instance)?;
        return Ok(ExitCode::SUCCESS);
    }

    // One file per folder (the handler's choice), never overwriting a file.
    let mut files: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for object in &imported {
        let mut table = serde_json::Map::new();
        table.insert("id".to_owned(), object.id.local_id.clone().into());
        if object.id.provider != provider {
            table.insert("provider".to_owned(), object.id.provider.clone().into());
        }
        table.extend(object.fields.clone());
        // Kinds in dependency order (imported in that order), so folders come first.
        let kinds = files.entry(object.file.clone()).or_default();
        let tables = kinds.entry(object.id.kind.clone()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(tables) = tables {
            tables.push(table.into());
        }
    }
    let root = cli.directory.join(&directory);
    let mut written = Vec::new();
    for file in imported.iter().flat_map(|object| &object.files) {
        let path = cli.directory.join(&file.path);
        if path.exists() {
            bail!("{} exists already; import into an empty directory with --out DIR", path.display());
        }
        written.push((path, format!("{}\n", serde_json::to_string_pretty(&file.content)?)));
    }
    for (file, kinds) in &files {
        let path = root.join(format!("{file}.toml"));
        if path.exists() {
            bail!("{} exists already; import into an empty directory with --out DIR", path.display());
        }
        let document = serde_json::json!({ &provider: kinds });
        let header = "# Imported by `mac import` from what the server had. Edit freely: this file is now the source.";
        written.push((path, render::definitions_toml(header, &document)?));
    }
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    for (path, text) in &written {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    for object in &imported {
        state.upsert(object.state_entry(&project.providers));
    }
    state.save_to(store)?;
    for (path, _) in &written {
        writeln!(out, "wrote {}", path.strip_prefix(&cli.directory).unwrap_or(path).display())?;
    }
    writeln!(
        out,
        "Imported {} object(s) from `{}`; they are managed from now on. `mac plan` should show no changes.",
        imported.len(),
        args.instance
    )?;
    let inside = project.config.definition_paths.iter().any(|path| directory.starts_with(path));
    if !inside {
        writeln!(
            out,
            "note: {} is not among mac.toml's `definitions`; add it, or the next plan deletes what was imported",
            directory.display()
        )?;
    }
    write!(out, "{}", import_secret_warning(&imported, &project.providers))?;
    Ok(ExitCode::SUCCESS)
}

/// The secrets an import wrote as `{ env = … }` placeholders, since no server returns them:
/// which object, which field, which variable to set before the next plan.
fn import_secret_warning(imported: &[mac_core::import::Imported], providers: &Providers) -> String {
    use std::fmt::Write as _;
    // (variable, `id field`), and whether the remote takes the secret on create only.
    let placeholders: Vec<(String, String, bool)> = imported
        .iter()
        .flat_map(|object| {
            let id = &object.id;
            let create_only =
                providers.handler(&id.provider, &id.kind).is_some_and(|handler| handler.secrets_on_create_only());
            object
                .secret_placeholders(providers)
                .into_iter()
                .map(move |(field, variable)| (variable, format!("{id} {field}"), create_only))
        })
        .collect();
    let width = placeholders.iter().map(|(variable, _, _)| variable.len()).max().unwrap_or_default();
    let list = |create_only: bool| {
        let mut lines = String::new();
        for (variable, field, _) in placeholders.iter().filter(|(_, _, only)| *only == create_only) {
            let _ = writeln!(lines, "  {variable:<width$}  {field}");
        }
        lines
    };
    let mut text = String::new();
    let (written, on_create) = (list(false), list(true));
    if !written.is_empty() {
        let _ = write!(
            text,
            "warning: {} secret(s) could not be read from the server (it never returns them) and were written as \
             {{ env = \"…\" }} placeholders. Set these variables to the values the server has before the next plan; its \
             first apply writes them once (shown as `(sensitive)`), so that mac knows them from then on:\n{written}",
            written.lines().count()
        );
    }
    if !on_create.is_empty() {
        let _ = write!(
            text,
            "note: {} secret(s) the server takes only when it creates the object (user passwords) were written as \
             {{ env = \"…\" }} placeholders; they are read only if mac has to create the object again, never compared \
             or written otherwise:\n{on_create}",
            on_create.lines().count()
        );
    }
    text
}

/// Asks on the terminal; refuses when there is none rather than guessing.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: standard input is not a terminal. Review the plan, then pass --auto-approve"
        );
    }
    let mut out = crate::output::stdout();
    write!(out, "\nApply these changes? Only `yes` is accepted: ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn state(cli: &Cli, command: &StateCommand) -> anyhow::Result<ExitCode> {
    // State commands work without loading definitions, so that a broken project can be repaired.
    let config = ProjectConfig::load(&cli.directory, cli.environment.as_deref())?;
    let store = config.open_state_store()?;
    let store = store.as_ref();
    let mut out = crate::output::stdout();
    match command {
        StateCommand::List => {
            let state = store.load()?;
            if state.resources().is_empty() {
                writeln!(out, "No managed objects in {}.", store.describe())?;
            }
            for entry in state.resources() {
                writeln!(out, "{}\t{}", entry.id, entry.remote_id)?;
            }
            for pending in state.pending() {
                writeln!(out, "{}\t(create interrupted; key {})", pending.id, pending.adoption_key)?;
            }
        }
        StateCommand::Show { id } => {
            let state = store.load()?;
            let found = find_entry(&state, id)?;
            match state.get(&found) {
                Some(entry) => writeln!(out, "{}", serde_json::to_string_pretty(entry)?)?,
                None => {
                    let pending = state.pending().iter().find(|pending| pending.id == found);
                    writeln!(out, "{}", serde_json::to_string_pretty(&pending)?)?;
                }
            }
        }
        StateCommand::Rm { id, lock } => {
            let _lock = take_lock(store, lock)?;
            let mut state = store.load()?;
            let found = find_entry(&state, id)?;
            state.remove(&found);
            state.remove_pending(&found);
            state.save_to(store)?;
            writeln!(out, "Removed {found} from state; the remote object was not touched and is no longer managed.")?;
        }
        StateCommand::Mv { from, to, lock } => {
            let _lock = take_lock(store, lock)?;
            let mut state = store.load()?;
            let found = find_entry(&state, from)?;
            if state.get(&found).is_none() {
                bail!("`{found}` is a create that was interrupted, not a managed object; nothing to move");
            }
            let target = move_target(&found, to)?;
            if state.get(&target).is_some() {
                bail!("state already has `{target}`; remove it first (mac state rm) if it is stale");
            }
            state.rename(&found, &target);
            state.save_to(store)?;
            writeln!(out, "Moved {found} to {target} in state; the remote object was not touched.")?;
        }
        StateCommand::Pull { out: path } => {
            let state = store.load()?;
            match path {
                Some(path) => {
                    if path.exists() {
                        bail!("{} exists already; pull into a new file", path.display());
                    }
                    FileStateStore::new(path).save(&state)?;
                    writeln!(
                        out,
                        "Wrote the state of {} (lineage {}, serial {}, {} object(s)) to {}.",
                        store.describe(),
                        lineage_text(&state),
                        state.serial,
                        state.resources().len(),
                        path.display()
                    )?;
                }
                None => writeln!(out, "{}", serde_json::to_string_pretty(&state)?)?,
            }
        }
        StateCommand::Push { file, lock } => {
            let mut pushed = FileStateStore::new(file).load()?;
            if pushed.lineage.is_empty() {
                bail!("{} holds no state (nothing was ever written to it); there is nothing to push", file.display());
            }
            let _lock = take_lock(store, lock)?;
            let current = store.load()?;
            if !current.lineage.is_empty() && current.lineage != pushed.lineage {
                bail!(
                    "{} holds another state (lineage {}) than {} (lineage {}): another project's or environment's; \
                     refusing to replace it",
                    store.describe(),
                    current.lineage,
                    file.display(),
                    pushed.lineage
                );
            }
            if current.serial == pushed.serial && current == pushed {
                writeln!(
                    out,
                    "{} holds this state already (serial {}); nothing to do.",
                    store.describe(),
                    current.serial
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            if !current.lineage.is_empty() && current.serial >= pushed.serial {
                bail!(
                    "{} is at serial {}, {} at serial {}: pushing would move the state backwards and lose what was \
                     applied since; pull it instead (mac state pull -o FILE)",
                    store.describe(),
                    current.serial,
                    file.display(),
                    pushed.serial
                );
            }
            pushed.replace_stored(store, current.serial)?;
            writeln!(
                out,
                "Pushed {} (lineage {}, serial {}, {} object(s)) to {}.",
                file.display(),
                pushed.lineage,
                pushed.serial,
                pushed.resources().len(),
                store.describe()
            )?;
        }
        StateCommand::Unlock { force } => {
            let Some(holder) = store.lock_holder()? else {
                writeln!(out, "{} is not locked; nothing to do.", store.describe())?;
                return Ok(ExitCode::SUCCESS);
            };
            writeln!(
                out,
                "{} is locked by {holder}.\n\
                 Breaking the lock lets another run start while that one may still be writing: its saves of \
                 state fail from then on, so what it changes on the servers afterwards is not recorded (the next \
                 plan shows it, to adopt or undo). Do it only when that run is gone or hung.",
                store.describe()
            )?;
            if !force && !confirm_unlock(holder.pid)? {
                writeln!(out, "Unlock cancelled; the lock is still held.")?;
                return Ok(ExitCode::FAILURE);
            }
            match store.force_unlock(&holder) {
                Ok(Some(broken)) => writeln!(out, "Broke the lock of {broken}.")?,
                Ok(None) => writeln!(out, "The lock was released meanwhile; nothing was broken.")?,
                Err(StateError::Unsupported { .. }) => bail!(
                    "a file lock is held by a running process and released by the operating system when it exits: \
                     stop pid {} on {} instead",
                    holder.pid,
                    holder.owner
                ),
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn lineage_text(state: &State) -> &str {
    if state.lineage.is_empty() { "(none yet)" } else { &state.lineage }
}

/// Asks for the holder's pid on the terminal; refuses when there is none.
fn confirm_unlock(pid: u32) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to break the lock without confirmation: standard input is not a terminal; pass --force");
    }
    let mut out = crate::output::stdout();
    write!(out, "\nType the holder's pid ({pid}) to break its lock: ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == pid.to_string())
}

/// Where `mac state mv` moves `from`: `kind.id` in its instance, or `instance/kind.id`; a
/// move keeps the instance and kind.
fn move_target(from: &ObjectId, text: &str) -> anyhow::Result<ObjectId> {
    let (instance, short) = match text.split_once('/') {
        Some((instance, short)) => (instance, short),
        None => (from.provider.as_str(), text),
    };
    let Some(reference) = mac_core::LocalRef::parse(short) else {
        bail!("`{text}` is not of the form KIND.ID or INSTANCE/KIND.ID");
    };
    let target = ObjectId::new(instance, &reference.kind, &reference.local_id);
    if target.provider != from.provider || target.kind != from.kind {
        bail!("a move keeps the provider instance and kind: `{from}` cannot become `{target}`");
    }
    if &target == from {
        bail!("`{from}` and `{target}` are the same object");
    }
    Ok(target)
}

/// Finds a state entry by `kind.id` or `instance/kind.id`.
fn find_entry(state: &State, text: &str) -> anyhow::Result<ObjectId> {
    let (instance, short) = match text.split_once('/') {
        Some((instance, short)) => (Some(instance), short),
        None => (None, text),
    };
    let Some(reference) = mac_core::LocalRef::parse(short) else {
        bail!("`{text}` is not of the form KIND.ID or INSTANCE/KIND.ID");
    };
    let matches: BTreeSet<&ObjectId> = state
        .resources()
        .iter()
        .map(|entry| &entry.id)
        .chain(state.pending().iter().map(|pending| &pending.id))
        .filter(|id| id.kind == reference.kind && id.local_id == reference.local_id)
        .filter(|id| instance.is_none_or(|instance| id.provider == instance))
        .collect();
    match matches.into_iter().collect::<Vec<_>>().as_slice() {
        [] => bail!("no state entry matches `{text}` (see `mac state list`)"),
        [one] => Ok((*one).clone()),
        several => bail!(
            "`{text}` matches several entries ({}); name the instance, e.g. {}",
            several.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            several[0]
        ),
    }
}
