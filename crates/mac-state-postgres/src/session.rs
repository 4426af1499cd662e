//! One connection to the state's database and the statements the store runs on it: reading
//! and writing the rows of one state, and the advisory lock with its holder record.
//!
//! Everything here is async and runs on the worker thread (see `worker`); the methods return
//! the client's errors, which the worker turns into messages.

use mac_core::state::PendingCreate;
use mac_core::{LockInfo, StateParts};
use tokio_postgres::types::Json;
use tokio_postgres::{Client, IsolationLevel, Statement};

use crate::connect::Target;
use crate::error::PostgresStateError;
use crate::schema::{self, MigrateError, SCHEMA_VERSION, quoted};
use crate::settings::StoreConfig;

/// A failure of one operation on the session.
#[derive(Debug)]
pub(crate) enum SessionError {
    Postgres(tokio_postgres::Error),
    /// A row the client read but cannot use.
    Corrupt(String),
}

impl From<tokio_postgres::Error> for SessionError {
    fn from(error: tokio_postgres::Error) -> SessionError {
        SessionError::Postgres(error)
    }
}

/// What a save writes: the parts of a [`mac_core::State`] and its changes, serialised on the
/// caller's thread (only the changed entries are).
#[derive(Debug, Default)]
pub(crate) struct StateWrite {
    pub lineage: String,
    pub serial: i64,
    /// The serial the stored state must still have.
    pub base_serial: i64,
    /// The pending creates, as a JSON array.
    pub pending: String,
    pub secret_salt: String,
    /// Delete every stored object first (a push).
    pub replace_all: bool,
    pub upserted: ObjectColumns,
    /// Only the key columns are used.
    pub removed: ObjectColumns,
}

/// Rows as columns, to be sent as arrays and turned back into rows by `UNNEST`: a save of
/// ten thousand objects is one statement, not ten thousand.
#[derive(Debug, Default)]
pub(crate) struct ObjectColumns {
    pub providers: Vec<String>,
    pub kinds: Vec<String>,
    pub local_ids: Vec<String>,
    /// Each `StateEntry` as JSON (none for removals).
    pub entries: Vec<String>,
}

impl ObjectColumns {
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Adds the key columns of `id`, and its entry as JSON (none for a removal).
    pub fn push(&mut self, id: &mac_core::ObjectId, entry: Option<String>) {
        self.providers.push(id.provider.clone());
        self.kinds.push(id.kind.clone());
        self.local_ids.push(id.local_id.clone());
        self.entries.extend(entry);
    }
}

/// What one save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SaveCounts {
    /// Rows written: the state's own row, objects inserted or updated, objects deleted.
    pub rows: u64,
    pub upserted: u64,
    pub removed: u64,
    /// Bytes of JSON sent: the entries upserted and the pending creates.
    pub bytes: u64,
    /// Statements sent, `BEGIN` and `COMMIT` included.
    pub statements: u64,
}

#[derive(Debug)]
pub(crate) enum SaveOutcome {
    Saved(SaveCounts),
    /// The stored state is at `found`, not at the base serial: nothing was written.
    Moved {
        found: u64,
    },
}

/// A lock holder's record, and the server session it was written from.
#[derive(Debug, Clone)]
pub(crate) struct HolderRecord {
    pub info: LockInfo,
    pub backend_pid: i32,
}

/// The statements of a session, prepared once per connection.
struct Statements {
    load_header: Statement,
    load_objects: Statement,
    ensure_state: Statement,
    state_id: Statement,
    update_header: Statement,
    current_serial: Statement,
    delete_all_objects: Statement,
    upsert_objects: Statement,
    delete_objects: Statement,
    try_lock: Statement,
    unlock: Statement,
    lock_owner: Statement,
    read_holder: Statement,
    write_holder: Statement,
    delete_own_holder: Statement,
    delete_holder_of: Statement,
    terminate: Statement,
}

