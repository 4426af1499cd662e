//! The harness: an in-process emulator on its own runtime, the client virtualenvs, and running
//! a client program with a time limit.

use grafana8_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// This test target's folder (`crates/grafana8-emulator/tests/clients`).
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// An emulator served by a runtime of its own, so that the test thread can block on a client
/// process while the emulator answers it.
pub struct Server {
    emu: Option<Emulator>,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Server {
    /// A fresh emulator on a free loopback port, with no latency and no faults.
    pub fn start() -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let emu = rt.block_on(Emulator::start(EmulatorConfig::default())).expect("the emulator starts");
        Server { emu: Some(emu), http: reqwest::Client::new(), rt }
    }

    pub fn emu(&self) -> &Emulator {
        self.emu.as_ref().expect("the emulator runs until the server is dropped")
    }

    pub fn url(&self) -> String {
        self.emu().base_url()
    }

    /// Creates a Prometheus data source (not counted) and returns its uid.
    pub fn prometheus(&self, name: &str) -> String {
        self.rt
            .block_on(self.emu().create_prometheus_datasource(name, "http://127.0.0.1:9090"))
            .expect("the data source is created")
    }

    /// `GET path` as the server admin: the status and the JSON body (`Null` when empty).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let emu = self.emu();
        let request =
            self.http.get(format!("{}{path}", emu.base_url())).basic_auth(emu.admin_user(), Some(emu.admin_password()));
        self.rt.block_on(async {
            let resp = request.send().await.expect("the emulator answers");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("a body");
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    /// Like [`Server::get`], for a path that must answer 200.
    pub fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The requests counted since the last reset that were not GETs, as `METHOD route: n`.
    pub fn writes(&self) -> Vec<String> {
        self.emu()
            .request_counts()
            .into_iter()
            .filter(|((method, _), _)| method != "GET" && method != "HEAD")
            .map(|((method, route), n)| format!("{method} {route}: {n}"))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The emulator's shutdown signal needs its runtime still alive.
        drop(self.emu.take());
    }
}

/// Where the client virtualenvs live: `$MAC_CLIENT_VENVS`, else `$HOME/.cache/mac/clients`.
pub fn venvs_root() -> PathBuf {
    match std::env::var_os("MAC_CLIENT_VENVS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/mac/clients"),
    }
}

/// The venv `name` (`python-original` or `ansible`) when its python has every package pinned in
/// `tests/clients/<name>/requirements.txt` at the pinned version; when not, a failure that says
/// how to make it (or, with `MAC_TEST_SKIP_MISSING`, a visible skip and `None`).
pub fn venv(test: &str, name: &str) -> Option<PathBuf> {
    let requirements = clients_dir().join(name).join("requirements.txt");
    let pins: Vec<(String, String)> = std::fs::read_to_string(&requirements)
        .expect("the requirements file is in the repository")
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split_once("=="))
        .map(|(package, version)| (package.trim().to_string(), version.trim().to_string()))
        .collect();
    assert!(!pins.is_empty(), "{} pins no package", requirements.display());
    let dir = venvs_root().join(name);
    // Exits non-zero when a package is missing (PackageNotFoundError) or at another version.
    let probe = format!(
        "import importlib.metadata as m, sys; sys.exit(any(m.version(p) != v for p, v in {}))",
        serde_json::to_string(&pins).unwrap_or_default()
    );
    let found = mac_test_tools::find_program(&[&dir.join("bin/python").to_string_lossy()], &["-c", &probe]);
    let install = format!(
        "python3 -m venv {dir} && {dir}/bin/pip install -r {req}",
        dir = dir.display(),
        req = requirements.display()
    );
    mac_test_tools::require(test, &format!("{name}-venv"), found, &install).map(|_| dir)
}

/// What a finished client process wrote.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Both streams, for a failure message.
    pub fn both(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` to the end, killing it after `limit` (the clients set no HTTP timeouts).
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    // Read both pipes on threads so that a full pipe cannot stall the child.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} ran longer than {limit:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { success: status.success(), stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}
