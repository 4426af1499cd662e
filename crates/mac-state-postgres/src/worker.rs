//! The thread that owns the connection.
//!
//! [`mac_core::StateStore`] is synchronous, and the CLI calls it from inside its own tokio
//! runtime, where blocking on a future (`block_on`) panics. So the client runs on a thread of
//! its own with a current-thread runtime: the store sends a [`Request`] over a channel and
//! waits for the answer on a std channel. The thread keeps one connection, opened on the
//! first request, and serves requests one at a time, in order; it ends when the store and
//! every lock taken through it are dropped, which closes the connection.

use std::io::Write as _;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use mac_core::{LockInfo, State, StateError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::connect::Target;
use crate::error::{PostgresStateError, cause_text, is_connection_lost};
use crate::session::{SaveCounts, SaveOutcome, Session, SessionError, StateWrite};
use crate::settings::StoreConfig;
use crate::stats::{SaveRecord, SaveStats};

/// How often a waiting `lock` asks again.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// How long `force_unlock` waits for the ended session's lock to go.
const TERMINATE_WAIT: Duration = Duration::from_secs(5);

/// Where an answer goes.
pub(crate) type Reply<T> = mpsc::Sender<Result<T, StateError>>;

/// What the store asks of the worker.
pub(crate) enum Request {
    Load { reply: Reply<State> },
    Save { write: Box<StateWrite>, reply: Reply<SaveRecord> },
    Lock { timeout: Duration, holder: LockInfo, reply: Reply<Option<LockInfo>> },
    Unlock { reply: Reply<()> },
    LockHolder { reply: Reply<Option<LockInfo>> },
    ForceUnlock { expected: LockInfo, reply: Reply<Option<LockInfo>> },
}

/// The store's end of the channel.
#[derive(Debug, Clone)]
pub(crate) struct WorkerHandle {
    sender: UnboundedSender<Request>,
}

impl WorkerHandle {
    /// Starts the thread. Nothing connects until the first request.
    pub fn spawn(
        config: Arc<StoreConfig>,
        target: Arc<Target>,
        description: String,
        stats: Arc<Mutex<SaveStats>>,
    ) -> Result<WorkerHandle, PostgresStateError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| PostgresStateError::Worker { reason: format!("cannot start its runtime: {err}") })?;
        let (sender, requests) = tokio::sync::mpsc::unbounded_channel();
        let writer = LockInfo::current();
        let worker = Worker {
            config,
            target,
            description,
            stats,
            applied_by: writer.owner.clone(),
            written_by: format!("{} (pid {})", writer.owner, writer.pid),
            session: None,
            lock: LockStatus::Free,
        };
        std::thread::Builder::new()
            .name("mac-state-postgres".to_owned())
            .spawn(move || worker.run(runtime, requests))
            .map_err(|err| PostgresStateError::Worker { reason: format!("cannot start its thread: {err}") })?;
        Ok(WorkerHandle { sender })
    }

    /// Sends the request `make` builds around a reply channel and waits for the answer.
    pub fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, StateError> {
        let (reply, answer) = mpsc::channel();
        self.sender.send(make(reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// As [`Self::call`], giving up after `wait` (for drops, which must not hang).
    pub fn call_within<T>(&self, wait: Duration, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, StateError> {
        let (reply, answer) = mpsc::channel();
        self.sender.send(make(reply)).map_err(|_| gone())?;
        answer.recv_timeout(wait).map_err(|_| gone())?
    }
}

fn gone() -> StateError {
    PostgresStateError::Worker { reason: "stopped answering (its thread ended)".to_owned() }.into()
}

/// Whether this store's session holds the state lock.
enum LockStatus {
    Free,
    Held {
        state_id: i64,
    },
    /// The session holding the lock ended: every request but `Unlock` fails until the lock
    /// is dropped, so that nothing is written without the lock.
    Lost {
        cause: String,
    },
}

struct Worker {
    config: Arc<StoreConfig>,
    target: Arc<Target>,
    /// The store's description, for `Locked` and `Moved`.
    description: String,
    stats: Arc<Mutex<SaveStats>>,
    /// `user@host`, recorded with each migration.
    applied_by: String,
    /// `user@host (pid N)`, recorded as a state's last writer.
    written_by: String,
    session: Option<Session>,
    lock: LockStatus,
}

impl Worker {
    fn run(mut self, runtime: tokio::runtime::Runtime, mut requests: UnboundedReceiver<Request>) {
        runtime.block_on(async {
            while let Some(request) = requests.recv().await {
                self.handle(request).await;
            }
        });
        // Dropping the session and then the runtime closes the connection, and with it any
        // advisory lock still held.
    }

    async fn handle(&mut self, request: Request) {
        // A caller that stopped waiting (a drop that timed out) is no reason to stop.
        match request {
            Request::Load { reply } => drop(reply.send(self.load().await)),
            Request::Save { write, reply } => drop(reply.send(self.save(&write).await)),
            Request::Lock { timeout, holder, reply } => drop(reply.send(self.lock(timeout, holder).await)),
            Request::Unlock { reply } => {
                self.unlock().await;
                drop(reply.send(Ok(())));
            }
            Request::LockHolder { reply } => drop(reply.send(self.lock_holder().await)),
            Request::ForceUnlock { expected, reply } => drop(reply.send(self.force_unlock(&expected).await)),
        }
    }

    /// The session, connected on first use; an error when the session that held the lock
    /// was lost.
    async fn session(&mut self) -> Result<&mut Session, PostgresStateError> {
        // Let the connection's task read what the server sent since the last request (a
        // termination notice), so that a connection already gone is seen before it is used.
        tokio::task::yield_now().await;
        if self.session.as_ref().is_some_and(Session::is_closed) {
            self.session = None;
            if let LockStatus::Held { .. } = self.lock {
                self.lock = LockStatus::Lost { cause: "the server closed the connection".to_owned() };
            }
        }
        if let LockStatus::Lost { cause } = &self.lock {
            return Err(PostgresStateError::LockLost { target: self.target.display.clone(), cause: cause.clone() });
        }
        if self.session.is_none() {
            self.session = Some(Session::open(&self.target, &self.config, &self.applied_by).await?);
        }
        match self.session.as_mut() {
            Some(session) => Ok(session),
            None => Err(PostgresStateError::Worker { reason: "lost its session".to_owned() }),
        }
    }

    /// The error for a failed `action`. A lost connection drops the session (the next request
    /// connects anew), unless it held the lock: that is reported, and kept until unlocked.
    fn failed(&mut self, action: &'static str, error: SessionError) -> PostgresStateError {
        let target = self.target.display.clone();
        let error = match error {
            SessionError::Corrupt(reason) => return PostgresStateError::Corrupt { target, reason },
            SessionError::Postgres(error) => error,
        };
        let cause = self.target.redact(cause_text(&error));
        let lost = is_connection_lost(&error) || self.session.as_ref().is_some_and(Session::is_closed);
        if !lost {
            return PostgresStateError::Query { action, target, cause };
        }
        self.session = None;
        if let LockStatus::Held { .. } = self.lock {
            self.lock = LockStatus::Lost { cause: cause.clone() };
            return PostgresStateError::LockLost { target, cause };
        }
        PostgresStateError::Query { action, target, cause }
    }

    /// Whether a failed read may be tried once more on a new connection: only when the
    /// connection was lost and held no lock.
    fn may_retry(&self, attempt: u32) -> bool {
        attempt == 0 && self.session.is_none() && matches!(self.lock, LockStatus::Free)
    }

    async fn load(&mut self) -> Result<State, StateError> {
        let mut attempt = 0;
        loop {
            let result = self.session().await?.load().await;
            match result {
                Ok(parts) => return Ok(parts.map(State::from_parts).unwrap_or_else(State::empty)),
                Err(error) => {
                    let error = self.failed("read the state", error);
                    if !self.may_retry(attempt) {
                        return Err(error.into());
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Never retried: a save is one transaction, and whether a commit whose answer was lost
    /// went through is unknown (the serial check would refuse a second one anyway).
    async fn save(&mut self, write: &StateWrite) -> Result<SaveRecord, StateError> {
        let started = Instant::now();
        let written_by = self.written_by.clone();
        let result = self.session().await?.save(write, &written_by).await;
        match result {
            Ok(SaveOutcome::Saved(counts)) => Ok(self.record(counts, started.elapsed())),
            Ok(SaveOutcome::Moved { found }) => Err(StateError::Moved {
                store: self.description.clone(),
                expected: u64::try_from(write.base_serial).unwrap_or(0),
                found,
            }),
            Err(error) => Err(self.failed("save the state", error).into()),
        }
    }

    /// Adds a save to the figures: the store's counters, a debug log line and, when asked
    /// for, a line of the stats file.
    fn record(&self, counts: SaveCounts, elapsed: Duration) -> SaveRecord {
        let record = SaveRecord {
            rows: counts.rows,
            upserted: counts.upserted,
            removed: counts.removed,
            bytes: counts.bytes,
            statements: counts.statements,
            elapsed,
        };
        if let Ok(mut stats) = self.stats.lock() {
            stats.add(record);
        }
        tracing::debug!(
            target: "mac::state",
            "saved {}: {} row(s) ({} upserted, {} removed), {} bytes of JSON, {} statement(s), {} ms",
            self.description,
            record.rows,
            record.upserted,
            record.removed,
            record.bytes,
            record.statements,
            elapsed.as_millis()
        );
        if let Some(path) = &self.config.stats_file {
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| writeln!(file, "{}", record.json_line()));
            if let Err(err) = appended {
                tracing::warn!(target: "mac::state", "cannot append save figures to {}: {err}", path.display());
            }
        }
        record
    }

    async fn lock(&mut self, timeout: Duration, holder: LockInfo) -> Result<Option<LockInfo>, StateError> {
        let started = Instant::now();
        if let LockStatus::Held { .. } = self.lock {
            // This store holds it already; a second holder in the same process waits like
            // any other, rather than stacking onto the same session's lock.
            tokio::time::sleep(timeout).await;
            let current = self.session().await?.current_holder().await;
            let holder = match current {
                Ok(Some(record)) => record.info,
                Ok(None) | Err(_) => holder,
            };
            return Err(StateError::Locked {
                path: self.description.clone().into(),
                holder,
                waited: started.elapsed(),
            });
        }
        let mut attempt = 0;
        let state_id = loop {
            let result = self.session().await?.ensure_state().await;
            match result {
                Ok(state_id) => break state_id,
                Err(error) => {
                    let error = self.failed("lock the state", error);
                    if !self.may_retry(attempt) {
                        return Err(error.into());
                    }
                    attempt += 1;
                }
            }
        };
        loop {
            let session = self.session().await?;
            match session.try_lock().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => return Err(self.failed("lock the state", error).into()),
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let current = match session.current_holder().await {
                    Ok(current) => current,
                    Err(error) => return Err(self.failed("read the state's lock holder", error).into()),
                };
                let holder = match current {
                    Some(record) => record.info,
                    // Released in between: the next attempt will take it.
                    None => LockInfo {
                        owner: "another process, which released it just now".to_owned(),
                        pid: 0,
                        since: "a moment ago".to_owned(),
                        command: None,
                    },
                };
                return Err(StateError::Locked { path: self.description.clone().into(), holder, waited });
            }
            tokio::time::sleep(LOCK_POLL.min(timeout - waited)).await;
        }
        self.lock = LockStatus::Held { state_id };
        let session = self.session().await?;
        match record_holder(session, state_id, &holder).await {
            Ok(previous) => Ok(previous),
            Err(error) => {
                let error = self.failed("record the state's lock holder", error);
                self.unlock().await;
                Err(error.into())
            }
        }
    }

    /// Releases the lock: deletes this holder's record and the advisory lock. A lock whose
    /// session is gone needs nothing more: it went with the session.
    async fn unlock(&mut self) {
        let status = std::mem::replace(&mut self.lock, LockStatus::Free);
        let LockStatus::Held { state_id } = status else { return };
        let Some(session) = self.session.as_ref().filter(|session| !session.is_closed()) else { return };
        let released = match session.delete_own_holder(state_id).await {
            Ok(()) => session.unlock().await,
            Err(error) => Err(error),
        };
        if let Err(error) = released {
            // The connection is the lock: closing it releases it for sure.
            let error = self.failed("release the state lock", error);
            tracing::warn!(target: "mac::state", "{error}; closing the connection instead");
            self.session = None;
        }
    }

    async fn lock_holder(&mut self) -> Result<Option<LockInfo>, StateError> {
        let mut attempt = 0;
        loop {
            let result = self.session().await?.current_holder().await;
            match result {
                Ok(holder) => return Ok(holder.map(|record| record.info)),
                Err(error) => {
                    let error = self.failed("read the state's lock holder", error);
                    if !self.may_retry(attempt) {
                        return Err(error.into());
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Ends the session holding the lock (`pg_terminate_backend`): its lock goes with it, and
    /// its later saves fail. Then removes its holder record.
    async fn force_unlock(&mut self, expected: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        let session = self.session().await?;
        let own_pid = session.backend_pid;
        let holder = match session.current_holder().await {
            Ok(holder) => holder,
            Err(error) => return Err(self.failed("read the state's lock holder", error).into()),
        };
        let Some(holder) = holder else { return Ok(None) };
        if holder.info != *expected {
            // The run the user confirmed ended and another took the lock: never end that one.
            return Err(StateError::Backend {
                message: format!(
                    "the state's lock changed hands after it was shown: it is now held by {}; nothing was broken \
                     (run `mac state unlock` again to see who holds it)",
                    holder.info
                ),
                source: None,
            });
        }
        if holder.backend_pid == own_pid {
            // This store's own lock: release it rather than end its own session.
            self.unlock().await;
            return Ok(Some(holder.info));
        }
        let ended = match session.terminate(holder.backend_pid).await {
            Ok(ended) => ended,
            Err(error) => return Err(self.failed("end the session holding the state lock", error).into()),
        };
        if ended {
            // pg_terminate_backend only signals; the lock goes when the process has exited.
            let started = Instant::now();
            while started.elapsed() < TERMINATE_WAIT {
                match session.lock_owner().await {
                    Ok(Some(owner)) if owner == holder.backend_pid => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(_) => break,
                    Err(error) => return Err(self.failed("read the state's lock holder", error).into()),
                }
            }
        }
        let session = self.session().await?;
        if let Err(error) = session.delete_holder_of(holder.backend_pid).await {
            return Err(self.failed("remove the broken lock's holder record", error).into());
        }
        Ok(Some(holder.info))
    }
}

/// Just after taking the lock: a holder record still there was left by a holder that died
/// without releasing (its lock went with its connection); this one's replaces it.
async fn record_holder(session: &Session, state_id: i64, holder: &LockInfo) -> Result<Option<LockInfo>, SessionError> {
    let previous = session.holder_record().await?;
    session.write_holder(state_id, holder).await?;
    Ok(previous.map(|record| record.info))
}
