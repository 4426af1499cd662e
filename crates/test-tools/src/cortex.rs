//! A throwaway Cortex for tests: one process of every component (`-target=all`) on free
//! loopback ports, its storage in a fresh temporary directory, killed and removed on drop.
//!
//! ```no_run
//! use mac_test_tools::cortex::CortexServer;
//! let Some(cortex) = CortexServer::start() else { return }; // skipped, visibly
//! let posted = cortex.post("/api/v1/rules/ns", "team-a", "application/yaml", "name: g\nrules: []\n");
//! assert_eq!(posted.status, 202);
//! println!("{}", cortex.url()); // http://127.0.0.1:PORT
//! ```
//!
//! The server is multi-tenant (`auth_enabled: true`: every request names its tenant in
//! `X-Scope-OrgID`), keeps rule groups and Alertmanager configurations in its own directory
//! (`backend: filesystem`; Cortex's `local` backend is read-only), reloads them every
//! [`CortexOptions::poll_interval`], evaluates rules every
//! [`CortexOptions::evaluation_interval`], and takes Prometheus remote write at
//! `/api/v1/push` into an ingester whose blocks are in the same directory, so that the ruler
//! evaluates what was pushed and sends its alerts to the tenant's own Alertmanager
//! (`/alertmanager`). [`CortexServer::config`] is the exact configuration it runs with.
//!
//! Requests go through a small HTTP/1.1 client of this module ([`CortexServer::request`]),
//! so that the crate stays std only; it is meant for tests and setup steps, not for the code
//! under test, which brings its own client.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::postgres::{free_port, unique_dir};
use crate::{CORTEX, CORTEX_VERSION, cortex_version, current_test, find_program, require};

/// The variable naming a Cortex binary to run instead of the one `cargo xtask cortex build`
/// made (it must still be [`CORTEX_VERSION`]).
pub const BIN_VARIABLE: &str = "MAC_CORTEX_BIN";

/// How many times a start is tried on new ports when another process took one first.
const PORT_ATTEMPTS: u32 = 5;

/// How long a start may take before `/ready` answers 200 (it takes well under a second when
/// the machine is idle; parallel builds slow it down).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many lines of the server's log a failure shows.
const LOG_TAIL_LINES: usize = 60;

/// How a [`CortexServer`] is set up beyond the defaults.
#[derive(Clone, Debug)]
pub struct CortexOptions {
    /// The ruler's default evaluation interval (a group's own `interval` overrides it).
    pub evaluation_interval: Duration,
    /// How often the ruler and the Alertmanager reread what the API stored.
    pub poll_interval: Duration,
    /// How soon the ruler sends a firing alert again (Cortex's default is a minute). Short, as
    /// the first send of a tenant's alerts is lost: the ruler's notifier finds the Alertmanager
    /// some 5 s after the tenant's first rule group loads (Prometheus' discovery updates every
    /// 5 s), and an alert "sent" to no Alertmanager counts as sent until this delay passes.
    pub resend_delay: Duration,
    /// The Alertmanager's `external_url` (the links in its notifications); default
    /// `URL/alertmanager`.
    pub alertmanager_external_url: Option<String>,
    /// Where the ruler sends alerts; default the server's own multi-tenant Alertmanager,
    /// `URL/alertmanager`.
    pub ruler_alertmanager_url: Option<String>,
    /// More YAML appended to the configuration (top-level sections not written by the
    /// defaults, such as `limits:`).
    pub extra_config: String,
    /// More command-line flags (`-log.level=debug`).
    pub extra_args: Vec<String>,
}

impl Default for CortexOptions {
    fn default() -> Self {
        CortexOptions {
            evaluation_interval: Duration::from_secs(1),
            poll_interval: Duration::from_secs(1),
            resend_delay: Duration::from_secs(1),
            alertmanager_external_url: None,
            ruler_alertmanager_url: None,
            extra_config: String::new(),
            extra_args: Vec::new(),
        }
    }
}

/// An answer of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header, when there is one.
    pub content_type: Option<String>,
    /// The body, chunked transfer decoded, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// One series of a remote-write request: its labels (`__name__` among them) and its samples
/// as (milliseconds since the epoch, value).
#[derive(Clone, Debug)]
pub struct Series<'a> {
    /// Label names and values; sorted by name when encoded.
    pub labels: &'a [(&'a str, &'a str)],
    /// Timestamps in milliseconds and values.
    pub samples: &'a [(i64, f64)],
}

