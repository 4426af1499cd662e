//! The state lock: contention names the holder, a killed holder's lock is free at once, a
//! forced unlock ends the holder's session, a lost session fails the next save.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mac_core::{LockInfo, StateError, StateStore};
use mac_test_tools::PostgresServer;

use crate::{TestDatabase, assert_no_canary, chain, entry, prepared};

#[test]
fn a_contended_lock_waits_then_names_the_holder_and_its_command() {
    let Some(db) = TestDatabase::shared("contention") else { return };
    let (first, second) = (db.store("payments", None), db.store("payments", None));
    assert_eq!(second.lock_holder().expect("no holder"), None);
    let held = first.lock(Duration::ZERO).expect("the first lock");
    assert!(held.previous_holder().is_none(), "a fresh state had no holder before");

    let holder = second.lock_holder().expect("a holder").expect("the first store holds it");
    assert_eq!(holder.pid, std::process::id());
    let program = std::env::current_exe().expect("the test binary");
    let program_name = program.file_name().expect("a file name").to_string_lossy().into_owned();
    assert!(holder.command.as_deref().is_some_and(|command| command.starts_with(&program_name)), "{holder:?}");

    let started = Instant::now();
    let err = second.lock(Duration::from_millis(400)).expect_err("contended");
    assert!(started.elapsed() >= Duration::from_millis(400), "gave up after {:?}", started.elapsed());
    let StateError::Locked { holder: reported, waited, .. } = &err else { panic!("unexpected error: {err}") };
    assert_eq!(reported, &holder);
    assert!(*waited >= Duration::from_millis(400), "{waited:?}");
    let text = err.to_string();
    assert!(text.starts_with("state PostgreSQL state payments (schema mac, postgres://"), "{text}");
    assert!(text.contains(&format!("is locked by {holder}; waited 0s")), "{text}");
    assert!(text.contains(&format!("`{program_name}")), "the holder's command: {text}");

    let again = first.lock(Duration::from_millis(100)).expect_err("the same store cannot stack a second lock");
    assert!(matches!(again, StateError::Locked { .. }), "{again}");

    drop(held);
    assert_eq!(second.lock_holder().expect("released"), None);
    let taken = second.lock(Duration::ZERO).expect("free after the release");
    assert!(taken.previous_holder().is_none(), "a clean release leaves no holder record");
    assert_eq!(db.psql("SELECT count(*) FROM mac.lock_holders"), "1");
    drop(taken);
    assert_eq!(db.psql("SELECT count(*) FROM mac.lock_holders"), "0");
}

/// Set in the child process of the test below: the URL to lock through.
const HOLDER_URL: &str = "MAC_PG_TEST_HOLDER_URL";

#[test]
fn a_lock_held_by_a_killed_process_is_free_at_once_and_reported() {
    if let Ok(url) = std::env::var(HOLDER_URL) {
        hold_the_lock_until_killed(&url);
    }
    let Some(db) = TestDatabase::shared("killed_holder") else { return };
    let test_name = "locking::a_lock_held_by_a_killed_process_is_free_at_once_and_reported";
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
            .env(HOLDER_URL, db.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the holder process"),
    );
    let child = &mut child.0;
    let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
    // The harness prints `test NAME ... ` before the test's own output, on the same line.
    let locked = lines.by_ref().map_while(Result::ok).any(|line| line.ends_with("LOCKED"));
    assert!(locked, "the holder process did not take the lock");

    let store = db.store("payments", None);
    let holder = store.lock_holder().expect("a holder").expect("the child holds it");
    assert_eq!(holder.pid, child.id());
    let err = store.lock(Duration::from_millis(200)).expect_err("held by the child");
    assert!(err.to_string().contains(&format!("pid {}", child.id())), "{err}");

    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let started = Instant::now();
    let lock = store.lock(Duration::from_secs(5)).expect("free once its holder died");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(lock.previous_holder(), Some(&holder), "the dead holder is reported");
}

/// A child process killed when the test ends, failed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's part: lock, say so, and wait to be killed (bounded, should the parent die).
fn hold_the_lock_until_killed(url: &str) -> ! {
    let root = tempfile::tempdir().expect("a root");
    let settings = crate::settings(Some("payments"), None, serde_json::json!({}), root.path());
    let store = mac_state_postgres::PostgresStateStore::open_with(&settings, crate::overrides(url)).expect("settings");
    let _lock = store.lock(Duration::from_secs(10)).expect("the child's lock");
    println!("LOCKED");
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(3);
}

#[test]
fn a_forced_unlock_ends_the_holders_session_and_its_next_save_fails() {
    let Some(db) = TestDatabase::shared("force_unlock") else { return };
    let (hung, breaker) = (db.store("payments", None), db.store("payments", None));
    let mut state = hung.load().expect("empty");
    let held = hung.lock(Duration::ZERO).expect("locked");
    let holder = breaker.lock_holder().expect("a holder").expect("held");

    // A holder other than the one shown (the confirmed run ended, another took the lock) is
    // never broken.
    let someone_else = LockInfo { pid: holder.pid + 1, ..holder.clone() };
    let refused = breaker.force_unlock(&someone_else).expect_err("the lock changed hands");
    assert!(refused.to_string().contains("changed hands after it was shown"), "{refused}");
    assert_eq!(breaker.lock_holder().expect("still held").as_ref(), Some(&holder), "nothing was broken");

    let broken = breaker.force_unlock(&holder).expect("broken").expect("there was a holder");
    assert_eq!(broken, holder);
    assert_eq!(breaker.lock_holder().expect("free"), None);
    let taken = breaker.lock(Duration::from_secs(1)).expect("free after the break");
    assert!(taken.previous_holder().is_none(), "the broken holder's record was removed");

    state.upsert(entry("late"));
    let err = state.save_to(&hung).expect_err("the broken holder cannot save");
    let text = chain(&err);
    assert!(
        text.starts_with(&format!(
            "lost the connection to the PostgreSQL state at {} while this run held the state lock (",
            db.display_url()
        )),
        "{text}"
    );
    assert!(text.contains("this run writes no more state"), "{text}");
    assert_no_canary(&text);
    let again = state.save_to(&hung).expect_err("nor on a second try: it would reconnect without the lock");
    assert!(chain(&again).contains("while this run held the state lock"), "{again}");
    drop(held);
    drop(taken);
    assert!(hung.load().expect("a load reconnects once the lock is dropped").resources().is_empty());
    assert_eq!(breaker.force_unlock(&holder).expect("nothing to break"), None);
}

#[test]
fn a_server_restart_while_locked_fails_the_save_clearly_and_a_plain_load_reconnects() {
    let Some(server) = PostgresServer::start() else { return };
    let db = TestDatabase::on(Arc::new(prepared(server)), "restarted");
    let store = db.store("payments", None);
    let mut state = store.load().expect("empty");
    let lock = store.lock(Duration::ZERO).expect("locked");
    db.server.kill_immediately();
    db.server.start_again();
    state.upsert(entry("a"));
    let err = state.save_to(&store).expect_err("the lock went with the server");
    let text = chain(&err);
    assert!(text.starts_with("lost the connection to the PostgreSQL state at"), "{text}");
    drop(lock);

    state.save_to(&store).expect("without a lock, a new connection is made");
    assert_eq!(store.load().expect("loaded").resources().len(), 1);
    db.server.stop();
    db.server.start_again();
    assert_eq!(store.load().expect("a load after a restart reconnects once").resources().len(), 1);
}
