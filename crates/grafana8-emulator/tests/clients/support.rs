//! The harness: an in-process emulator on its own runtime, the client virtualenvs, and running
//! a client program with a time limit.

use grafana8_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the harness's own requests to the emulator may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The harness's HTTP client: every request gives up after `timeout`.
fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().expect("an HTTP client")
}

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
        Server { emu: Some(emu), http: http_client(HTTP_TIMEOUT), rt }
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
            let resp = request.send().await.unwrap_or_else(|e| panic!("GET {path}: no answer: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_else(|e| panic!("GET {path}: no body: {e}"));
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
#[derive(Debug)]
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

/// A pipe read to its end on a thread of its own (so that a full pipe cannot stall the
/// child), into a buffer that can be read before the end.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    done: std::thread::JoinHandle<()>,
}

impl Drain {
    fn start(mut pipe: impl Read + Send + 'static) -> Drain {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let done = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Drain { buf, done }
    }

    /// What was read so far.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Everything, once the pipe is closed (every process holding it has ended).
    fn finish(self) -> String {
        let Drain { buf, done } = self;
        let _ = done.join();
        String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Everything, or what was read within `grace` if a process still holds the pipe.
    fn finish_within(self, grace: Duration) -> String {
        let start = Instant::now();
        while !self.done.is_finished() && start.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.text()
    }
}

/// Runs `cmd` to the end, killing it after `limit` (the clients set no HTTP timeouts). The
/// client runs in a process group of its own, and a timeout kills the whole group (for
/// `ansible-playbook`, its workers and module processes too), then fails with the output so far.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let out = Drain::start(child.stdout.take().expect("piped stdout"));
    let err = Drain::start(child.stderr.take().expect("piped stderr"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if start.elapsed() > limit {
            // The group's id is the child's pid, not reusable before the child is reaped below.
            let group = format!("-{}", child.id());
            let killed = Command::new("kill").args(["-KILL", "--", &group]).status();
            if !killed.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let _ = child.wait();
            let grace = Duration::from_secs(2);
            let so_far = Output { success: false, stdout: out.finish_within(grace), stderr: err.finish_within(grace) };
            panic!(
                "{shown} ran longer than {limit:?}; killed its process group. Its output so far:\n{}",
                so_far.both()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { success: status.success(), stdout: out.finish(), stderr: err.finish() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeout kills the child's whole group (here a grandchild `sleep` that holds the
    /// pipes) and fails with what the child wrote so far, without waiting for the grandchild.
    #[test]
    fn a_timeout_kills_the_process_group_and_shows_the_output_so_far() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pidfile = dir.path().join("pid");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(r#"echo started; echo oops >&2; sleep 300 & echo $! > "$0"; wait"#).arg(&pidfile);
        let start = Instant::now();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cmd, Duration::from_secs(1))))
            .expect_err("the run times out");
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("killed its process group"), "{message}");
        assert!(message.contains("--- stdout\nstarted") && message.contains("--- stderr\noops"), "{message}");
        let sleep = std::fs::read_to_string(&pidfile).expect("the grandchild's pid");
        // Gone, or a zombie waiting for whoever inherited it to reap it.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", sleep.trim())).unwrap_or_default();
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        assert!(matches!(state, None | Some("Z" | "X")), "the grandchild sleep still runs: {stat}");
    }

    /// The harness's requests give up on a server that never answers.
    #[test]
    fn the_harness_gets_time_out() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let url = format!("http://{}/api/health", silent.local_addr().expect("an address"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let start = Instant::now();
        let client = http_client(Duration::from_millis(300));
        let result = rt.block_on(async { client.get(url).send().await });
        assert!(result.is_err_and(|e| e.is_timeout()), "no timeout");
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    }
}