impl Statements {
    async fn prepare(client: &Client, schema: &str) -> Result<Statements, tokio_postgres::Error> {
        let s = quoted(schema);
        let sql = |text: &str| text.replace("{s}", &s);
        Ok(Statements {
            load_header: client
                .prepare(&sql(
                    "SELECT id, lineage, serial, pending, secret_salt FROM {s}.states \
                     WHERE project = $1 AND environment = $2",
                ))
                .await?,
            load_objects: client.prepare(&sql("SELECT entry FROM {s}.objects WHERE state_id = $1")).await?,
            ensure_state: client
                .prepare(&sql(
                    "INSERT INTO {s}.states (project, environment, lineage, serial) VALUES ($1, $2, '', 0) \
                     ON CONFLICT (project, environment) DO NOTHING",
                ))
                .await?,
            state_id: client
                .prepare(&sql("SELECT id FROM {s}.states WHERE project = $1 AND environment = $2"))
                .await?,
            update_header: client
                .prepare(&sql(
                    "UPDATE {s}.states SET lineage = $3, serial = $4, pending = $5::text::jsonb, secret_salt = $6, \
                     updated_at = now(), updated_by = $7 \
                     WHERE project = $1 AND environment = $2 AND serial = $8 AND lineage IN ($3, '') RETURNING id",
                ))
                .await?,
            current_serial: client
                .prepare(&sql("SELECT serial FROM {s}.states WHERE project = $1 AND environment = $2"))
                .await?,
            delete_all_objects: client.prepare(&sql("DELETE FROM {s}.objects WHERE state_id = $1")).await?,
            upsert_objects: client
                .prepare(&sql(
                    "INSERT INTO {s}.objects (state_id, provider, kind, local_id, entry) \
                     SELECT $1, provider, kind, local_id, entry::jsonb \
                     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[]) AS changed (provider, kind, local_id, entry) \
                     ON CONFLICT (state_id, provider, kind, local_id) DO UPDATE SET entry = EXCLUDED.entry",
                ))
                .await?,
            delete_objects: client
                .prepare(&sql(
                    "DELETE FROM {s}.objects AS stored \
                     USING UNNEST($2::text[], $3::text[], $4::text[]) AS gone (provider, kind, local_id) \
                     WHERE stored.state_id = $1 AND stored.provider = gone.provider AND stored.kind = gone.kind \
                     AND stored.local_id = gone.local_id",
                ))
                .await?,
            try_lock: client.prepare("SELECT pg_try_advisory_lock($1::bigint)").await?,
            unlock: client.prepare("SELECT pg_advisory_unlock($1::bigint)").await?,
            // A bigint advisory key shows in pg_locks split in two: the high half as classid,
            // the low half as objid, with objsubid 1.
            lock_owner: client
                .prepare(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND classid = (($1::bigint >> 32) & 4294967295)::oid \
                     AND objid = ($1::bigint & 4294967295)::oid",
                )
                .await?,
            read_holder: client
                .prepare(&sql(
                    "SELECT h.owner, h.pid, h.command, \
                     to_char(h.since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), h.backend_pid \
                     FROM {s}.lock_holders h JOIN {s}.states st ON st.id = h.state_id \
                     WHERE st.project = $1 AND st.environment = $2",
                ))
                .await?,
            write_holder: client
                .prepare(&sql(
                    "INSERT INTO {s}.lock_holders (state_id, owner, pid, command, since, backend_pid) \
                     VALUES ($1, $2, $3, $4, $5::text::timestamptz, pg_backend_pid()) \
                     ON CONFLICT (state_id) DO UPDATE SET owner = EXCLUDED.owner, pid = EXCLUDED.pid, \
                     command = EXCLUDED.command, since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid",
                ))
                .await?,
            delete_own_holder: client
                .prepare(&sql("DELETE FROM {s}.lock_holders WHERE state_id = $1 AND backend_pid = pg_backend_pid()"))
                .await?,
            delete_holder_of: client
                .prepare(&sql(
                    "DELETE FROM {s}.lock_holders h USING {s}.states st \
                     WHERE st.id = h.state_id AND st.project = $1 AND st.environment = $2 AND h.backend_pid = $3",
                ))
                .await?,
            terminate: client.prepare("SELECT pg_terminate_backend($1)").await?,
        })
    }
}