/// A running Cortex of its own, killed and removed on drop (its log's last lines printed first
/// when the test is failing).
#[derive(Debug)]
pub struct CortexServer {
    dir: PathBuf,
    log: PathBuf,
    config: String,
    http_port: u16,
    grpc_port: u16,
    child: Child,
}

/// The Cortex binary the tests run: [`BIN_VARIABLE`] when set, else the one `cargo xtask cortex
/// build` made in [`crate::TOOLS_BIN`]; `None` only after a visible skip (see [`crate::require`]).
/// Panics when [`BIN_VARIABLE`] names a binary that does not run or is another version.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(BIN_VARIABLE).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        match cortex_version(&path) {
            Some(version) if version == CORTEX_VERSION => return Some(path),
            found => panic!(
                "{BIN_VARIABLE}={} is not Cortex {CORTEX_VERSION} (`-version` says {found:?}): unset it to use the \
                 one `cargo xtask cortex build` makes",
                path.display()
            ),
        }
    }
    let found = find_program(CORTEX.candidates, CORTEX.probe)
        .filter(|path| cortex_version(path).as_deref() == Some(CORTEX_VERSION));
    require(&current_test(), CORTEX.name, found, CORTEX.install)
}

impl CortexServer {
    /// A server with the defaults; `None` only after a visible skip. Panics, with the server's
    /// log, when it cannot start.
    pub fn start() -> Option<Self> {
        Self::start_with(CortexOptions::default())
    }

    /// A server set up with `options`; `None` only after a visible skip.
    pub fn start_with(options: CortexOptions) -> Option<Self> {
        let binary = binary()?;
        Some(Self::start_binary(&binary, &options).unwrap_or_else(|err| panic!("{err}")))
    }

