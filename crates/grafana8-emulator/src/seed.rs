//! Start-up state: the `admin` user and `Main Org.` as a fresh Grafana has them, plus what a
//! seed (TOML file or struct) adds: orgs, users, teams and provisioned data sources.

use crate::EmulatorError;
use crate::state::{DataSource, Db, Org, Role, Team, User};
use crate::util::generate_short_uid;
use serde::Deserialize;
use std::collections::BTreeMap;

/// State to load at start.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Extra orgs; they get ids 2, 3, … in order.
    #[serde(default)]
    pub orgs: Vec<SeedOrg>,
    /// Extra users.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Teams.
    #[serde(default)]
    pub teams: Vec<SeedTeam>,
    /// Provisioned data sources.
    #[serde(default)]
    pub datasources: Vec<SeedDataSource>,
    /// Faults in force from the start (the binary's `--seed` file may carry them).
    #[serde(default)]
    pub faults: Option<crate::FaultConfig>,
}

/// An org.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrg {
    /// Its name.
    pub name: String,
}

/// A user with a password (basic auth) and a role in one org.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
    /// Email; `<login>@localhost` when absent.
    #[serde(default)]
    pub email: Option<String>,
    /// Display name; the login when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Role in `org`.
    pub role: Role,
    /// Org id (1 by default).
    #[serde(default = "one")]
    pub org: i64,
    /// Extra memberships: org id to role.
    #[serde(default)]
    pub other_orgs: BTreeMap<String, Role>,
}

/// A team.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTeam {
    /// Name.
    pub name: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Org id (1 by default).
    #[serde(default = "one")]
    pub org: i64,
    /// Logins of the members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A data source as provisioning creates it (read-only by default).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDataSource {
    /// Name.
    pub name: String,
    /// Plugin type, e.g. `prometheus`.
    #[serde(rename = "type")]
    pub ds_type: String,
    /// URL.
    #[serde(default)]
    pub url: String,
    /// Uid; generated when absent.
    #[serde(default)]
    pub uid: Option<String>,
    /// `proxy` (default) or `direct`.
    #[serde(default)]
    pub access: Option<String>,
    /// Default data source of the org.
    #[serde(default)]
    pub is_default: bool,
    /// `jsonData`.
    #[serde(default)]
    pub json_data: Option<serde_json::Value>,
    /// `secureJsonData`.
    #[serde(default)]
    pub secure_json_data: BTreeMap<String, String>,
    /// Org id (1 by default).
    #[serde(default = "one")]
    pub org: i64,
    /// Provisioned data sources are read-only (true by default).
    #[serde(default = "yes")]
    pub read_only: bool,
}

fn one() -> i64 {
    1
}
fn yes() -> bool {
    true
}

impl Seed {
    /// Parses a seed from TOML text.
    pub fn from_toml(text: &str) -> Result<Seed, EmulatorError> {
        toml::from_str(text).map_err(|e| EmulatorError::Seed(e.to_string()))
    }
}

pub(crate) fn add_org(db: &mut Db, name: &str) -> i64 {
    let id = db.next_id("org");
    db.orgs.insert(id, Org { id, name: name.to_string(), address: Default::default() });
    db.am_configs.insert(id, crate::am_config::default_am_config());
    id
}

pub(crate) fn load(db: &mut Db, admin_password: &str, seed: &Seed) -> Result<(), EmulatorError> {
    // pkg/services/sqlstore/sqlstore.go ensureMainOrgAndAdminUser: org 1 "Main Org." and the
    // server admin `admin` (admin@localhost).
    add_org(db, "Main Org.");
    let admin_id = db.next_id("user");
    let mut admin = User::new(admin_id, "admin", "admin@localhost", "", admin_password, 1);
    admin.is_grafana_admin = true;
    db.users.insert(admin_id, admin);
    db.org_users.insert((1, admin_id), Role::Admin);
    for o in &seed.orgs {
        add_org(db, &o.name);
    }
    for u in &seed.users {
        if !db.orgs.contains_key(&u.org) {
            return Err(EmulatorError::Seed(format!("user {} is in org {} which does not exist", u.login, u.org)));
        }
        let id = db.next_id("user");
        let email = u.email.clone().unwrap_or_else(|| format!("{}@localhost", u.login));
        let name = u.name.clone().unwrap_or_else(|| u.login.clone());
        db.users.insert(id, User::new(id, &u.login, &email, &name, &u.password, u.org));
        db.org_users.insert((u.org, id), u.role);
        for (org, role) in &u.other_orgs {
            let org: i64 = org
                .parse()
                .map_err(|_| EmulatorError::Seed(format!("user {}: org id {org:?} is not a number", u.login)))?;
            db.org_users.insert((org, id), *role);
        }
    }
    for t in &seed.teams {
        let id = db.next_id("team");
        let mut members = vec![];
        for login in &t.members {
            let uid = db
                .users
                .values()
                .find(|u| &u.login == login)
                .map(|u| u.id)
                .ok_or_else(|| EmulatorError::Seed(format!("team {}: no user {login}", t.name)))?;
            members.push(uid);
        }
        let (org_id, name, email) = (t.org, t.name.clone(), t.email.clone());
        db.teams.insert(id, Team { id, org_id, name, email, members, admins: Default::default() });
    }
    for d in &seed.datasources {
        let id = db.next_id("data_source");
        db.datasources.insert(
            id,
            DataSource {
                id,
                org_id: d.org,
                uid: d.uid.clone().unwrap_or_else(generate_short_uid),
                name: d.name.clone(),
                ds_type: d.ds_type.clone(),
                access: d.access.clone().unwrap_or_else(|| "proxy".into()),
                url: d.url.clone(),
                password: String::new(),
                user: String::new(),
                database: String::new(),
                basic_auth: false,
                basic_auth_user: String::new(),
                basic_auth_password: String::new(),
                with_credentials: false,
                is_default: d.is_default,
                json_data: d.json_data.clone().unwrap_or_else(|| serde_json::json!({})),
                secure_json_data: d.secure_json_data.clone(),
                version: 1,
                read_only: d.read_only,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_seed_parses() {
        let seed = Seed::from_toml(include_str!("../seed.example.toml")).expect("example seed is valid");
        assert_eq!(seed.users.len(), 2);
        assert_eq!(seed.users[0].role, Role::Editor);
        assert_eq!(seed.datasources[0].uid.as_deref(), Some("prom"));
        assert!(seed.datasources[0].read_only);
        assert!(seed.faults.is_some_and(|f| f.latency.is_some()));
        let err = Seed::from_toml("[[users]]\nlogin = \"x\"\n").expect_err("password and role are required");
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