/// A connection with the schema at this mac's version and its statements prepared.
pub(crate) struct Session {
    client: Client,
    /// The connection's I/O task; aborted with the session, which closes the connection.
    task: tokio::task::JoinHandle<()>,
    statements: Statements,
    project: String,
    environment: String,
    /// The key of this state's advisory lock.
    lock_key: i64,
    /// The server process of this connection.
    pub backend_pid: i32,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every session's limits. The server's keepalives end the session of a runner that vanished
/// without closing its connection (a preempted machine, a partition) in about 90 s, and with it
/// the state's advisory lock; without them the lock would outlive the runner by the OS's two
/// hours. No statement or lock wait (a row someone holds in psql, the migration lock) may hang
/// a run: mac's largest save, 100,000 rows, takes seconds.
const SESSION_SETTINGS: &str = "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; \
     SET tcp_keepalives_count = 6; SET statement_timeout = '120s'; SET lock_timeout = '60s'";

impl Session {
    /// Connects, creates or upgrades the schema, prepares the statements.
    pub async fn open(target: &Target, config: &StoreConfig, applied_by: &str) -> Result<Session, PostgresStateError> {
        let (mut client, task) = target.connect().await?;
        let query_error = |action: &'static str, err: &tokio_postgres::Error| PostgresStateError::Query {
            action,
            target: target.display.clone(),
            cause: target.redact(crate::error::cause_text(err)),
        };
        client.batch_execute(SESSION_SETTINGS).await.map_err(|err| query_error("set the session's limits", &err))?;
        match schema::migrate(&mut client, &config.schema, SCHEMA_VERSION, applied_by).await {
            Ok(()) => {}
            Err(MigrateError::Newer { found }) => {
                return Err(PostgresStateError::NewerSchema {
                    schema: config.schema.clone(),
                    found,
                    known: SCHEMA_VERSION,
                });
            }
            Err(MigrateError::Postgres(err)) => return Err(query_error("create or upgrade the state schema", &err)),
        }
        let statements = Statements::prepare(&client, &config.schema)
            .await
            .map_err(|err| query_error("prepare the state's statements", &err))?;
        let identity = client
            .query_one("SELECT hashtextextended($1::text, 0), pg_backend_pid()", &[&config.lock_name()])
            .await
            .and_then(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i32>(1)?)))
            .map_err(|err| query_error("find the state's lock", &err))?;
        Ok(Session {
            client,
            task,
            statements,
            project: config.project.clone(),
            environment: config.environment.clone(),
            lock_key: identity.0,
            backend_pid: identity.1,
        })
    }

    /// Whether the connection is known to be gone.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed() || self.task.is_finished()
    }

    /// The state's parts; `None` when no state was written yet. Read in one snapshot, so that
    /// a save committing meanwhile is seen whole or not at all.
    pub async fn load(&mut self) -> Result<Option<StateParts>, SessionError> {
        let transaction = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let Some(header) =
            transaction.query_opt(&self.statements.load_header, &[&self.project, &self.environment]).await?
        else {
            transaction.commit().await?;
            return Ok(None);
        };
        let state_id: i64 = header.try_get(0)?;
        let lineage: String = header.try_get(1)?;
        let serial: i64 = header.try_get(2)?;
        let Json(pending): Json<Vec<PendingCreate>> = header.try_get(3)?;
        let secret_salt: String = header.try_get(4)?;
        let rows = transaction.query(&self.statements.load_objects, &[&state_id]).await?;
        transaction.commit().await?;
        let serial = u64::try_from(serial).map_err(|_| SessionError::Corrupt(format!("a negative serial {serial}")))?;
        let mut resources = Vec::with_capacity(rows.len());
        for row in rows {
            let Json(entry) = row.try_get(0)?;
            resources.push(entry);
        }
        Ok(Some(StateParts { lineage, serial, resources, pending, secret_salt }))
    }

    /// Writes `write` in one transaction, provided the stored serial is still its base;
    /// `written_by` is recorded as the state's last writer.
    pub async fn save(&mut self, write: &StateWrite, written_by: &str) -> Result<SaveOutcome, SessionError> {
        let statements = &self.statements;
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&self.project, &self.environment];
        let transaction = self.client.transaction().await?;
        // BEGIN and COMMIT, and the state's own row.
        let mut counts = SaveCounts { rows: 1, upserted: 0, removed: 0, bytes: 0, statements: 2 };
        if write.base_serial == 0 {
            // The first write of this state: its row may not exist yet (a lock creates it).
            transaction.execute(&statements.ensure_state, &key).await?;
            counts.statements += 1;
        }
        let updated = transaction
            .query_opt(
                &statements.update_header,
                &[
                    &self.project,
                    &self.environment,
                    &write.lineage,
                    &write.serial,
                    &write.pending,
                    &write.secret_salt,
                    &written_by,
                    &write.base_serial,
                ],
            )
            .await?;
        counts.statements += 1;
        counts.bytes += write.pending.len() as u64;
        let Some(updated) = updated else {
            let found = transaction.query_opt(&statements.current_serial, &key).await?;
            let found: i64 = match found {
                Some(row) => row.try_get(0)?,
                None => 0,
            };
            transaction.rollback().await?;
            return Ok(SaveOutcome::Moved { found: u64::try_from(found).unwrap_or(0) });
        };
        let state_id: i64 = updated.try_get(0)?;
        if write.replace_all {
            counts.removed += transaction.execute(&statements.delete_all_objects, &[&state_id]).await?;
            counts.statements += 1;
        }
        if !write.upserted.is_empty() {
            let columns = &write.upserted;
            counts.upserted += transaction
                .execute(
                    &statements.upsert_objects,
                    &[&state_id, &columns.providers, &columns.kinds, &columns.local_ids, &columns.entries],
                )
                .await?;
            counts.bytes += columns.entries.iter().map(|entry| entry.len() as u64).sum::<u64>();
            counts.statements += 1;
        }
        if !write.removed.is_empty() {
            let columns = &write.removed;
            counts.removed += transaction
                .execute(
                    &statements.delete_objects,
                    &[&state_id, &columns.providers, &columns.kinds, &columns.local_ids],
                )
                .await?;
            counts.statements += 1;
        }
        transaction.commit().await?;
        counts.rows += counts.upserted + counts.removed;
        Ok(SaveOutcome::Saved(counts))
    }

    /// The state's row id, creating an empty row (serial 0) when none was written yet: the
    /// lock holder record refers to it.
    pub async fn ensure_state(&self) -> Result<i64, SessionError> {
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&self.project, &self.environment];
        self.client.execute(&self.statements.ensure_state, &key).await?;
        Ok(self.client.query_one(&self.statements.state_id, &key).await?.try_get(0)?)
    }

    /// Takes the state's advisory lock if it is free (session-level: it lasts until released
    /// or until this connection ends, however it ends).
    pub async fn try_lock(&self) -> Result<bool, SessionError> {
        Ok(self.client.query_one(&self.statements.try_lock, &[&self.lock_key]).await?.try_get(0)?)
    }

    pub async fn unlock(&self) -> Result<(), SessionError> {
        self.client.query_one(&self.statements.unlock, &[&self.lock_key]).await?;
        Ok(())
    }

    /// The server process holding the state's advisory lock, if any.
    pub async fn lock_owner(&self) -> Result<Option<i32>, SessionError> {
        match self.client.query_opt(&self.statements.lock_owner, &[&self.lock_key]).await? {
            Some(row) => Ok(Some(row.try_get(0)?)),
            None => Ok(None),
        }
    }

    /// The holder record of this state, whoever wrote it.
    pub async fn holder_record(&self) -> Result<Option<HolderRecord>, SessionError> {
        let Some(row) =
            self.client.query_opt(&self.statements.read_holder, &[&self.project, &self.environment]).await?
        else {
            return Ok(None);
        };
        let pid: i64 = row.try_get(1)?;
        Ok(Some(HolderRecord {
            info: LockInfo {
                owner: row.try_get(0)?,
                pid: u32::try_from(pid).unwrap_or(0),
                since: row.try_get(3)?,
                command: row.try_get(2)?,
            },
            backend_pid: row.try_get(4)?,
        }))
    }

    /// Who holds the lock now: the holder record when it was written by the session holding
    /// the lock, else a description of that session. `None` when the lock is free.
    pub async fn current_holder(&self) -> Result<Option<HolderRecord>, SessionError> {
        let Some(owner) = self.lock_owner().await? else { return Ok(None) };
        let record = self.holder_record().await?.filter(|record| record.backend_pid == owner);
        Ok(Some(record.unwrap_or_else(|| HolderRecord {
            info: LockInfo {
                owner: format!("a PostgreSQL session (server pid {owner}) that left no holder record"),
                pid: 0,
                since: "an unknown time".to_owned(),
                command: None,
            },
            backend_pid: owner,
        })))
    }

    pub async fn write_holder(&self, state_id: i64, info: &LockInfo) -> Result<(), SessionError> {
        let pid = i64::from(info.pid);
        self.client
            .execute(&self.statements.write_holder, &[&state_id, &info.owner, &pid, &info.command, &info.since])
            .await?;
        Ok(())
    }

    pub async fn delete_own_holder(&self, state_id: i64) -> Result<(), SessionError> {
        self.client.execute(&self.statements.delete_own_holder, &[&state_id]).await?;
        Ok(())
    }

    /// Deletes the holder record written by server process `backend_pid`.
    pub async fn delete_holder_of(&self, backend_pid: i32) -> Result<(), SessionError> {
        self.client
            .execute(&self.statements.delete_holder_of, &[&self.project, &self.environment, &backend_pid])
            .await?;
        Ok(())
    }

    /// Ends server process `backend_pid` (and so its session and its locks).
    pub async fn terminate(&self, backend_pid: i32) -> Result<bool, SessionError> {
        Ok(self.client.query_one(&self.statements.terminate, &[&backend_pid]).await?.try_get(0)?)
    }
}
