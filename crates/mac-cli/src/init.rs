//! `mac init`: a new project, from the registered providers' starters; with `--import`, from
//! what a server has.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mac_core::{ProviderRegistration, Registry};

use crate::args::{Cli, Command, ImportArgs, InitArgs, LockArgs};

/// Ignored by git: state (it is the servers' truth, not the code's; share it through a backend)
/// and saved plans (they are bound to one state).
const GITIGNORE: &str = "# mac: state and its lock (share state with [state] backend = \"postgres\"), and saved plans\n\
/.mac/\n\
*.plan\n";

pub(crate) async fn run(cli: &Cli, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let root = match &args.new_directory {
        Some(directory) => cli.directory.join(directory),
        None => cli.directory.clone(),
    };
    let registry = Registry::from_inventory()?;
    let instance = args.import.as_deref();
    let chosen = providers(&registry, &args.providers, instance)?;
    if root.join(mac_core::project::CONFIG_FILE).exists() {
        bail!(
            "{} exists already: {} is a mac project. Nothing was written",
            root.join(mac_core::project::CONFIG_FILE).display(),
            root.display()
        );
    }

    let mut files: Vec<(PathBuf, String)> = vec![
        (PathBuf::from(mac_core::project::CONFIG_FILE), config_text(&chosen, instance)),
        (PathBuf::from(".gitignore"), GITIGNORE.to_owned()),
    ];
    // An import writes the definitions; a first example would only be planned as a create.
    if instance.is_none() {
        for registration in &chosen {
            files.push((
                Path::new("definitions").join(format!("{}.toml", registration.name)),
                definitions_text(registration),
            ));
        }
    }
    std::fs::create_dir_all(root.join("definitions"))
        .with_context(|| format!("cannot create {}", root.join("definitions").display()))?;
    let mut out = crate::output::stdout();
    for (relative, text) in &files {
        let path = root.join(relative);
        // Never overwritten: a .gitignore the repository has is the user's.
        if path.exists() {
            writeln!(out, "kept {} (it exists); mac would have written:\n{}", relative.display(), indent(text))?;
            continue;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "wrote {}", relative.display())?;
    }
    let names: Vec<&str> = chosen.iter().map(|registration| registration.name).collect();
    writeln!(out, "Initialised a mac project in {} for {}.", root.display(), names.join(", "))?;

    let Some(instance) = instance else {
        writeln!(
            out,
            "Next: edit mac.toml's provider settings (credentials come from the environment variables it names), \
             then `mac validate`, `mac plan` and `mac apply`; or `mac import INSTANCE` to start from what a server has."
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let import = Cli {
        directory: root,
        environment: None,
        log_level: cli.log_level.clone(),
        color: cli.color.clone(),
        no_color: cli.no_color,
        command: Command::Import(ImportArgs {
            instance: instance.to_owned(),
            folders: Vec::new(),
            out: None,
            lock: LockArgs { lock_timeout: std::time::Duration::ZERO },
        }),
    };
    let Command::Import(import_args) = &import.command else { unreachable!("built just above") };
    crate::commands::import(&import, import_args).await.context(
        "the project was written, but the import failed: fix the settings in mac.toml, then run `mac import` in it",
    )
}

/// The providers to write settings for: those named, the imported instance's, or every
/// registered one.
fn providers<'r>(
    registry: &'r Registry,
    named: &[String],
    instance: Option<&str>,
) -> anyhow::Result<Vec<&'r ProviderRegistration>> {
    let mut names: Vec<String> = named.to_vec();
    if let Some(instance) = instance {
        let provider = instance.split('.').next().unwrap_or(instance).to_owned();
        if !names.contains(&provider) {
            names.insert(0, provider);
        }
    }
    if names.is_empty() {
        return Ok(registry.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            registry.get(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "no provider `{name}` in this mac (compiled in: {}); `mac providers` lists them",
                    registry.names().join(", ")
                )
            })
        })
        .collect()
}

fn config_text(chosen: &[&ProviderRegistration], instance: Option<&str>) -> String {
    let mut text = String::from(
        "# A mac project: monitoring configuration as code. `mac validate` checks it offline, `mac plan`\n\
         # shows what `mac apply` would change on the servers, and nothing else changes them.\n\
         \n\
         definitions = [\"definitions/\"]           # directories of *.toml definition files, searched recursively\n\
         # project = \"payments\"                   # marks what this project writes, so that projects sharing a\n\
         #                                        # server never take each other's objects\n\
         \n\
         # State records which remote object each definition is: .mac/state.json by default (ignored\n\
         # by git). A team shares it in PostgreSQL instead:\n\
         # [state]\n\
         # backend = \"postgres\"\n\
         # url = { env = \"MAC_STATE_URL\" }\n\
         \n\
         # [safety]\n\
         # max_delete_share = 0.5                 # a plan deleting more than this share needs --allow-mass-delete\n",
    );
    for registration in chosen {
        let table = match instance {
            Some(instance)
                if instance.split('.').next() == Some(registration.name) && instance != registration.name =>
            {
                format!("\"{instance}\"")
            }
            _ => registration.name.to_owned(),
        };
        let mut settings = registration.starter.settings.to_owned();
        if table != registration.name {
            // Environment overrides (MAC_GRAFANA8_URL, …) are the default instance's only.
            settings = format!(
                "# The MAC_… variables below override the default instance `{}` only, not this one.\n{settings}",
                registration.name
            );
        }
        text.push_str(&format!("\n# {}\n[providers.{table}]\n{settings}", registration.description));
    }
    text.push_str(
        "\n# `mac -e staging plan`: the same definitions against other servers, with their own state.\n\
         # [environments.staging]\n\
         # providers.NAME = { url = \"https://staging.example.com\" }\n",
    );
    text
}

fn definitions_text(registration: &ProviderRegistration) -> String {
    registration.starter.definitions.to_owned()
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}
