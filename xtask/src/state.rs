//! Where `cargo xtask reliability` keeps the state of the projects it runs `mac` on:
//! `--state file` (mac's default, `.mac/state.json` in the project) or `--state postgres`, a
//! throwaway PostgreSQL server ([`PostgresServer`] of mac-test-tools) started for the run, in
//! which each project gets a database of its own, so that no two trials share state.

use std::hash::BuildHasher;
use std::process::Command;

use mac_test_tools::PostgresServer;

/// The variable mac reads the state URL from (`url = { env = "MAC_STATE_URL" }`).
pub(crate) const STATE_URL_VARIABLE: &str = "MAC_STATE_URL";

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

/// A throwaway PostgreSQL server holding the state of every project of one run, stopped and
/// removed when dropped.
pub(crate) struct PostgresState {
    server: PostgresServer,
    password: String,
}

impl PostgresState {
    /// Starts the server (as the `postgres` user when xtask runs as root, which
    /// PostgreSQL refuses) and creates the role mac logs in as.
    pub(crate) fn start() -> Result<PostgresState, String> {
        eprintln!("state: starting a throwaway PostgreSQL server");
        // PostgresServer is made for tests and panics when it cannot start; here that is an
        // error of the task, so that `cargo xtask ci` still prints its table of phases.
        let started = std::panic::catch_unwind(PostgresServer::start)
            .map_err(|panic| format!("the PostgreSQL server did not start: {}", panic_text(panic.as_ref())))?;
        let server = started.ok_or(
            "PostgreSQL is missing and MAC_TEST_SKIP_MISSING skips what needs it: `cargo xtask setup` installs it",
        )?;
        let password = random_password();
        server.create_role(STATE_ROLE, &password)?;
        Ok(PostgresState { server, password })
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
    use super::StateBackend;

    #[test]
    fn both_is_for_the_bench_only() {
        assert_eq!(StateBackend::parse_list("both", true), Ok(vec![StateBackend::File, StateBackend::Postgres]));
        assert!(StateBackend::parse_list("both", false).is_err());
        assert_eq!(StateBackend::parse_list("postgres", false), Ok(vec![StateBackend::Postgres]));
    }
}
