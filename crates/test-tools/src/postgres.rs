//! A throwaway PostgreSQL server for tests: its own cluster in a fresh temporary directory, on
//! a free loopback port, removed when the value is dropped.
//!
//! ```no_run
//! let Some(server) = mac_test_tools::PostgresServer::start() else { return }; // skipped, visibly
//! server.create_role("app", "secret").expect("a role");
//! let url = server.url("app", "secret", "postgres"); // postgres://app:secret@127.0.0.1:PORT/postgres
//! ```
//!
//! PostgreSQL refuses to run as root, and tests and CI do run as root: then the server's
//! programs (`initdb`, `pg_ctl`) run as the `postgres` system user through `runuser`, and the
//! temporary directory is handed to that user. Clients (`psql`) have no such rule and run as
//! the test does.
//!
//! The server trades durability for speed (`fsync=off`, `synchronous_commit=off`,
//! `full_page_writes=off`): a test's cluster never outlives the machine staying up, and an
//! immediate stop ([`PostgresServer::kill_immediately`]) still recovers from the WAL, since
//! the operating system keeps what was written.

use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use crate::{INITDB, OPENSSL, PG_CTL, PSQL, Program, program};

/// The superuser `initdb` creates (instead of one named after the system user, which differs
/// between root's runs and a developer's).
pub const POSTGRES_ADMIN: &str = "mac_admin";

/// The system user the server runs as when the tests run as root.
const SERVER_USER: &str = "postgres";

/// How many ports to try when another process takes the free port found before the server
/// binds it.
const PORT_ATTEMPTS: u32 = 5;

/// How long `pg_ctl` waits for a start or a stop, in seconds.
const PG_CTL_WAIT: &str = "30";

/// How many lines of the server's log a failure shows.
const LOG_TAIL_LINES: usize = 40;

/// How a [`PostgresServer`] is set up beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct PostgresOptions {
    /// Serve TLS with these files (see [`make_test_ca`]); the server copies them into its own
    /// directory, so they need not outlive the start.
    pub tls: Option<TlsFiles>,
    /// More `postgresql.conf` settings, as `name` and a value written verbatim (quote strings:
    /// `("log_statement", "'all'")`); they come last, so they override the defaults here.
    pub settings: Vec<(String, String)>,
}

/// A certificate authority for tests and a server certificate it signed, plus an unrelated CA
/// that did not sign it.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA's certificate (PEM): clients that trust it accept the server.
    pub ca_cert: PathBuf,
    /// The server's certificate (PEM), for `127.0.0.1` and `localhost`, signed by the CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key (PEM).
    pub server_key: PathBuf,
    /// Another CA's certificate: clients that trust only it must refuse the server.
    pub other_ca_cert: PathBuf,
}

/// A running PostgreSQL server of its own, stopped and removed on drop.
#[derive(Debug)]
pub struct PostgresServer {
    /// The temporary directory holding everything: `data/`, `log`, `tls/`, and the socket.
    dir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    admin_password: String,
    pg_ctl: PathBuf,
    psql: PathBuf,
    /// `runuser` when the server's programs run as [`SERVER_USER`] (the tests run as root).
    runuser: Option<PathBuf>,
    /// The server's copies of the TLS files, when it serves TLS.
    tls: Option<TlsFiles>,
}

impl PostgresServer {
    /// A server with the defaults; `None` only after a visible skip (see [`crate::require`]).
    /// Panics, with the server's log, when it cannot start.
    pub fn start() -> Option<Self> {
        Self::start_with(PostgresOptions::default())
    }

    /// A server serving TLS with a test CA made for it (see [`make_test_ca`]): its clients
    /// verify it with [`Self::ca_cert`].
    pub fn start_with_tls() -> Option<Self> {
        let scratch = unique_dir("mac-test-ca").unwrap_or_else(|err| panic!("{err}"));
        let tls = make_test_ca(&scratch.0);
        // The server copies the files; the scratch directory goes when this returns.
        tls.and_then(|tls| Self::start_with(PostgresOptions { tls: Some(tls), ..PostgresOptions::default() }))
    }