    /// Starts `binary` (a Cortex [`CORTEX_VERSION`]) with `options`, without the skip
    /// convention: what `cargo xtask cortex run` uses.
    pub fn start_binary(binary: &Path, options: &CortexOptions) -> Result<Self, String> {
        let dir = unique_dir("mac-cortex")?.keep();
        // The ruler lists its rule directory at start and logs an error when it is missing.
        std::fs::create_dir_all(dir.join("ruler-tmp"))
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let (http_port, grpc_port) = two_free_ports(&dir)?;
            let config = config_yaml(&dir, http_port, grpc_port, options);
            let path = dir.join("cortex.yaml");
            std::fs::write(&path, &config).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
            let log = dir.join("cortex.log");
            let output =
                std::fs::File::create(&log).map_err(|err| format!("cannot create {}: {err}", log.display()))?;
            let errors = output.try_clone().map_err(|err| format!("cannot share {}: {err}", log.display()))?;
            let mut child = Command::new(binary)
                .arg(format!("-config.file={}", path.display()))
                .args(&options.extra_args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(output)
                .stderr(errors)
                .spawn()
                .map_err(|err| format!("could not start {}: {err}", binary.display()))?;
            match wait_ready(&mut child, http_port) {
                Ok(()) => return Ok(CortexServer { dir, log, config, http_port, grpc_port, child }),
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = read_log(&log);
                    if !text.contains("address already in use") {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(format!("{err}; {}", tail(&text)));
                    }
                    // Another process took a port between our pick and Cortex's bind.
                    last = err;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(format!("Cortex could not bind free ports in {PORT_ATTEMPTS} attempts: {last}"))
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// The server's directory: `cortex.yaml`, `cortex.log` and every data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration file the server runs with, as written.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The path of the server's log (standard output and error).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// The log's last lines, introduced as such, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log())
    }

    /// Sends `method path` with `tenant` as `X-Scope-OrgID` (none when `None`) and `body`
    /// as (content type, bytes); panics with the log's tail when the server does not answer.
    pub fn request(&self, method: &str, path: &str, tenant: Option<&str>, body: Option<(&str, &[u8])>) -> HttpResponse {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(tenant) = tenant {
            headers.push(("X-Scope-OrgID", tenant));
        }
        if let Some((content_type, _)) = body {
            headers.push(("Content-Type", content_type));
        }
        let sent = http(self.http_port, method, path, &headers, body.map_or(&[][..], |(_, bytes)| bytes));
        sent.unwrap_or_else(|err| panic!("{method} {path}: {err}; {}", self.log_tail()))
    }

    /// `GET path` as `tenant`.
    pub fn get(&self, path: &str, tenant: &str) -> HttpResponse {
        self.request("GET", path, Some(tenant), None)
    }

    /// `POST path` as `tenant`, with `body` of `content_type`.
    pub fn post(&self, path: &str, tenant: &str, content_type: &str, body: &str) -> HttpResponse {
        self.request("POST", path, Some(tenant), Some((content_type, body.as_bytes())))
    }

    /// `DELETE path` as `tenant`.
    pub fn delete(&self, path: &str, tenant: &str) -> HttpResponse {
        self.request("DELETE", path, Some(tenant), None)
    }

    /// Prometheus remote write (protobuf, snappy) of `series` to `/api/v1/push` as `tenant`;
    /// Cortex answers 200 with an empty body when it took them.
    pub fn push(&self, tenant: &str, series: &[Series<'_>]) -> HttpResponse {
        let body = snappy_block(&write_request(series));
        let headers = [
            ("X-Scope-OrgID", tenant),
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ];
        http(self.http_port, "POST", "/api/v1/push", &headers, &body)
            .unwrap_or_else(|err| panic!("POST /api/v1/push: {err}; {}", self.log_tail()))
    }

    /// The process's exit status once it has exited (it never should while the value lives).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Calls `check` every 100 ms until it returns `Some`, for at most `timeout`; panics naming
    /// `what`, with the log's tail, when it never does.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            if started.elapsed() > timeout {
                panic!("waited {timeout:?} for {what}; {}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits until the process answers `GET /ready` with 200, or exits.
fn wait_ready(child: &mut Child, http_port: u16) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("Cortex exited with {status} before it was ready"));
        }
        let last = match http(http_port, "GET", "/ready", &[], &[]) {
            Ok(answer) if answer.status == 200 => return Ok(()),
            Ok(answer) => format!("{} {}", answer.status, answer.body.trim()),
            Err(err) => err,
        };
        if started.elapsed() > READY_TIMEOUT {
            return Err(format!("Cortex was not ready after {READY_TIMEOUT:?} (last /ready: {last})"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(log: &Path) -> String {
    std::fs::read(log).map(|log| String::from_utf8_lossy(&log).into_owned()).unwrap_or_default()
}

/// A log's last lines, introduced as such.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    format!("Cortex's log, last lines:\n{}", lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n"))
}

impl Drop for CortexServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The configuration of one server: every component in one process on loopback, rings in
/// memory, storage under `dir`.
pub fn config_yaml(dir: &Path, http_port: u16, grpc_port: u16, options: &CortexOptions) -> String {
    let url = format!("http://127.0.0.1:{http_port}");
    let external = options.alertmanager_external_url.clone().unwrap_or_else(|| format!("{url}/alertmanager"));
    let ruler_am = options.ruler_alertmanager_url.clone().unwrap_or_else(|| format!("{url}/alertmanager"));
    let dir = dir.display();
    let evaluation = go_duration(options.evaluation_interval);
    let poll = go_duration(options.poll_interval);
    let resend = go_duration(options.resend_delay);
    let mut config = format!(
        "# One Cortex for one test (mac-test-tools): every component in this process, on loopback.
target: all
auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {http_port}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {grpc_port}
  graceful_shutdown_timeout: 0s
distributor:
  shard_by_all_labels: true
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
ingester:
  lifecycler:
    address: 127.0.0.1
    join_after: 0s
    observe_period: 0s
    min_ready_duration: 0s
    final_sleep: 0s
    num_tokens: 128
    ring:
      kvstore:
        store: inmemory
      replication_factor: 1
blocks_storage:
  backend: filesystem
  filesystem:
    dir: {dir}/blocks
  tsdb:
    dir: {dir}/tsdb
  bucket_store:
    sync_dir: {dir}/tsdb-sync
compactor:
  data_dir: {dir}/compactor
  sharding_ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
store_gateway:
  sharding_ring:
    instance_addr: 127.0.0.1
    replication_factor: 1
    kvstore:
      store: inmemory
frontend_worker:
  match_max_concurrent: true
ruler:
  enable_api: true
  rule_path: {dir}/ruler-tmp
  evaluation_interval: {evaluation}
  poll_interval: {poll}
  alertmanager_url: {ruler_am}
  resend_delay: {resend}
  ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
ruler_storage:
  backend: filesystem
  filesystem:
    dir: {dir}/rules
alertmanager:
  enable_api: true
  data_dir: {dir}/alertmanager
  external_url: {external}
  poll_interval: {poll}
  cluster:
    listen_address: \"\"
  sharding_ring:
    instance_addr: 127.0.0.1
    kvstore:
      store: inmemory
alertmanager_storage:
  backend: filesystem
  filesystem:
    dir: {dir}/alertmanager-configs
"
    );
    config.push_str(&options.extra_config);
    config
}

/// A duration as Go's `time.ParseDuration` reads it, in milliseconds.
fn go_duration(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// Two distinct free loopback ports, never handed out before by this process: parallel tests
/// each get their own even when the kernel gives a closed port again.
fn two_free_ports(dir: &Path) -> Result<(u16, u16), String> {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed = HANDED_OUT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let handed = handed.get_or_insert_with(HashSet::new);
    let mut ports = Vec::new();
    for _ in 0..100 {
        let port = free_port().map_err(|err| format!("no free loopback port for {}: {err}", dir.display()))?;
        if handed.insert(port) {
            ports.push(port);
        }
        if let [http, grpc] = ports[..] {
            return Ok((http, grpc));
        }
    }
    Err("the kernel kept giving ports already handed out".to_owned())
}

/// One HTTP/1.1 exchange on a new connection (`Connection: close`).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|err| format!("cannot connect: {err}"))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT)).map_err(|err| err.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|err| format!("cannot send: {err}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|err| format!("cannot read the answer: {err}"))?;
    parse_response(&answer)
}

fn parse_response(answer: &[u8]) -> Result<HttpResponse, String> {
    let split = answer.windows(4).position(|window| window == b"\r\n\r\n").ok_or("an answer without a header end")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let rest = &answer[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status in `{status_line}`"))?;
    let mut content_type = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Ok(HttpResponse { status, content_type, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest.windows(2).position(|window| window == b"\r\n").ok_or("a chunk without a size line")?;
        let line = String::from_utf8_lossy(&rest[..end]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("a bad chunk size `{size_text}`"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// A remote-write `WriteRequest` in protobuf: `timeseries = 1` of `TimeSeries { labels = 1
/// (Label { name = 1, value = 2 }), samples = 2 (Sample { value = 1 double, timestamp = 2
/// int64 }) }`.
pub fn write_request(series: &[Series<'_>]) -> Vec<u8> {
    let mut request = Vec::new();
    for one in series {
        let mut labels = one.labels.to_vec();
        labels.sort_by_key(|(name, _)| *name);
        let mut encoded = Vec::new();
        for (name, value) in labels {
            let mut label = Vec::new();
            field_bytes(&mut label, 1, name.as_bytes());
            field_bytes(&mut label, 2, value.as_bytes());
            field_bytes(&mut encoded, 1, &label);
        }
        for (timestamp, value) in one.samples {
            let mut sample = vec![(1 << 3) | 1];
            sample.extend_from_slice(&value.to_le_bytes());
            sample.push(2 << 3);
            // int64 as a varint: two's complement for negative values, as protobuf does.
            varint(&mut sample, u64::from_ne_bytes(timestamp.to_ne_bytes()));
            field_bytes(&mut encoded, 2, &sample);
        }
        field_bytes(&mut request, 1, &encoded);
    }
    request
}

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// `data` in snappy's block format, as literals only: valid snappy, just not smaller.
pub fn snappy_block(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    varint(&mut out, data.len() as u64);
    for chunk in data.chunks(65_536) {
        let n = chunk.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else if n < 256 {
            out.push(60 << 2);
            out.push(n as u8);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{dechunk, parse_response, snappy_block, varint};

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
    }

    #[test]
    fn snappy_literals_carry_their_length() {
        assert_eq!(snappy_block(b"abc"), [3, 2 << 2, b'a', b'b', b'c']);
        let long = vec![7u8; 100];
        let block = snappy_block(&long);
        assert_eq!(&block[..3], [100, 60 << 2, 99]);
        assert_eq!(block.len(), 103);
        let longer = vec![7u8; 300];
        assert_eq!(&snappy_block(&longer)[..5], [0xac, 0x02, 61 << 2, 0x2b, 0x01]);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"), Ok(b"abcde".to_vec()));
        let answer =
            parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno rule groups found\n")
                .expect("an answer");
        assert_eq!((answer.status, answer.content_type.as_deref()), (404, Some("text/plain")));
        assert_eq!(answer.body, "no rule groups found\n");
    }
}
