//! The tables, created on first use and upgraded by numbered migrations.
//!
//! `<schema>.schema_migrations` records each version applied. A connection reads the highest
//! version first, without a lock (the common case: nothing to do); when the schema is missing
//! or older, the migrations run in one transaction under a transaction-level advisory lock, so
//! that two runners starting at once against a new database do not race, and the version is
//! read again under the lock. A version above [`SCHEMA_VERSION`] is refused before anything
//! is written: an older mac must not write state in a layout it does not know.

use tokio_postgres::Client;

/// A step of the schema, applied once per database.
struct Migration {
    version: i32,
    /// SQL run as one batch; `{schema}` stands for the quoted schema name.
    sql: &'static str,
}

/// Every version, in order. A new version is a new entry: applied migrations are never edited,
/// since databases out there already ran them.
const MIGRATIONS: &[Migration] = &[
    // The state: one `states` row per project and environment (`""` for the default one)
    // with the header of the state, and one `objects` row per managed object, its
    // `StateEntry` as JSON, so that a save writes only the objects that changed.
    Migration {
        version: 1,
        sql: "
            CREATE TABLE {schema}.states (
                id bigserial PRIMARY KEY,
                project text NOT NULL,
                environment text NOT NULL,
                lineage text NOT NULL,
                serial bigint NOT NULL,
                pending jsonb NOT NULL DEFAULT '[]',
                secret_salt text NOT NULL DEFAULT '',
                UNIQUE (project, environment)
            );
            CREATE TABLE {schema}.objects (
                state_id bigint NOT NULL REFERENCES {schema}.states ON DELETE CASCADE,
                provider text NOT NULL,
                kind text NOT NULL,
                local_id text NOT NULL,
                entry jsonb NOT NULL,
                PRIMARY KEY (state_id, provider, kind, local_id)
            );
        ",
    },
    // Who holds each state's lock (the advisory lock itself carries no information), and who
    // wrote each state last.
    Migration {
        version: 2,
        sql: "
            CREATE TABLE {schema}.lock_holders (
                state_id bigint PRIMARY KEY REFERENCES {schema}.states ON DELETE CASCADE,
                owner text NOT NULL,
                pid bigint NOT NULL,
                command text,
                since timestamptz NOT NULL,
                backend_pid integer NOT NULL
            );
            ALTER TABLE {schema}.states
                ADD COLUMN updated_at timestamptz,
                ADD COLUMN updated_by text;
        ",
    },
];

/// The newest schema version this mac knows (and creates).
pub const SCHEMA_VERSION: i32 = 2;

const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// Why the schema could not be brought to the version asked for.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// The database is at `found`, above what this mac knows.
    Newer {
        found: i32,
    },
    Postgres(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for MigrateError {
    fn from(error: tokio_postgres::Error) -> MigrateError {
        MigrateError::Postgres(error)
    }
}

/// `"schema"`: the name is checked to be a plain lowercase identifier, quoted all the same.
pub(crate) fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// Brings `schema` to `version` (normally [`SCHEMA_VERSION`]), creating it if need be.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: &str,
    version: i32,
    applied_by: &str,
) -> Result<(), MigrateError> {
    if version > SCHEMA_VERSION {
        return Err(MigrateError::Newer { found: version });
    }
    let current = current_version(client, schema).await?;
    if current > SCHEMA_VERSION {
        return Err(MigrateError::Newer { found: current });
    }
    if current >= version {
        return Ok(());
    }
    let table = format!("{}.schema_migrations", quoted(schema));
    let transaction = client.transaction().await?;
    // Per schema, so that two schemas in one database upgrade independently.
    let lock_name = format!("mac-state-postgres migrations of {schema}");
    transaction.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", &[&lock_name]).await?;
    // CREATE SCHEMA IF NOT EXISTS would still demand the CREATE privilege on the database,
    // which a role given an existing schema need not have.
    let schema_exists: bool =
        transaction.query_one("SELECT to_regnamespace($1::text) IS NOT NULL", &[&quoted(schema)]).await?.try_get(0)?;
    if !schema_exists {
        transaction.batch_execute(&format!("CREATE SCHEMA {}", quoted(schema))).await?;
    }
    transaction
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now(),
                applied_by text NOT NULL
            )"
        ))
        .await?;
    // Another runner may have migrated while this one waited for the lock.
    let current: i32 =
        transaction.query_one(&format!("SELECT coalesce(max(version), 0) FROM {table}"), &[]).await?.try_get(0)?;
    if current > SCHEMA_VERSION {
        return Err(MigrateError::Newer { found: current });
    }
    for migration in MIGRATIONS.iter().filter(|migration| migration.version > current && migration.version <= version) {
        transaction.batch_execute(&migration.sql.replace("{schema}", &quoted(schema))).await?;
        transaction
            .execute(
                &format!("INSERT INTO {table} (version, applied_by) VALUES ($1, $2)"),
                &[&migration.version, &applied_by],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// The highest version applied, 0 when the schema or its migrations table is missing.
async fn current_version(client: &Client, schema: &str) -> Result<i32, tokio_postgres::Error> {
    let table = format!("{}.schema_migrations", quoted(schema));
    let exists: bool = client.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table]).await?.try_get(0)?;
    if !exists {
        return Ok(0);
    }
    client.query_one(&format!("SELECT coalesce(max(version), 0) FROM {table}"), &[]).await?.try_get(0)
}
