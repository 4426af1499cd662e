//! Where `cargo xtask reliability` and `cargo xtask bench` keep the state of the projects they
//! run `mac` on: `--state file` (mac's default, `.mac/state.json` in the project) or
//! `--state postgres`, a throwaway PostgreSQL server ([`PostgresServer`] of mac-test-tools)
//! started for the run, in which each project gets a database of its own, so that no two
//! trials or bench runs share state.

use std::hash::BuildHasher;
use std::path::Path;
use std::process::Command;

use mac_test_tools::{PostgresOptions, PostgresServer};

/// The variable mac reads the state URL from (`url = { env = "MAC_STATE_URL" }`).
pub(crate) const STATE_URL_VARIABLE: &str = "MAC_STATE_URL";

/// The variable naming the file the PostgreSQL store appends one JSON line per save to.
pub(crate) const STATE_STATS_VARIABLE: &str = "MAC_STATE_STATS";

/// The role mac logs in as: the owner of every project database, not a superuser, as a
/// team would set it up.
const STATE_ROLE: &str = "mac";

/// Which store a run keeps the state in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateBackend {
    File,
    Postgres,
}

impl StateBackend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StateBackend::File => "file",
            StateBackend::Postgres => "postgres",
        }
    }

    /// `file` or `postgres`; `both` only where the caller allows it (the bench).
    pub(crate) fn parse_list(value: &str, both_allowed: bool) -> Result<Vec<StateBackend>, String> {
        match value {
            "file" => Ok(vec![StateBackend::File]),
            "postgres" => Ok(vec![StateBackend::Postgres]),
            "both" if both_allowed => Ok(vec![StateBackend::File, StateBackend::Postgres]),
            other if both_allowed => Err(format!("unknown state backend `{other}` (file, postgres or both)")),
            other => Err(format!("unknown state backend `{other}` (file or postgres)")),
        }
    }
}

/// How much the server does to keep commits across a machine crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// mac-test-tools' test settings, `fsync` and `full_page_writes` off: fast, and enough
    /// for trials that kill `mac`, never the machine.
    Throwaway,
    /// PostgreSQL's own defaults (`fsync`, `full_page_writes` on), so that what the bench
    /// measures is what a real server costs.
    Durable,
}

/// A throwaway PostgreSQL server holding the state of every project of one run, stopped and
/// removed when dropped.
pub(crate) struct PostgresState {
    server: PostgresServer,
    password: String,
}

impl PostgresState {
    /// Starts the server (as the `postgres` user when xtask runs as root, which
    /// PostgreSQL refuses) and creates the role mac logs in as.
    pub(crate) fn start(durability: Durability) -> Result<PostgresState, String> {
        eprintln!("state: starting a throwaway PostgreSQL server ({durability:?})");
        let settings = match durability {
            Durability::Throwaway => Vec::new(),
            // These come after mac-test-tools' own settings, and so override them.
            Durability::Durable => {
                vec![("fsync".to_owned(), "on".to_owned()), ("full_page_writes".to_owned(), "on".to_owned())]
            }
        };
        // PostgresServer is made for tests and panics when it cannot start; here that is an
        // error of the task, so that `cargo xtask ci` still prints its table of phases.
        let started = std::panic::catch_unwind(|| PostgresServer::start_with(PostgresOptions { settings, tls: None }))
            .map_err(|panic| format!("the PostgreSQL server did not start: {}", panic_text(panic.as_ref())))?;
        let server = started.ok_or(
            "PostgreSQL is missing and MAC_TEST_SKIP_MISSING skips what needs it: `cargo xtask setup` installs it",
        )?;
        let password = random_password();
        server.create_role(STATE_ROLE, &password)?;
        Ok(PostgresState { server, password })
    }

    /// The server's version (`SHOW server_version`), for what a report was measured on.
    pub(crate) fn version(&self) -> Result<String, String> {
        self.server.psql("postgres", "SHOW server_version")
    }

    /// A new, empty database for one project, owned by mac's role: the URL mac connects to.
    pub(crate) fn create_database(&self, name: &str) -> Result<String, String> {
        self.server.create_database_owned_by(name, STATE_ROLE)?;
        Ok(self.server.url(STATE_ROLE, &self.password, name))
    }

