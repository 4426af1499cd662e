//! The Grafana 8.5 emulator as a child process on a free loopback port, for the tasks that
//! drive the real `mac` binary against it (demo, reliability).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator; dropping it stops the process however the task ends.
pub(crate) struct Emulator {
    child: Child,
    pub(crate) port: u16,
}

impl Emulator {
    /// Starts `binary` with `seed` on a free port and waits until it listens.
    pub(crate) fn start(binary: &Path, seed: &Path) -> Result<Emulator, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("no free loopback port: {err}"))?
            .port();
        let child = Command::new(binary)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--quiet", "--seed"])
            .arg(seed)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start the emulator: {err}"))?;
        let emulator = Emulator { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("the emulator did not listen on port {port} within 30s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(emulator)
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange with the emulator (xtask has no dependencies).
pub(crate) fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|err| err.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|err| err.to_string())?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|err| err.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|err| err.to_string())?;
    Ok(response)
}

/// Replaces the emulator's fault configuration (`PUT /__emulator/faults`).
pub(crate) fn set_faults(port: u16, json: &str) -> Result<(), String> {
    let response = http(port, "PUT", "/__emulator/faults", Some(json))?;
    if response.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("the emulator refused the faults: {}", response.lines().next().unwrap_or_default()))
    }
}
