//! The Grafana 8.5 emulator as a child process on a free loopback port, for the tasks that
//! drive the real `mac` binary against it (demo, reliability).

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