    /// Drops a project's database, ending any session still in it (a killed `mac`'s server
    /// process may not have noticed yet), so that a long run does not fill the disk.
    pub(crate) fn drop_database(&self, name: &str) -> Result<(), String> {
        self.server.psql("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).map(drop)
    }

    /// How many rows `mac.objects` (one per managed object) holds in a project's database.
    pub(crate) fn object_rows(&self, database: &str) -> Result<usize, String> {
        let count = self.server.psql(database, "SELECT count(*) FROM mac.objects")?;
        count.trim().parse().map_err(|_| format!("`SELECT count(*) FROM mac.objects` answered `{count}`"))
    }
}

/// The `project` line and `[state]` table that put a project's state in PostgreSQL, for the
/// top of its mac.toml (before any other table).
pub(crate) fn postgres_config(project: &str) -> String {
    format!(
        "project = \"{project}\"\n\n[state]\nbackend = \"postgres\"\nurl = {{ env = \"{STATE_URL_VARIABLE}\" }}\n\n"
    )
}

/// Points `mac` at a project's state database, when it has one.
pub(crate) fn set_state_url(command: &mut Command, url: Option<&str>) {
    match url {
        Some(url) => command.env(STATE_URL_VARIABLE, url),
        // The variable overrides mac.toml's `url`: one left in the developer's shell must
        // not reach a run whose state is meant to be elsewhere.
        None => command.env_remove(STATE_URL_VARIABLE),
    };
}

/// One save as the PostgreSQL store reports it in the `MAC_STATE_STATS` file:
/// `{"rows":N,"bytes":B,"ms":T}`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Save {
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) ms: f64,
}

/// The saves in a `MAC_STATE_STATS` file (none when the store wrote none, as the file store
/// does not).
pub(crate) fn read_saves(path: &Path) -> Result<Vec<Save>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    text.lines().filter(|line| !line.trim().is_empty()).map(parse_save).collect()
}

fn parse_save(line: &str) -> Result<Save, String> {
    let field = |name: &str| {
        json_number(line, name).ok_or_else(|| format!("a {STATE_STATS_VARIABLE} line without `{name}`: {line}"))
    };
    Ok(Save { rows: field("rows")? as u64, bytes: field("bytes")? as u64, ms: field("ms")? })
}

/// The number of a top-level `"field":` of a one-line JSON object (xtask has no JSON library).
pub(crate) fn json_number(line: &str, field: &str) -> Option<f64> {
    let start = line.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = &line[start..];
    rest[..rest.find([',', '}'])?].trim().parse().ok()
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<String>(), panic.downcast_ref::<&str>()) {
        (Some(text), _) => text.clone(),
        (None, Some(text)) => (*text).to_owned(),
        (None, None) => "(a panic without a message)".to_owned(),
    }
}

/// A password nobody else on the machine guesses (the server listens on loopback only).
fn random_password() -> String {
    let hash = |salt: u32| std::collections::hash_map::RandomState::new().hash_one((std::process::id(), salt));
    format!("xtask-{:016x}{:016x}", hash(1), hash(2))
}

#[cfg(test)]
mod tests {
    use super::{Save, StateBackend, parse_save};

    #[test]
    fn a_stats_line_gives_rows_bytes_and_milliseconds() {
        assert_eq!(parse_save(r#"{"rows":12,"bytes":3456,"ms":7.5}"#), Ok(Save { rows: 12, bytes: 3456, ms: 7.5 }));
        assert!(parse_save(r#"{"rows":12}"#).is_err_and(|err| err.contains("`bytes`")));
    }

    #[test]
    fn both_is_for_the_bench_only() {
        assert_eq!(StateBackend::parse_list("both", true), Ok(vec![StateBackend::File, StateBackend::Postgres]));
        assert!(StateBackend::parse_list("both", false).is_err());
        assert_eq!(StateBackend::parse_list("postgres", false), Ok(vec![StateBackend::Postgres]));
    }
}
