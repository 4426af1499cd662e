//! grafana8 access kinds end to end — teams, users and organisations: the `mac` binary
//! against the Grafana 8.5 emulator (issue 20).

use std::collections::BTreeMap;

use grafana8_emulator::{EmulatorConfig, Role, Seed, SeedTeam, SeedUser};
use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::Grafana;
use crate::run;

/// An emulator with three users (alice, bob, carol) and a hand-made team (SRE).
fn seeded(definitions: &str) -> Grafana {
    let user = |login: &str, role: Role| SeedUser {
        login: login.to_owned(),
        password: "secret".to_owned(),
        email: Some(format!("{login}@example.com")),
        name: None,
        role,
        org: 1,
        other_orgs: Default::default(),
    };
    let seed = Seed {
        users: vec![user("alice", Role::Editor), user("bob", Role::Viewer), user("carol", Role::Viewer)],
        teams: vec![SeedTeam {
            name: "SRE".to_owned(),
            email: String::new(),
            org: 1,
            members: vec!["alice".to_owned()],
        }],
        ..Seed::default()
    };
    Grafana::start_with(definitions, Role::Admin, EmulatorConfig { seed, ..EmulatorConfig::default() })
}

/// The requests a command made, as `METHOD route` → count.
fn requests(grafana: &Grafana, command: impl FnOnce()) -> BTreeMap<String, u64> {
    grafana
        .requests_during(command)
        .into_iter()
        .map(|((method, route), count)| (format!("{method} {route}"), count))
        .collect()
}

/// A team's id, by name.
fn team_id(grafana: &Grafana, name: &str) -> Value {
    grafana.api(Method::GET, &format!("/api/teams/search?name={name}"), None)["teams"][0]["id"].clone()
}

/// A team's member logins, as Grafana lists them.
fn members(grafana: &Grafana, name: &str) -> Vec<String> {
    let id = team_id(grafana, name);
    let rows = grafana.api(Method::GET, &format!("/api/teams/{id}/members"), None);
    rows.as_array().expect("members").iter().map(|row| row["login"].as_str().expect("login").to_owned()).collect()
}

const TEAM: &str = r#"
[[grafana8.team]]
id = "payments"
name = "Payments"
email = "payments@example.com"
members = ["alice", "bob@example.com"]
preferences = { theme = "dark", timezone = "utc" }
"#;

