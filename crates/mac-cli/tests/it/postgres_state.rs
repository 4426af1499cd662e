//! `mac` with `[state] backend = "postgres"`: a killed apply converges on the next run, a state
//! file is pushed in, the lock and connection errors read well, the password never shows.

use crate::team_state::state_database;
use crate::{Project, TWO_FOLDERS, run};

const RUNNER: &str = "mac_runner";
const CANARY: &str = "canary-pw-93d1b7";

const POSTGRES_TOML: &str = "project = \"payments\"\n\n[state]\nbackend = \"postgres\"\nurl = { env = \"DB_URL\" }\n\n\
                             [providers.testfs]\nfile = \"remote.json\"\n";

#[test]
fn state_in_postgres_survives_a_killed_apply_and_takes_a_pushed_state_file() {
    let Some((server, url)) = state_database(RUNNER, CANARY) else { return };
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", POSTGRES_TOML);

    let (code, stdout, stderr) = run(project.mac().arg("validate").env_remove("DB_URL"));
    assert_eq!((code, stdout.as_str()), (0, "Valid: 4 object(s) for 1 provider instance(s).\n"), "offline: {stderr}");

    let (code, _, _) = run(project
        .mac()
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .env("DB_URL", &url)
        .env("MAC_TESTFS_CRASH_AFTER", "2"));
    assert_ne!(code, 0, "the run was killed after its second write");
    let stats = project.root().join("save-figures.jsonl");
    let (code, stdout, stderr) =
        run(project.mac().args(["apply", "--auto-approve"]).env("DB_URL", &url).env("MAC_STATE_STATS", &stats));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("ended without releasing its lock"), "the killed run is reported: {stderr}");
    let figures = std::fs::read_to_string(&stats).expect("one line of figures per save");
    let written: u64 = figures
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("a JSON line")["rows"].as_u64().expect("rows")
        })
        .sum();
    assert!(written >= 3, "the two objects the killed run missed, and the state's row: {figures}");
    assert_eq!((project.remote_count("folder"), project.remote_count("group")), (2, 2), "no duplicates");
    let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]).env("DB_URL", &url));
    assert_eq!(code, 0, "converged: {stdout}");
    assert!(!project.state_path().exists(), "no state file was written");
    assert_eq!(server.psql("macstate", "SELECT count(*) FROM mac.objects").expect("psql"), "4");

    let (code, stdout, _) = run(project.mac().args(["state", "unlock"]).env("DB_URL", &url));
    assert_eq!(code, 0);
    let port = server.port();
    assert_eq!(
        stdout,
        format!(
            "PostgreSQL state payments (schema mac, postgres://{RUNNER}@127.0.0.1:{port}/macstate) is not locked; \
             nothing to do.\n"
        )
    );

    // MAC_STATE_URL overrides `url`; a refused login names it, and never the password.
    let wrong = server.url(RUNNER, "wrong-canary-pw-93d1b7", "macstate");
    let (code, stdout, stderr) = run(project.mac().arg("plan").env("DB_URL", &url).env("MAC_STATE_URL", &wrong));
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "error: cannot connect to the PostgreSQL state at postgres://{RUNNER}@127.0.0.1:{port}/macstate (from \
             MAC_STATE_URL): password authentication failed for user \"{RUNNER}\"\n"
        )
    );
    assert!(!format!("{stdout}{stderr}").contains("93d1b7"), "the password leaked");

    // A project whose state was a file moves it into PostgreSQL.
    let moved = Project::new(TWO_FOLDERS);
    let (code, _, _) = run(moved.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    moved.write("mac.toml", &POSTGRES_TOML.replace("payments", "checkout"));
    let (code, stdout, stderr) = run(moved.mac().args(["state", "push", ".mac/state.json"]).env("DB_URL", &url));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Pushed .mac/state.json (lineage "), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "4 object(s)) to PostgreSQL state checkout (schema mac, postgres://{RUNNER}@127.0.0.1:{port}/macstate).\n"
        )),
        "{stdout}"
    );
    let (code, stdout, _) = run(moved.mac().args(["plan", "--detailed-exitcode"]).env("DB_URL", &url));
    assert_eq!(code, 0, "the pushed state matches the remote: {stdout}");
    let objects = "SELECT s.project, count(*) FROM mac.objects o JOIN mac.states s ON s.id = o.state_id \
                   GROUP BY s.project ORDER BY s.project";
    assert_eq!(server.psql("macstate", objects).expect("psql"), "checkout|4\npayments|4");
}