    /// A server set up with `options`; `None` only after a visible skip.
    pub fn start_with(options: PostgresOptions) -> Option<Self> {
        let initdb = program(&INITDB)?;
        let pg_ctl = beside(&initdb, "pg_ctl", &PG_CTL)?;
        let psql = beside(&initdb, "psql", &PSQL)?;
        let runuser = if is_root() { Some(runuser().unwrap_or_else(|err| panic!("{err}"))) } else { None };
        let dir = unique_dir("mac-postgres").unwrap_or_else(|err| panic!("{err}")).keep();
        let mut server = PostgresServer {
            data: dir.join("data"),
            log: dir.join("log"),
            dir,
            port: 0,
            admin_password: random_password(),
            pg_ctl,
            psql,
            runuser,
            tls: None,
        };
        // From here the server's Drop removes the directory, on success or panic alike.
        if let Err(err) = server.initialize(&initdb, &options) {
            panic!("could not make the PostgreSQL test cluster: {err}");
        }
        server.launch(&options);
        Some(server)
    }

    /// `initdb` into `data/`, with the TLS files copied in when asked for.
    fn initialize(&mut self, initdb: &Path, options: &PostgresOptions) -> Result<(), String> {
        if self.runuser.is_some() {
            reachable_by_others(&self.dir)?;
        }
        let password_file = self.dir.join("admin-password");
        write(&password_file, &self.admin_password)?;
        if let Some(tls) = &options.tls {
            self.tls = Some(copy_tls(tls, &self.dir.join("tls"))?);
        }
        if self.runuser.is_some() {
            let owner = format!("{SERVER_USER}:");
            run(Command::new("chown").arg("-R").arg(owner).arg(&self.dir))?;
        }
        let mut init = self.server_command(initdb);
        init.arg("-D").arg(&self.data);
        init.args(["-U", POSTGRES_ADMIN, "--auth-local=trust", "--auth-host=scram-sha-256"]);
        init.arg(format!("--pwfile={}", password_file.display()));
        // The C locale exists everywhere and makes messages English and sorting bytewise.
        init.args(["-E", "UTF8", "--locale=C", "--no-sync"]);
        run(&mut init)?;
        let _ = std::fs::remove_file(&password_file);
        Ok(())
    }

