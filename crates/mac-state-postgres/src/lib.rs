//! `mac` state in PostgreSQL, shared by a team's runners: `[state] backend = "postgres"`.
//!
//! ```toml
//! project = "payments"          # the state is keyed by project and environment
//!
//! [state]
//! backend = "postgres"
//! url = { env = "MAC_STATE_URL" }   # or { file = "…" }; never the URL itself
//! schema = "mac"                    # the default
//! ca_cert = "certs/db-ca.pem"       # optional: TLS verified by this CA only
//! connect_timeout = "10s"           # the default
//! ```
//!
//! The environment variable `MAC_STATE_URL`, when set, is used instead of `url` (which may then
//! be left out). Without `ca_cert`, the URL's `sslmode` decides (`disable`, `prefer` — the
//! default —, `require`; libpq's `verify-ca` and `verify-full` mean `require`), and a server
//! offering TLS must present a certificate from Mozilla's roots (`webpki-roots`): with TLS,
//! the certificate is always verified. With `ca_cert`, TLS is required and only that CA is
//! trusted. Opening the store is offline; the first call connects.
//!
//! # Schema
//!
//! Tables live in their own schema (`mac` unless `schema` says otherwise), created on first use
//! and upgraded by numbered migrations recorded in `schema_migrations` (see `schema.rs`; a
//! database at a version newer than this mac knows is refused, untouched):
//!
//! - `states`: one row per project and environment (`""` for the default environment): the
//!   lineage, the serial, the pending creates (`jsonb`), the salt of secret digests, and who
//!   wrote it last and when (v2).
//! - `objects`: one row per managed object, keyed by state, provider instance, kind and local
//!   id, its `StateEntry` as `jsonb`.
//! - `lock_holders` (v2): who holds each state's lock: `user@host`, pid, command line, since
//!   when, and the server process of its session.
//!
//! # Rows
//!
//! A load reads the state's row and its objects in one read-only repeatable-read transaction.
//! A save writes, in one transaction, the state's row — only if its serial is still the one
//! this run loaded (else [`mac_core::StateError::Moved`], and nothing is written) — and only
//! the objects changed since the last save ([`mac_core::State::changes`]): upserted with one
//! `INSERT … SELECT … FROM UNNEST(arrays) ON CONFLICT DO UPDATE`, deleted with one `DELETE …
//! USING UNNEST(arrays)`. A save of ten thousand objects is a handful of statements. The
//! figures of each save (rows, bytes of JSON, statements, time) are kept
//! ([`PostgresStateStore::stats`]), logged at debug level, and appended as a JSON line to the
//! file named by `MAC_STATE_STATS` when it is set.
//!
//! # Lock
//!
//! The state lock is a session-level advisory lock keyed by
//! `hashtextextended('schema/project/environment', 0)`, taken with `pg_try_advisory_lock`
//! every 100 ms until the timeout. It lives as long as the connection: a process killed with
//! SIGKILL, or a server restart, never leaves a stale lock. Next to it, a `lock_holders` row
//! names the holder for messages; a row found by the next holder was left by a holder that
//! died, and is reported as [`mac_core::state::StateLock::previous_holder`]. `lock_holder`
//! trusts `pg_locks`, not the row; `force_unlock` ends the holder's session with
//! `pg_terminate_backend` (the same role, a superuser or a member of `pg_signal_backend` may),
//! which releases its lock and makes its later saves fail. A run whose locked connection was
//! lost fails its next save with a clear error rather than reconnecting without the lock;
//! without a lock, a read that finds its connection gone reconnects once.
//!
//! # One thread per store
//!
//! [`mac_core::StateStore`] is synchronous and the CLI calls it from inside its tokio runtime,
//! where blocking on a future is not allowed. Each store therefore runs the async client on a
//! thread of its own, with a current-thread runtime, started on first use: a call sends a
//! request over a channel and waits for the answer on a std channel. The thread owns the one
//! connection used for loads, saves and the lock, serves requests in order, and ends (closing
//! the connection) when the store and its locks are dropped. Dropping a lock waits up to five
//! seconds for the release to be confirmed.

mod connect;
mod error;
mod schema;
mod session;
mod settings;
mod stats;
mod store;
mod worker;

pub use error::PostgresStateError;
pub use schema::SCHEMA_VERSION;
pub use settings::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_SCHEMA, Overrides, STATS_VARIABLE, URL_VARIABLE};
pub use stats::{SaveRecord, SaveStats};
pub use store::PostgresStateStore;

use mac_core::{SettingsError, StateSettings, StateStore};

/// The `open` of the registration.
fn open(settings: &StateSettings) -> Result<Box<dyn StateStore>, SettingsError> {
    Ok(Box::new(PostgresStateStore::open(settings)?))
}

mac_core::inventory::submit! {
    mac_core::StateBackendRegistration {
        name: "postgres",
        description: "state in PostgreSQL, shared by a team's runners (advisory lock per state)",
        open,
    }
}

/// For tests of upgrades: brings `schema` of the database at `url` to `version` exactly as a
/// store would, but no further than `version` (an older mac's schema). Not for use elsewhere.
#[doc(hidden)]
pub fn migrate_to(url: &str, schema: &str, version: i32) -> Result<(), PostgresStateError> {
    settings::check_schema_name(schema)
        .map_err(|reason| PostgresStateError::Url { setting: "the schema given".to_owned(), reason })?;
    let config = settings::StoreConfig {
        project: String::new(),
        environment: String::new(),
        schema: schema.to_owned(),
        url: settings::UrlSource::Variable(mac_core::Secret::new(url)),
        ca_cert: None,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        project_root: std::path::PathBuf::from("."),
        stats_file: None,
    };
    let target = connect::Target::resolve(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| PostgresStateError::Worker { reason: format!("cannot start its runtime: {err}") })?;
    runtime.block_on(async {
        let (mut client, _task) = target.connect().await?;
        schema::migrate(&mut client, schema, version, "mac-state-postgres migrate_to").await.map_err(|err| match err {
            schema::MigrateError::Newer { found } => {
                PostgresStateError::NewerSchema { schema: schema.to_owned(), found, known: SCHEMA_VERSION }
            }
            schema::MigrateError::Postgres(err) => PostgresStateError::Query {
                action: "create or upgrade the state schema",
                target: target.display.clone(),
                cause: target.redact(error::cause_text(&err)),
            },
        })
    })
}