#[test]
fn teams_create_replan_edit_drift_import_prune() {
    let grafana = seeded(TEAM);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/team.payments
        name = "Payments"
        email = "payments@example.com"
        members = [{ login = "alice" }, { login = "bob" }]
        preferences = { theme = "dark", timezone = "utc" }

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(members(&grafana, "Payments"), ["alice", "bob"]);
    let id = team_id(&grafana, "Payments");
    let preferences = grafana.api(Method::GET, &format!("/api/teams/{id}/preferences"), None);
    assert_eq!((preferences["theme"].as_str(), preferences["timezone"].as_str()), (Some("dark"), Some("utc")));

    // A clean re-plan: the team search and the dashboard search once, then one member list
    // and one preferences GET per team (Grafana 8.5 has no bulk read of either).
    let made = requests(&grafana, || {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    assert_eq!(
        format!("{made:?}"),
        "{\"GET /api/health\": 1, \"GET /api/org\": 1, \"GET /api/org/users\": 1, \"GET /api/search\": 1, \"GET /api/teams/search\": 1, \"GET /api/teams/{team_id}/members\": 2, \"GET /api/teams/{team_id}/preferences\": 2}"
    );

    // One member swapped: the plan shows who leaves and who joins.
    grafana.project.define(&TEAM.replace("bob@example.com", "carol"));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/team.payments
        + members[login="carol"]
        - members[login="bob"]

    Plan: 0 to create, 1 to update (1 member added, 1 member removed), 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(members(&grafana, "Payments"), ["alice", "carol"]);

    // Drift: the email and the theme changed in the UI, bob added.
    grafana.api(
        Method::PUT,
        &format!("/api/teams/{id}"),
        Some(json!({ "name": "Payments", "email": "x@example.com" })),
    );
    grafana.api(
        Method::PUT,
        &format!("/api/teams/{id}/preferences"),
        Some(json!({ "theme": "light", "timezone": "utc" })),
    );
    let bob = grafana.api(Method::GET, "/api/org/users/lookup?query=bob", None)[0]["userId"].clone();
    grafana.api(Method::POST, &format!("/api/teams/{id}/members"), Some(json!({ "userId": bob })));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/team.payments (drift: changed outside mac, restoring the code's version)
        ~ email: "x@example.com" -> "payments@example.com"
        - members[login="bob"]
        ~ preferences.theme: "light" -> "dark"

    Plan: 0 to create, 1 to update (1 member removed), 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(members(&grafana, "Payments"), ["alice", "carol"]);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // The hand-made team is imported; the plan is then empty.
    let (code, _, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/teams.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.team]]
    id = "sre"
    name = "SRE"
    members = ["alice"]
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    std::fs::remove_file(grafana.project.root().join("definitions/teams.toml")).expect("removed");

    // Prune: the definition leaves the code, the team goes (SRE left the code with its file
    // too: both are deleted).
    grafana.project.define("");
    let (_, stdout, _) = run(grafana.mac().args(["plan"]));
    assert_snapshot!(stdout, @r#"
    - delete grafana8/team.payments (team "Payments", 2 members)
    - delete grafana8/team.sre (team "SRE", 1 member)

    Plan: 0 to create, 0 to update, 2 to delete, 2 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}");
    let left = grafana.api(Method::GET, "/api/teams/search", None);
    assert_eq!(left["totalCount"], 0, "{left}");
}

#[test]
fn a_hand_made_team_is_adopted_by_name_and_unknown_members_are_located() {
    let grafana = seeded("[[grafana8.team]]\nid = \"sre\"\nname = \"SRE\"\nmembers = [\"alice\", \"bob\"]\n");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ adopt grafana8/team.sre (exists remotely but is not managed; applied only with --adopt)
        + members[login="bob"]

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 member added), 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(members(&grafana, "SRE"), ["alice", "bob"]);

    grafana.project.define("[[grafana8.team]]\nid = \"sre\"\nname = \"SRE\"\nmembers = [\"alice\", \"dave\"]\n");
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"
    error: definitions/main.toml:4:21: Grafana has no user `dave` in this org (looked up by login and by email), and no `user` of this project has login `dave` (defined here: none). To use a `user` defined here, write { ref = "user.ID", field = "login" }
    "#);
}

/// The initial password of the user the tests create: it must appear nowhere mac writes.
const CANARY: &str = "user-canary-password-5e7a";

const USER: &str = r#"
[[grafana8.user]]
id = "dave"
login = "dave"
email = "dave@example.com"
name = "Dave"
role = "Editor"
password = { env = "DAVE_PASSWORD" }
"#;

/// Points the project at Grafana as the server admin `admin` (basic auth): Grafana 8.5 lets
/// only a server admin manage users, and an API key never is one.
fn as_server_admin(grafana: &Grafana) {
    grafana.project.write(
        "mac.toml",
        &format!(
            "[providers.grafana8]\nurl = \"{}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n",
            grafana.emulator.base_url()
        ),
    );
}

/// `mac` as the server admin, with dave's password. The password variables `mac import`
/// names for the seeded users are not set: a managed user's password is never read.
fn admin_mac(grafana: &Grafana) -> assert_cmd::Command {
    let mut command = grafana.mac();
    command.env("GRAFANA_PASSWORD", "admin").env("DAVE_PASSWORD", CANARY);
    for login in ["ALICE", "BOB", "CAROL"] {
        command.env_remove(format!("GRAFANA_USER_{login}_PASSWORD"));
    }
    command
}

/// A user's login, email, name and role in org 1, as Grafana has them.
fn user(grafana: &Grafana, login: &str) -> Value {
    let users = grafana.api(Method::GET, "/api/org/users", None);
    let found = users.as_array().expect("users").iter().find(|user| user["login"] == login).cloned();
    found.map_or(
        Value::Null,
        |user| json!({ "login": user["login"], "email": user["email"], "name": user["name"], "role": user["role"] }),
    )
}

/// Whether `login` may sign in with `password` (basic auth on `GET /api/user`).
fn signs_in(grafana: &Grafana, login: &str, password: &str) -> bool {
    let url = format!("{}/api/user", grafana.emulator.base_url());
    grafana.runtime.block_on(async {
        let response =
            reqwest::Client::new().get(url).basic_auth(login, Some(password)).send().await.expect("emulator answers");
        response.status().is_success()
    })
}

#[test]
fn users_create_replan_edit_drift_import_prune_and_keep_their_password_secret() {
    let grafana = seeded(USER);
    as_server_admin(&grafana);
    let (code, stdout, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/user.dave
        login = "dave"
        email = "dave@example.com"
        name = "Dave"
        role = "Editor"
        password = "(sensitive)"

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut printed = format!("{stdout}{stderr}");
    assert_eq!(
        user(&grafana, "dave"),
        json!({ "login": "dave", "email": "dave@example.com", "name": "Dave", "role": "Editor" })
    );
    assert!(signs_in(&grafana, "dave", CANARY), "dave's password is the one referenced");

    // A clean re-plan: the user search (one request per 1,000 users) and the org's users.
    let made = requests(&grafana, || {
        let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    assert_eq!(
        format!("{made:?}"),
        "{\"GET /api/health\": 1, \"GET /api/org\": 1, \"GET /api/org/users\": 1, \"GET /api/users/search\": 1}"
    );

    // The password is never compared: another value is no change (dave keeps his own).
    let (code, stdout, _) =
        run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]).env("DAVE_PASSWORD", "another-one"));
    assert_eq!(code, 0, "{stdout}");

    // One field changed; saved to a plan file first.
    grafana.project.define(&USER.replace("role = \"Editor\"", "role = \"Admin\""));
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "-o", "dave.plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/user.dave
        ~ role: "Editor" -> "Admin"

    Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.
    Saved the plan to dave.plan. Apply exactly it with: mac apply dave.plan
    "#);
    printed.push_str(&stdout);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "dave.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    printed.push_str(&stdout);
    assert_eq!(user(&grafana, "dave")["role"], "Admin");

    // Drift: the name changed in the UI.
    let id = grafana.api(Method::GET, "/api/users/lookup?loginOrEmail=dave", None)["id"].clone();
    grafana.api(
        Method::PUT,
        &format!("/api/users/{id}"),
        Some(json!({ "login": "dave", "email": "dave@example.com", "name": "David" })),
    );
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/user.dave (drift: changed outside mac, restoring the code's version)
        ~ name: "David" -> "Dave"

    Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(user(&grafana, "dave")["name"], "Dave");

    // Import: the org's other users (not the server admin), each with a password placeholder.
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("note: 3 secret(s) the server takes only when it creates the object (user passwords)")
            && !stdout.contains("warning:"),
        "{stdout}"
    );
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/users.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.user]]
    id = "alice"
    login = "alice"
    email = "alice@example.com"
    name = "alice"
    role = "Editor"
    password = { env = "GRAFANA_USER_ALICE_PASSWORD" }

    [[grafana8.user]]
    id = "bob"
    login = "bob"
    email = "bob@example.com"
    name = "bob"
    role = "Viewer"
    password = { env = "GRAFANA_USER_BOB_PASSWORD" }

    [[grafana8.user]]
    id = "carol"
    login = "carol"
    email = "carol@example.com"
    name = "carol"
    role = "Viewer"
    password = { env = "GRAFANA_USER_CAROL_PASSWORD" }
    "#);
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    std::fs::remove_file(grafana.project.root().join("definitions/users.toml")).expect("removed");
    std::fs::remove_file(grafana.project.root().join("definitions/teams.toml")).expect("removed");

    // Prune: deleting a user deletes it server-wide, which the plan says.
    grafana.project.define("");
    let (code, _, stderr) = run(admin_mac(&grafana).args(["plan"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("refusing to delete 5 of 7 managed objects"), "{stderr}");
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete grafana8/team.sre (team "SRE", 1 member)
    - delete grafana8/user.alice (user "alice" (alice@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.bob (user "bob" (bob@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.carol (user "carol" (carol@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.dave (user "dave" (dave@example.com), deleted from the whole server, every org included)

    Plan: 0 to create, 0 to update, 5 to delete, 2 unchanged.
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(user(&grafana, "dave"), Value::Null);
    assert_eq!(user(&grafana, "alice"), Value::Null);

    // Nothing mac printed or wrote holds the password.
    assert!(!printed.contains(CANARY), "{printed}");
    for file in [".mac/state.json", "dave.plan"] {
        let text = std::fs::read_to_string(grafana.project.root().join(file)).expect("written");
        assert!(!text.contains(CANARY), "{file} holds the password");
    }
}

#[test]
fn a_server_admin_is_adopted_but_never_deleted() {
    let grafana = seeded(
        "[[grafana8.user]]\nid = \"admin\"\nlogin = \"admin\"\nemail = \"admin@localhost\"\nrole = \"Admin\"\npassword = { env = \"DAVE_PASSWORD\" }\n",
    );
    as_server_admin(&grafana);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(signs_in(&grafana, "admin", "admin"), "an adopted user keeps its password");
    grafana.project.define("");
    // Blocked at plan time by its server-admin permission: shown, never attempted.
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    ! delete grafana8/user.admin — blocked: holds permission "Grafana server admin" that mac does not manage; move or delete it, or manage it

    No changes. 1 delete blocked. 0 object(s) match their definitions.
    "#);
    assert_eq!(user(&grafana, "admin")["role"], "Admin");
}

#[test]
fn users_need_a_server_admin_credential() {
    // The tests' API key is an org Admin: Grafana 8.5 answers 403 on the server admin routes.
    let grafana = seeded(USER);
    let (code, _, stderr) = run(grafana.mac().arg("plan").env("DAVE_PASSWORD", CANARY));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"
    error: provider `grafana8`, listing user: grafana8 users need a Grafana server admin, and these credentials are not one (GET /api/users/search: Grafana answered 403: Permission denied); use basic = { user = "…", password = { env = "…" } } of a server admin: API keys and service accounts never are one in Grafana 8.5
    "#);
    // An import with it leaves users out, and says so.
    grafana.project.define("");
    let (code, _, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stderr, @r#"
    note: not importing grafana8/organization: grafana8 organizations need a Grafana server admin, and these credentials are not one (GET /api/orgs: Grafana answered 403: Permission denied); use basic = { user = "…", password = { env = "…" } } of a server admin: API keys and service accounts never are one in Grafana 8.5
    note: not importing grafana8/user: grafana8 users need a Grafana server admin, and these credentials are not one (GET /api/users/search: Grafana answered 403: Permission denied); use basic = { user = "…", password = { env = "…" } } of a server admin: API keys and service accounts never are one in Grafana 8.5
    "#);
}

const ORGANIZATION: &str = r#"
[[grafana8.organization]]
id = "partners"
name = "Partners"
admins = ["alice"]
editors = ["bob@example.com"]
"#;

/// An org's members as (login, role), as Grafana lists them.
fn org_members(grafana: &Grafana, name: &str) -> Vec<(String, String)> {
    let id = grafana.api(Method::GET, &format!("/api/orgs/name/{name}"), None)["id"].clone();
    let rows = grafana.api(Method::GET, &format!("/api/orgs/{id}/users"), None);
    let mut found: Vec<(String, String)> = rows
        .as_array()
        .expect("members")
        .iter()
        .map(|row| (row["login"].as_str().expect("login").to_owned(), row["role"].as_str().expect("role").to_owned()))
        .collect();
    found.sort();
    found
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(login, role)| ((*login).to_owned(), (*role).to_owned())).collect()
}

#[test]
fn organizations_create_replan_edit_drift_import_and_prune_with_guards() {
    let grafana = seeded(ORGANIZATION);
    as_server_admin(&grafana);
    let (code, stdout, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/organization.partners
        name = "Partners"
        members = [{ login = "alice", role = "Admin" }, { login = "bob", role = "Editor" }]

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The creator (admin) stays, as `admin_user`.
    assert_eq!(org_members(&grafana, "Partners"), pairs(&[("admin", "Admin"), ("alice", "Admin"), ("bob", "Editor")]));

    // A clean re-plan: the org list, then one member list per org (Grafana 8.5 has no bulk
    // read of memberships), and the server's users.
    let made = requests(&grafana, || {
        let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    // `GET /api/org` twice: the instance's check, and the org an import leaves out.
    assert_eq!(
        format!("{made:?}"),
        "{\"GET /api/health\": 1, \"GET /api/org\": 2, \"GET /api/orgs\": 1, \"GET /api/orgs/{org_id}/users\": 2, \"GET /api/users/search\": 1}"
    );

    // bob moves to the viewers, carol joins the editors.
    grafana
        .project
        .define(&ORGANIZATION.replace("editors = [\"bob@example.com\"]", "editors = [\"carol\"]\nviewers = [\"bob\"]"));
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/organization.partners
        ~ members[login="bob"].role: "Editor" -> "Viewer"
        + members[login="carol"]
            role = "Editor"

    Plan: 0 to create, 1 to update (1 member added, 1 member changed), 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    let expected = pairs(&[("admin", "Admin"), ("alice", "Admin"), ("bob", "Viewer"), ("carol", "Editor")]);
    assert_eq!(org_members(&grafana, "Partners"), expected);

    // Drift: alice removed and the org renamed in Grafana.
    let org = grafana.api(Method::GET, "/api/orgs/name/Partners", None)["id"].clone();
    let alice = grafana.api(Method::GET, "/api/users/lookup?loginOrEmail=alice", None)["id"].clone();
    grafana.api(Method::DELETE, &format!("/api/orgs/{org}/users/{alice}"), None);
    grafana.api(Method::PUT, &format!("/api/orgs/{org}"), Some(json!({ "name": "Partner Org" })));
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/organization.partners (drift: changed outside mac, restoring the code's version)
        ~ name: "Partner Org" -> "Partners"
        + members[login="alice"]
            role = "Admin"

    Plan: 0 to create, 1 to update (1 member added), 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(org_members(&grafana, "Partners"), expected);

    // Import: other orgs (a hand-made one), never the instance's own.
    grafana.api(Method::POST, "/api/orgs", Some(json!({ "name": "Hand-made" })));
    let (code, _, stderr) = run(admin_mac(&grafana).args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/organizations.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.organization]]
    id = "hand-made"
    name = "Hand-made"
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    for file in ["organizations", "users", "teams"] {
        std::fs::remove_file(grafana.project.root().join(format!("definitions/{file}.toml"))).expect("removed");
    }

    // Prune: an org that holds anything (here a folder made in it) is not deleted: the
    // delete would take it along.
    grafana.api(
        Method::POST,
        &format!("/api/folders?targetOrgId={org}"),
        Some(json!({ "uid": "kept", "title": "Kept" })),
    );
    grafana.project.define("[[grafana8.team]]\nid = \"keep\"\nname = \"Keep\"\n");
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/team.keep
        name = "Keep"
        email = ""
        members = []
    - delete grafana8/team.sre (team "SRE", 1 member)
    - delete grafana8/organization.hand-made (organization "Hand-made" with everything in it (dashboards, folders, data sources, alerting), 1 member)
    - delete grafana8/user.alice (user "alice" (alice@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.bob (user "bob" (bob@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.carol (user "carol" (carol@example.com), deleted from the whole server, every org included)
    ! delete grafana8/organization.partners — blocked: holds folder "Kept" (uid kept) that mac does not manage; move or delete it, or manage it

    Plan: 1 to create, 0 to update, 5 to delete, 1 delete blocked, 2 unchanged.
    "#);
    grafana.api(Method::DELETE, &format!("/api/folders/kept?targetOrgId={org}"), None);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/team.keep
        name = "Keep"
        email = ""
        members = []
    - delete grafana8/team.sre (team "SRE", 1 member)
    - delete grafana8/organization.hand-made (organization "Hand-made" with everything in it (dashboards, folders, data sources, alerting), 1 member)
    - delete grafana8/organization.partners (organization "Partners" with everything in it (dashboards, folders, data sources, alerting), 4 members)
    - delete grafana8/user.alice (user "alice" (alice@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.bob (user "bob" (bob@example.com), deleted from the whole server, every org included)
    - delete grafana8/user.carol (user "carol" (carol@example.com), deleted from the whole server, every org included)

    Plan: 1 to create, 0 to update, 6 to delete, 2 unchanged.
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(grafana.api(Method::GET, "/api/orgs/name/Partners", None)["message"], "Organization not found");
}

#[test]
fn a_team_home_dashboard_is_a_reference_resolved_at_apply() {
    let definitions = r#"
[[grafana8.dashboard]]
id = "overview"
json = { title = "Overview", panels = [] }

[[grafana8.team]]
id = "payments"
name = "Payments"
preferences = { home_dashboard = { ref = "dashboard.overview" }, theme = "light" }
"#;
    let grafana = seeded(definitions);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(r#"preferences = { home_dashboard = "(known after apply)", theme = "light", timezone = "" }"#),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let dashboard = grafana.api(Method::GET, "/api/dashboards/uid/mac-overview", None);
    let id = team_id(&grafana, "Payments");
    let preferences = grafana.api(Method::GET, &format!("/api/teams/{id}/preferences"), None);
    assert_eq!(preferences["homeDashboardId"], dashboard["dashboard"]["id"], "{preferences}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // Imported elsewhere, the home dashboard is a reference to the imported dashboard, and
    // what import writes is formatted as `mac fmt` would.
    let other = crate::Project::empty();
    other.write(
        "mac.toml",
        &format!(
            "[providers.grafana8]\nurl = \"{}\"\ntoken = {{ env = \"GRAFANA_TOKEN\" }}\n",
            grafana.emulator.base_url()
        ),
    );
    let (code, _, stderr) = run(grafana.mac_in(&other).args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    let file = std::fs::read_to_string(other.root().join("definitions/teams.toml")).expect("written");
    assert!(file.contains(r#"home_dashboard = { ref = "dashboard.overview" }"#), "{file}");
    let (code, stdout, stderr) = run(grafana.mac_in(&other).args(["fmt", "--check", "--diff"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(grafana.mac_in(&other).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn access_definitions_are_checked_offline_at_their_lines() {
    let project = crate::Project::empty();
    project
        .write("mac.toml", "[providers.grafana8]\nurl = \"http://127.0.0.1:1\"\ntoken = { env = \"GRAFANA_TOKEN\" }\n");
    project.define(
        r#"[[grafana8.team]]
id = "payments"
name = ""
members = ["alice", "Alice"]
preferences = { theme = "blue", timezone = "Europe/Paris" }

[[grafana8.user]]
id = "dave"
login = "dave"
email = "dave@example.com"
role = "Owner"
password = { env = "DAVE_PASSWORD" }

[[grafana8.organization]]
id = "partners"
name = "Partners"
admins = ["alice"]
viewers = ["alice@example.com", "alice"]
"#,
    );
    let (code, _, stderr) = run(project.mac().arg("validate").env("GRAFANA_TOKEN", "x").env("DAVE_PASSWORD", "x"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"
    error: definitions/main.toml:18:33: `alice` is already listed at admins[0]: a user has one role
    definitions/main.toml:3:1: `name` is required (a non-empty string)
    definitions/main.toml:4:21: `Alice` is already a member (entry 0)
    definitions/main.toml:5:17: `theme` must be "light", "dark" or "" (the default), not "blue"
    definitions/main.toml:5:33: `timezone` must be "utc", "browser" or "" (the default), not "Europe/Paris"
    definitions/main.toml:11:1: `role` must be "Viewer", "Editor" or "Admin", not "Owner"
    "#);
}

#[test]
fn a_hand_made_organization_is_adopted_by_name_and_needs_a_server_admin() {
    let definitions =
        "[[grafana8.organization]]\nid = \"ops\"\nname = \"Ops\"\neditors = [\"alice\"]\nviewers = [\"bob\"]\n";
    let grafana = seeded(definitions);
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"
    error: provider `grafana8`, listing organization: grafana8 organizations need a Grafana server admin, and these credentials are not one (GET /api/orgs: Grafana answered 403: Permission denied); use basic = { user = "…", password = { env = "…" } } of a server admin: API keys and service accounts never are one in Grafana 8.5
    "#);

    let org = grafana.api(Method::POST, "/api/orgs", Some(json!({ "name": "Ops" })))["orgId"].clone();
    grafana.api(
        Method::POST,
        &format!("/api/orgs/{org}/users"),
        Some(json!({ "loginOrEmail": "alice", "role": "Editor" })),
    );
    as_server_admin(&grafana);
    let (code, stdout, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ adopt grafana8/organization.ops (exists remotely but is not managed; applied only with --adopt)
        + members[login="bob"]
            role = "Viewer"

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 member added), 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(org_members(&grafana, "Ops"), pairs(&[("admin", "Admin"), ("alice", "Editor"), ("bob", "Viewer")]));
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_user_without_a_password_is_refused_offline_at_its_line() {
    let project = crate::Project::empty();
    project.write("mac.toml", "[providers.grafana8]\nurl = \"http://127.0.0.1:1\"\ntoken = { env = \"T\" }\n");
    project.define("[[grafana8.user]]\nid = \"erin\"\nlogin = \"erin\"\nemail = \"erin@example.com\"\n");
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:1:1: `password` is required: password = { env = "…" } (read only when mac creates the user; never compared)"#);
}

#[test]
fn permissions_name_a_team_and_a_user_this_project_creates() {
    let grafana = Grafana::start_empty("");
    as_server_admin(&grafana);
    grafana.project.define(
        r#"
[[grafana8.user]]
id = "dave"
login = "dave"
email = "dave@example.com"
password = { env = "DAVE_PASSWORD" }

[[grafana8.team]]
id = "oncall"
name = "Oncall"
members = ["dave"]

[[grafana8.folder]]
id = "ops"
title = "Ops"

[[grafana8.folder_permission]]
id = "ops"
folder = "ops"
permissions = [{ team = "Oncall", permission = "Edit" }, { user = "dave", permission = "Admin" }]

[[grafana8.dashboard]]
id = "board"
folder = "ops"
json = { title = "Board", panels = [] }

[[grafana8.dashboard_permission]]
id = "board"
dashboard = { ref = "dashboard.board" }
permissions = [{ team = "Oncall", permission = "Admin" }]
"#,
    );
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "-o", "new.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Plan: 6 to create"), "{stdout}");
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "new.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "the permissions name the team and user as Grafana has them: {stdout}");
    let acl = grafana.api(reqwest::Method::GET, "/api/folders/mac-ops/permissions", None);
    let named = |field: &str| -> Vec<String> {
        let rows = acl.as_array().into_iter().flatten();
        rows.filter_map(|row| row[field].as_str()).filter(|name| !name.is_empty()).map(str::to_owned).collect()
    };
    let (teams, users) = (named("team"), named("userLogin"));
    assert_eq!((teams, users), (vec!["Oncall".to_owned()], vec!["dave".to_owned()]), "{acl}");
}

#[test]
fn an_instance_naming_its_org_by_name_works_in_that_org_once_it_exists() {
    // A server-admin instance makes the org; a second instance names it by name, so the same
    // project works wherever that org's id differs.
    let organization = "[[grafana8.organization]]\nid = \"partners\"\nname = \"Partners\"\n";
    let grafana = seeded(organization);
    let settings = format!(
        "[providers.grafana8]\nurl = \"{url}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n\n\
         [providers.\"grafana8.partners\"]\nurl = \"{url}\"\norg = \"Partners\"\n\
         basic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n",
        url = grafana.emulator.base_url()
    );
    grafana.project.write("mac.toml", &settings);
    let folder = "\n[[grafana8.folder]]\nprovider = \"grafana8.partners\"\nid = \"shared\"\ntitle = \"Shared\"\n";

    // The org does not exist yet: the instance that names it says so, and nothing is written.
    grafana.project.define(&format!("{organization}{folder}"));
    let (code, stdout, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let stderr = stderr.replace(&grafana.emulator.base_url(), "URL");
    assert_snapshot!(stderr, @r#"error: provider `grafana8.partners`: `org = "Partners"`: these credentials cannot act in an organisation of that name on URL/ (they can in: Main Org. (1)). Create it first (a `grafana8.organization` of an instance with server-admin credentials, whose admins, editors or viewers include this user), or correct the name"#);

    // Made first (its creator, the admin, is its Admin), then the folder lands in it.
    grafana.project.define(organization);
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(&format!("{organization}{folder}"));
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let org_id = grafana.api(Method::GET, "/api/orgs/name/Partners", None)["id"].as_i64().expect("org id");
    assert_ne!(org_id, 1);
    let in_org = |org: i64| -> Vec<String> {
        let url = format!("{}/api/folders", grafana.emulator.base_url());
        let folders: Value = grafana.runtime.block_on(async {
            let request = reqwest::Client::new().get(url).basic_auth("admin", Some("admin"));
            let response = request.header("X-Grafana-Org-Id", org).send().await.expect("emulator answers");
            response.json().await.expect("JSON")
        });
        folders
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|folder| folder["title"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(in_org(org_id), ["Shared"]);
    assert!(!in_org(1).contains(&"Shared".to_owned()), "nothing in the main org");
    let (code, stdout, stderr) = run(admin_mac(&grafana).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Renaming the org an instance names is refused at the organisation's name, before any write.
    let renamed = organization.replace("name = \"Partners\"", "name = \"Partners Inc\"");
    grafana.project.define(&format!("{renamed}{folder}"));
    let (code, stdout, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:3:1: the organisation `Partners` is the org of provider instance `grafana8.partners` (`org = "Partners"`), which would not find it under a new name: first set `org_id = 2` on it in mac.toml, apply this rename, then name it `org = "Partners Inc"` again if you wish"#);
    grafana.project.define(&format!("{organization}{folder}"));

    // A wrong password is one failed login per run (Grafana locks an account after five),
    // reported as the credentials' fault.
    let before = grafana.requests();
    let (code, _, stderr) =
        run(admin_mac(&grafana).env("GRAFANA_PASSWORD", "wrong").args(["plan", "--target", "grafana8.partners"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    // One login per instance: `/api/user/orgs` of the instance naming its org (then nothing
    // more), `/api/org` of the default one (`/api/health` needs no login).
    let sent: Vec<String> = grafana
        .requests_since(&before)
        .into_iter()
        .map(|((method, route), count)| format!("{method} {route} ×{count}"))
        .collect();
    assert_eq!(sent, ["GET /api/health ×1", "GET /api/org ×1", "GET /api/user/orgs ×1"]);

    // An API key acts in its own org: naming that one works (Grafana lists no orgs for a key).
    let key_settings = format!(
        "[providers.grafana8]\nurl = \"{url}\"\norg = \"Main Org.\"\ntoken = {{ env = \"GRAFANA_TOKEN\" }}\n",
        url = grafana.emulator.base_url()
    );
    let key_project = crate::Project::empty();
    key_project.write("mac.toml", &key_settings);
    key_project.define("[[grafana8.folder]]\nid = \"main\"\ntitle = \"Main\"\n");
    let (code, stdout, stderr) = run(grafana.mac_in(&key_project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(in_org(1).contains(&"Main".to_owned()));
    key_project.write("mac.toml", &key_settings.replace("Main Org.", "Partners"));
    let (code, _, stderr) = run(grafana.mac_in(&key_project).arg("plan"));
    assert_eq!(code, 1);
    assert!(stderr.contains("(they can in: Main Org. (1))"), "an API key can act in its own org only: {stderr}");

    // A misspelt name is refused when connecting, naming the orgs the user can act in.
    grafana.project.write("mac.toml", &settings.replace("org = \"Partners\"", "org = \"Partner\""));
    let (code, _, stderr) = run(admin_mac(&grafana).arg("plan"));
    assert_eq!(code, 1);
    assert!(stderr.contains("(they can in: Main Org. (1), Partners (2))"), "{stderr}");
    // Both ways of naming the org at once is a settings error at its line.
    grafana.project.write("mac.toml", &settings.replace("org = \"Partners\"", "org = \"Partners\"\norg_id = 2"));
    let (code, _, stderr) = run(admin_mac(&grafana).arg("validate"));
    assert_eq!(code, 1);
    assert!(stderr.contains("set `org` (a name) or `org_id` (an id), not both"), "{stderr}");
}