    /// Picks a free port and starts the server on it, trying another port when a process took
    /// the one found before the server bound it.
    fn launch(&mut self, options: &PostgresOptions) {
        let config = self.data.join("postgresql.conf");
        let initdb_config =
            std::fs::read_to_string(&config).unwrap_or_else(|err| panic!("cannot read {}: {err}", config.display()));
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port().unwrap_or_else(|err| panic!("no free loopback port: {err}"));
            self.port = port;
            let settings = self.settings(options);
            if let Err(err) = write(&config, &format!("{initdb_config}\n{settings}")) {
                panic!("{err}");
            }
            let logged_before = std::fs::metadata(&self.log).map_or(0, |meta| meta.len());
            let Err(err) = self.pg_ctl_start() else { return };
            let log = std::fs::read(&self.log).unwrap_or_default();
            let this_attempt = String::from_utf8_lossy(log.get(logged_before as usize..).unwrap_or_default());
            if attempt < PORT_ATTEMPTS && this_attempt.contains("Address already in use") {
                continue;
            }
            panic!("the PostgreSQL test server did not start on port {port}: {err}\n{}", self.log_tail());
        }
    }

    /// The `postgresql.conf` lines this server adds to initdb's.
    fn settings(&self, options: &PostgresOptions) -> String {
        let mut settings = vec![
            ("listen_addresses".to_owned(), conf_string("127.0.0.1")),
            ("port".to_owned(), self.port.to_string()),
            ("unix_socket_directories".to_owned(), conf_string(&self.dir.to_string_lossy())),
            // A test's cluster never outlives the machine: skip the disk flushes and the
            // full-page images that only protect against an operating system crash. Not
            // synchronous_commit=off: a commit would then return before its WAL is even
            // written, and kill_immediately would lose committed transactions, which a real
            // server never does and the crash tests check.
            ("fsync".to_owned(), "off".to_owned()),
            ("full_page_writes".to_owned(), "off".to_owned()),
            ("max_connections".to_owned(), "100".to_owned()),
            // PostgreSQL 13 still stores md5 by default, which scram-sha-256 logins cannot use.
            ("password_encryption".to_owned(), conf_string("scram-sha-256")),
        ];
        if let Some(tls) = &self.tls {
            settings.push(("ssl".to_owned(), "on".to_owned()));
            settings.push(("ssl_cert_file".to_owned(), conf_string(&tls.server_cert.to_string_lossy())));
            settings.push(("ssl_key_file".to_owned(), conf_string(&tls.server_key.to_string_lossy())));
        }
        settings.extend(options.settings.iter().cloned());
        let mut text = String::from("# Added by mac-test-tools for a throwaway test server.\n");
        for (name, value) in settings {
            let _ = writeln!(text, "{name} = {value}");
        }
        text
    }

    fn pg_ctl_start(&self) -> Result<String, String> {
        let mut start = self.server_command(&self.pg_ctl);
        start.arg("-D").arg(&self.data).arg("-l").arg(&self.log).args(["-w", "-t", PG_CTL_WAIT, "start"]);
        run(&mut start)
    }

    /// `pg_ctl stop -m MODE`, waiting until the server is gone.
    fn pg_ctl_stop(&self, mode: &str) -> Result<String, String> {
        let mut stop = self.server_command(&self.pg_ctl);
        stop.arg("-D").arg(&self.data).args(["-m", mode, "-w", "-t", PG_CTL_WAIT, "stop"]);
        run(&mut stop)
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`: sessions are ended, then a
    /// checkpoint). Panics, with the log, when it cannot.
    pub fn stop(&self) {
        if let Err(err) = self.pg_ctl_stop("fast") {
            panic!("the PostgreSQL test server did not stop: {err}\n{}", self.log_tail());
        }
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`): the next
    /// start recovers from the WAL. Panics, with the log, when it cannot.
    pub fn kill_immediately(&self) {
        if let Err(err) = self.pg_ctl_stop("immediate") {
            panic!("the PostgreSQL test server did not stop: {err}\n{}", self.log_tail());
        }
    }

    /// Starts the stopped server again, on the same port with the same data. Panics, with the
    /// log, when it cannot (another process may have taken the port meanwhile).
    pub fn start_again(&self) {
        if let Err(err) = self.pg_ctl_start() {
            panic!("the PostgreSQL test server did not start again on port {}: {err}\n{}", self.port, self.log_tail());
        }
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        let mut status = self.server_command(&self.pg_ctl);
        status.arg("-D").arg(&self.data).arg("status");
        run(&mut status).is_ok()
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's unix socket (`host` for a local connection).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The password of [`POSTGRES_ADMIN`], the superuser, for TCP connections.
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// `postgres://mac_admin:PASSWORD@127.0.0.1:PORT/DATABASE`: the superuser over TCP.
    pub fn admin_url(&self, database: &str) -> String {
        self.url(POSTGRES_ADMIN, &self.admin_password, database)
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DATABASE`, each part percent-encoded.
    pub fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            percent_encode(user),
            percent_encode(password),
            self.port,
            percent_encode(database)
        )
    }

    /// The server's copies of its TLS files, when it serves TLS.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The certificate of the CA that signed the server's. Panics when the server was started
    /// without TLS.
    pub fn ca_cert(&self) -> &Path {
        &self.tls_files().ca_cert
    }

    /// The certificate of a CA that did not sign the server's. Panics when the server was
    /// started without TLS.
    pub fn other_ca_cert(&self) -> &Path {
        &self.tls_files().other_ca_cert
    }

    fn tls_files(&self) -> &TlsFiles {
        match &self.tls {
            Some(tls) => tls,
            None => panic!("this PostgreSQL test server serves no TLS: start it with start_with_tls or options.tls"),
        }
    }

    /// Runs `sql` in `database` as the superuser over the unix socket, with `psql -At` (one
    /// row a line, columns joined by `|`), stopping at the first error; its output without
    /// the last newline, or psql's error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut psql = self.client_command();
        psql.arg("-h").arg(&self.dir).args(["-p", &self.port.to_string(), "-U", POSTGRES_ADMIN, "-d", database]);
        psql.args(["-c", sql]);
        run(&mut psql).map(|out| out.trim_end_matches('\n').to_owned())
    }

    /// Runs `sql` with `psql` connected by `conninfo` (a URL such as [`Self::url`]'s, or
    /// `key=value` pairs), as [`Self::psql`] does: how a client of the server fares.
    pub fn psql_with(&self, conninfo: &str, sql: &str) -> Result<String, String> {
        let mut psql = self.client_command();
        psql.args(["-d", conninfo, "-c", sql]);
        run(&mut psql).map(|out| out.trim_end_matches('\n').to_owned())
    }

    /// Creates a role that can log in with `password`.
    pub fn create_role(&self, name: &str, password: &str) -> Result<(), String> {
        let sql = format!("CREATE ROLE {} LOGIN PASSWORD {}", quote_identifier(name), quote_literal(password));
        self.psql("postgres", &sql).map(drop)
    }

    /// Creates a database owned by the superuser.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.psql("postgres", &format!("CREATE DATABASE {}", quote_identifier(name))).map(drop)
    }

    /// Creates a database owned by `owner` (a role), who may then create tables in it.
    pub fn create_database_owned_by(&self, name: &str, owner: &str) -> Result<(), String> {
        let sql = format!("CREATE DATABASE {} OWNER {}", quote_identifier(name), quote_identifier(owner));
        self.psql("postgres", &sql).map(drop)
    }

    /// The last lines of the server's log, for a failure's message.
    pub fn log_tail(&self) -> String {
        match std::fs::read(&self.log) {
            Ok(log) => {
                let log = String::from_utf8_lossy(&log);
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
                // Not the log's path: the directory is gone once a failed start's panic unwinds.
                format!("the server log's last lines:\n{tail}")
            }
            Err(err) => format!("(no server log at {}: {err})", self.log.display()),
        }
    }

    /// `program`, run as [`SERVER_USER`] when the tests run as root.
    fn server_command(&self, program: &Path) -> Command {
        let mut command = match &self.runuser {
            Some(runuser) => {
                let mut command = Command::new(runuser);
                command.args(["-u", SERVER_USER, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        };
        // The test's working directory may be one the server user cannot enter.
        command.current_dir(&self.dir);
        without_libpq_variables(&mut command);
        command
    }

    /// `psql` without the user's `.psqlrc` (`-X`), quiet, unaligned, tuples only, stopping at
    /// the first error.
    fn client_command(&self) -> Command {
        let mut command = Command::new(&self.psql);
        command.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]);
        without_libpq_variables(&mut command);
        // A wrong address fails a test instead of hanging it.
        command.env("PGCONNECT_TIMEOUT", "10");
        command
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Nothing to wait for: the files go next. A server already stopped makes this fail.
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes a test CA in `dir` with `openssl`: the CA's key and self-signed certificate, a server
/// key and certificate for `127.0.0.1` and `localhost` signed by it, and an unrelated CA's
/// certificate. `None` only after a visible skip (see [`crate::require`]); panics when
/// `openssl` fails.
///
/// The certificates are X.509 v3 with the extensions strict verifiers (rustls's webpki)
/// insist on: `basicConstraints` critical and CA:TRUE with `keyCertSign` for the CAs,
/// CA:FALSE with `serverAuth` and the subject alternative names for the server. The keys are
/// EC P-256, signed with SHA-256.
pub fn make_test_ca(dir: &Path) -> Option<TlsFiles> {
    let openssl = program(&OPENSSL)?;
    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        other_ca_cert: dir.join("other-ca.crt"),
    };
    let made = self_signed_ca(&openssl, dir, "mac test CA", &dir.join("ca.key"), &files.ca_cert)
        .and_then(|()| {
            self_signed_ca(&openssl, dir, "mac unrelated test CA", &dir.join("other-ca.key"), &files.other_ca_cert)
        })
        .and_then(|()| server_certificate(&openssl, dir, &files));
    match made {
        Ok(()) => Some(files),
        Err(err) => panic!("could not make the test CA in {}: {err}", dir.display()),
    }
}

/// The EC P-256 key options of `openssl req -newkey`.
const NEW_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A CA key in `key` and its self-signed certificate in `cert`.
fn self_signed_ca(openssl: &Path, dir: &Path, name: &str, key: &Path, cert: &Path) -> Result<(), String> {
    // An own configuration file, not the system's: its default extensions vary between
    // systems, and `-addext` clashes with them on some OpenSSL versions.
    let config = dir.join("ca.cnf");
    write(
        &config,
        &format!(
            "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ca\n[dn]\nCN = {name}\n[ca]\n\
             basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier = hash\n"
        ),
    )?;
    let mut req = Command::new(openssl);
    req.args(["req", "-x509", "-config"]).arg(&config).args(NEW_KEY).args(["-nodes", "-sha256", "-days", "3650"]);
    req.arg("-keyout").arg(key).arg("-out").arg(cert);
    run(&mut req).map(drop)
}

/// The server's key and its certificate signed by the CA (whose key is `dir/ca.key`).
fn server_certificate(openssl: &Path, dir: &Path, files: &TlsFiles) -> Result<(), String> {
    let (config, extensions, request) = (dir.join("server.cnf"), dir.join("server.ext"), dir.join("server.csr"));
    write(&config, "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = localhost\n")?;
    write(
        &extensions,
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )?;
    let mut req = Command::new(openssl);
    req.args(["req", "-new", "-config"]).arg(&config).args(NEW_KEY).arg("-nodes");
    req.arg("-keyout").arg(&files.server_key).arg("-out").arg(&request);
    run(&mut req)?;
    let mut sign = Command::new(openssl);
    sign.args(["x509", "-req", "-sha256", "-days", "3650", "-in"]).arg(&request);
    sign.arg("-CA").arg(&files.ca_cert).arg("-CAkey").arg(dir.join("ca.key"));
    sign.args(["-set_serial", &format!("0x{:016x}", random_u64())]);
    sign.arg("-extfile").arg(&extensions).arg("-out").arg(&files.server_cert);
    run(&mut sign).map(drop)
}

/// Copies the TLS files into `dir`, the key readable by its owner only (PostgreSQL refuses a
/// key others can read).
fn copy_tls(tls: &TlsFiles, dir: &Path) -> Result<TlsFiles, String> {
    std::fs::create_dir(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let copy = |from: &Path, name: &str| {
        let to = dir.join(name);
        std::fs::copy(from, &to).map_err(|err| format!("cannot copy {} to {}: {err}", from.display(), to.display()))?;
        Ok::<PathBuf, String>(to)
    };
    let copies = TlsFiles {
        ca_cert: copy(&tls.ca_cert, "ca.crt")?,
        server_cert: copy(&tls.server_cert, "server.crt")?,
        server_key: copy(&tls.server_key, "server.key")?,
        other_ca_cert: copy(&tls.other_ca_cert, "other-ca.crt")?,
    };
    std::fs::set_permissions(&copies.server_key, std::fs::Permissions::from_mode(0o600))
        .map_err(|err| format!("cannot make {} private: {err}", copies.server_key.display()))?;
    Ok(copies)
}

/// `name` from the directory of `initdb` when it is there (one installation, one version),
/// else where `fallback` looks.
fn beside(initdb: &Path, name: &str, fallback: &Program) -> Option<PathBuf> {
    match initdb.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && dir.join(name).is_file() => Some(dir.join(name)),
        _ => program(fallback),
    }
}

/// Whether this process runs as root (`id -u`: std has no geteuid).
fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        let output = Command::new("id").arg("-u").output();
        output.is_ok_and(|output| output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "0")
    })
}

/// `runuser`, and a [`SERVER_USER`] for it to switch to: what running the server as root
/// needs.
fn runuser() -> Result<PathBuf, String> {
    let found = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    let runuser = found.ok_or("the tests run as root, which PostgreSQL refuses, and there is no runuser to start it as another user: run the tests as another user")?;
    let user = Command::new("id").args(["-u", SERVER_USER]).stderr(Stdio::null()).output();
    if !user.is_ok_and(|output| output.status.success()) {
        return Err(format!(
            "the tests run as root, which PostgreSQL refuses, and there is no `{SERVER_USER}` user to run it as: \
             install PostgreSQL's packages (they create it) or run the tests as another user"
        ));
    }
    Ok(runuser)
}

/// Ok when every directory above `dir` lets others through, as the server user must reach
/// `dir`.
fn reachable_by_others(dir: &Path) -> Result<(), String> {
    for ancestor in dir.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor).map_err(|err| format!("cannot read {}: {err}", ancestor.display()))?;
        if mode.permissions().mode() & 0o001 == 0 {
            return Err(format!(
                "the PostgreSQL test server runs as `{SERVER_USER}`, who cannot reach {} under {}: point TMPDIR at a \
                 directory every user can enter, such as /tmp",
                dir.display(),
                ancestor.display()
            ));
        }
    }
    Ok(())
}

/// Removes the libpq variables (`PGHOST`, `PGPASSWORD`, `PGSSLMODE`…) a developer may have set:
/// the tests say exactly where and how to connect.
fn without_libpq_variables(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

/// A directory removed on drop, unless kept.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// The path, no longer removed on drop (its owner removes it).
    pub(crate) fn keep(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A new directory `PREFIX-PID-N-NANOS` in the temporary directory (std has no mkdtemp), for
/// its owner only: it holds the superuser's password file and the test CA's keys.
pub(crate) fn unique_dir(prefix: &str) -> Result<ScratchDir, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).subsec_nanos();
        let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{prefix}-{}-{counter}-{nanos}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(ScratchDir(dir)),
            // Left by an earlier process with this id: the counter moves on.
            Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(format!("cannot create {}: {err}", dir.display())),
        }
    }
}

/// A free loopback port: the kernel's pick for a socket closed right away. Another process may
/// take it before the server binds it, hence [`PORT_ATTEMPTS`].
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// 64 unpredictable-enough bits: std's per-process random hash keys over the time and a
/// counter.
fn random_u64() -> u64 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_nanos();
    std::collections::hash_map::RandomState::new().hash_one((nanos, COUNTER.fetch_add(1, Ordering::Relaxed)))
}

/// The superuser's password: a test server listens on loopback only, but another user of the
/// machine should still not guess it.
fn random_password() -> String {
    format!("mac-{:016x}{:016x}", random_u64(), random_u64())
}

/// Runs `command`: its standard output, or an error with what it wrote.
fn run(command: &mut Command) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("could not start `{}`: {err}", describe(command)))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let text = [String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout)].concat();
    Err(format!("`{}` failed with {}: {}", describe(command), output.status, text.trim_end()))
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// A `postgresql.conf` string value.
fn conf_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An SQL identifier, quoted.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An SQL string literal (standard_conforming_strings: backslashes are plain).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `text` for a part of a URL: every byte but the unreserved ones (RFC 3986) as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::{POSTGRES_ADMIN, PostgresServer, percent_encode};

    #[test]
    fn url_parts_are_percent_encoded() {
        assert_eq!(percent_encode("app_user-1.x~"), "app_user-1.x~");
        assert_eq!(percent_encode("p@ss:w/rd %é"), "p%40ss%3Aw%2Frd%20%25%C3%A9");
    }

    #[test]
    fn a_role_logs_in_over_tcp_with_its_password_only() {
        let Some(server) = PostgresServer::start() else { return };
        assert_eq!(server.psql("postgres", "select 1").expect("psql over the socket"), "1");
        let password = "p@ss w:rd/'\"";
        server.create_role("app", password).expect("a role");
        server.create_database_owned_by("app db", "app").expect("a database");
        let url = server.url("app", password, "app db");
        let who = server.psql_with(&url, "select current_user, current_database()").expect("a scram login over TCP");
        assert_eq!(who, "app|app db");
        let refused =
            server.psql_with(&server.url("app", "wrong", "app db"), "select 1").expect_err("a wrong password");
        assert!(refused.contains("password authentication failed"), "{refused}");
        let admin = server.psql_with(&server.admin_url("postgres"), "select current_user").expect("the admin over TCP");
        assert_eq!(admin, POSTGRES_ADMIN);
    }

    #[test]
    fn a_stopped_or_killed_server_starts_again_with_its_data() {
        let Some(server) = PostgresServer::start() else { return };
        server.create_database("kept").expect("a database");
        server.psql("kept", "create table t (n int); insert into t values (1)").expect("a row");
        server.stop();
        assert!(!server.is_running());
        assert!(server.psql("kept", "select 1").is_err(), "a stopped server answered");
        server.start_again();
        server.psql("kept", "insert into t values (2)").expect("a row after a clean stop");
        server.kill_immediately();
        assert!(server.psql("kept", "select 1").is_err(), "a killed server answered");
        server.start_again();
        assert_eq!(server.psql("kept", "select sum(n) from t").expect("the rows after a crash"), "3");
    }

    #[test]
    fn tls_clients_trust_the_test_ca_and_no_other() {
        let Some(server) = PostgresServer::start_with_tls() else { return };
        let conninfo = |ca: &std::path::Path| {
            format!(
                "host=127.0.0.1 port={} user={POSTGRES_ADMIN} password={} dbname=postgres sslmode=verify-full \
                 sslrootcert='{}'",
                server.port(),
                server.admin_password(),
                ca.display()
            )
        };
        let ssl = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
        assert_eq!(server.psql_with(&conninfo(server.ca_cert()), ssl).expect("verified TLS"), "t");
        let refused = server.psql_with(&conninfo(server.other_ca_cert()), ssl).expect_err("an unknown CA");
        assert!(refused.contains("certificate verify failed"), "{refused}");
    }
}
