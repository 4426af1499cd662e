//! `cargo xtask cortex build|run`: the real Cortex the cortex provider's tests run against.
//!
//! - `build` (also a step of `cargo xtask setup`) builds Cortex
//!   [`mac_test_tools::CORTEX_VERSION`] from its Go module into `$HOME/.cache/mac/tools/bin/cortex`
//!   and does nothing when that binary is already this version. `go install …@v…` refuses the
//!   module (its go.mod has replace directives), so the module is downloaded (`go mod download
//!   -json`), copied out of the read-only module cache into a directory beside the target, and
//!   built there with `CGO_ENABLED=0 go build -tags "netgo slicelabels"`, as Cortex's Makefile
//!   does: without `slicelabels` the binary runs out of memory on the first rule-group POST. The
//!   version is stamped with `-ldflags -X main.Version=…`, so `cortex -version` says it; the
//!   binary is then renamed into place, so a test never runs half of one. It needs Go 1.25 or
//!   later (the module's go.mod), takes about 2 minutes on 2 cores and leaves about 3.4 GB in
//!   Go's module and build caches.
//! - `run` starts one Cortex on loopback in the foreground, configured as the tests configure
//!   theirs (`mac_test_tools::cortex`), and prints its URL; Ctrl-C stops it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mac_test_tools::CORTEX_VERSION;
use mac_test_tools::cortex::{CortexOptions, CortexServer};

use crate::setup::{GO_FALLBACK, run_captured, seconds};

/// The module Cortex is built from.
const MODULE: &str = "github.com/cortexproject/cortex";

/// The oldest Go that builds it (the `go` line of its go.mod).
const MIN_GO: (u32, u32) = (1, 25);

const USAGE: &str = "usage: cargo xtask cortex build | cargo xtask cortex run [CORTEX FLAG…]";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["build"] => ensure(),
        ["run", ..] => serve(&args[1..]),
        _ => Err(USAGE.to_owned()),
    }
}

/// Builds Cortex into the tools directory unless it is there at the pinned version; prints
/// one line saying which, with the time a build took.
pub(crate) fn ensure() -> Result<(), String> {
    let bin = mac_test_tools::expand_home(mac_test_tools::TOOLS_BIN)
        .ok_or("HOME is not set: Cortex is built into $HOME/.cache/mac/tools/bin")?;
    let target = bin.join("cortex");
    let present = mac_test_tools::cortex_version(&target);
    if present.as_deref() == Some(CORTEX_VERSION) {
        println!("setup: cortex {CORTEX_VERSION}: present at {}", target.display());
        return Ok(());
    }
    let go = go()?;
    let started = Instant::now();
    std::fs::create_dir_all(&bin).map_err(|err| format!("cannot create {}: {err}", bin.display()))?;
    // Built in a directory of its own beside the target, then renamed: a test never runs half a
    // binary, and a failed build leaves nothing behind.
    let building = bin.join(format!(".cortex.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let built = build(&go, &building).and_then(|binary| match mac_test_tools::cortex_version(&binary) {
        Some(found) if found == CORTEX_VERSION => std::fs::rename(&binary, &target)
            .map_err(|err| format!("cannot rename {} to {}: {err}", binary.display(), target.display())),
        found => {
            Err(format!("the build made {}, whose -version says {found:?}, not {CORTEX_VERSION}", binary.display()))
        }
    });
    let _ = std::fs::remove_dir_all(&building);
    built?;
    let before = present.map_or_else(String::new, |old| format!(", replacing {old}"));
    println!(
        "setup: cortex {CORTEX_VERSION}: built with {} into {}{before} ({:.1} s)",
        go.display(),
        target.display(),
        seconds(started)
    );
    Ok(())
}

/// `go` on PATH or at [`GO_FALLBACK`], when it is at least [`MIN_GO`]; otherwise an error
/// saying what to install.
fn go() -> Result<PathBuf, String> {
    go_among(&["go", GO_FALLBACK])
}

fn go_among(candidates: &[&str]) -> Result<PathBuf, String> {
    let Some(go) = mac_test_tools::find_program(candidates, &["version"]) else {
        return Err(format!(
            "the cortex provider's tests need Cortex {CORTEX_VERSION}, which setup builds with Go, and there is no \
             `go` on PATH nor at {GO_FALLBACK}: install Go {}.{} or later (https://go.dev/dl/), then rerun",
            MIN_GO.0, MIN_GO.1
        ));
    };
    let output = Command::new(&go).arg("version").stdin(Stdio::null()).output();
    let text = output.map(|output| String::from_utf8_lossy(&output.stdout).into_owned()).unwrap_or_default();
    match go_version(&text) {
        Some(found) if found >= MIN_GO => Ok(go),
        _ => Err(format!(
            "Cortex {CORTEX_VERSION} needs Go {}.{} or later, and {} says `{}`: install a newer Go (https://go.dev/dl/), \
             then rerun",
            MIN_GO.0,
            MIN_GO.1,
            go.display(),
            text.trim()
        )),
    }
}

/// (major, minor) of `go version`'s `go version go1.26.8 linux/amd64`.
fn go_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split_whitespace().nth(2)?.strip_prefix("go")?;
    let mut parts = version.split(['.', 'r', 'b', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Downloads the module, copies it into `building/src` and builds `building/cortex` there.
fn build(go: &Path, building: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(building).map_err(|err| format!("cannot create {}: {err}", building.display()))?;
    let mut download = Command::new(go);
    download
        .args(["mod", "download", "-json", &format!("{MODULE}@v{CORTEX_VERSION}")])
        .env("GOWORK", "off")
        .current_dir(building);
    eprintln!("$ {}", crate::describe(&download));
    let output = download
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("could not start `{}`: {err}", crate::describe(&download)))?;
    let json = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`{}` failed with {}: {}{}",
            crate::describe(&download),
            output.status,
            json.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let module = json_string(&json, "Dir").ok_or_else(|| format!("`go mod download -json` named no Dir: {json}"))?;
    let source = building.join("src");
    // The module cache is read-only; the build writes beside the sources (go.sum updates).
    copy_writable(Path::new(&module), &source)?;
    let binary = building.join("cortex");
    let ldflags = format!(
        "-X main.Version={CORTEX_VERSION} -X main.Branch=release-{} -X main.Revision=v{CORTEX_VERSION} -s -w",
        CORTEX_VERSION.rsplit_once('.').map_or(CORTEX_VERSION, |(minor, _)| minor)
    );
    // -trimpath: the sources are in a new directory each build; without it their path is part
    // of every cached package of the module, and a rebuild recompiles them all.
    let mut go_build = Command::new(go);
    go_build
        .args(["build", "-trimpath", "-tags", "netgo slicelabels", "-ldflags", &ldflags, "-o"])
        .arg(&binary)
        .arg("./cmd/cortex")
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        .current_dir(&source);
    run_captured(&mut go_build)?;
    Ok(binary)
}

/// The string value of `"key": "…"` in `go`'s indented JSON (paths without escapes but `\\`).
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let rest = &json[start..];
    let end = rest.find('"')?;
    Some(rest[..end].replace("\\\\", "\\"))
}

/// Copies the tree `from` to `to` (which must not exist), every copy writable by its owner.
fn copy_writable(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|err| format!("cannot read {}: {err}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| format!("cannot read {}: {err}", from.display()))?;
        let (source, copy) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|err| format!("cannot stat {}: {err}", source.display()))?;
        if kind.is_dir() {
            copy_writable(&source, &copy)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &copy)
                .map_err(|err| format!("cannot copy {} to {}: {err}", source.display(), copy.display()))?;
            let mode = std::fs::metadata(&copy).map_err(|err| err.to_string())?.permissions().mode();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(mode | 0o200))
                .map_err(|err| format!("cannot make {} writable: {err}", copy.display()))?;
        }
    }
    Ok(())
}

/// Starts one Cortex as the tests do and keeps it running until it exits or Ctrl-C;
/// `flags` go to Cortex after the configuration file (`-log.level=debug`).
fn serve(flags: &[String]) -> Result<(), String> {
    ensure()?;
    let binary = mac_test_tools::expand_home(mac_test_tools::TOOLS_BIN).ok_or("HOME is not set")?.join("cortex");
    let options = CortexOptions { extra_args: flags.to_vec(), ..CortexOptions::default() };
    let mut server = CortexServer::start_binary(&binary, &options)?;
    println!("cortex {CORTEX_VERSION}: {}", server.url());
    println!("  config: {}/cortex.yaml", server.dir().display());
    println!("  log:    {}", server.log_path().display());
    println!("  try:    curl -H 'X-Scope-OrgID: team-a' {}/api/v1/rules", server.url());
    println!("Ctrl-C stops it (its directory under {} is left behind then)", std::env::temp_dir().display());
    loop {
        if let Some(status) = server.exited() {
            return Err(format!("Cortex exited with {status}; {}", server.log_tail()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::{go_among, go_version, json_string};

    #[test]
    fn without_go_or_with_an_old_one_the_build_stops_saying_what_to_install() {
        use std::os::unix::fs::PermissionsExt;
        let _fake_programs = crate::FAKE_PROGRAMS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let missing = go_among(&["/nonexistent/go"]).expect_err("no Go");
        assert!(
            missing.contains("there is no `go` on PATH") && missing.contains("install Go 1.25 or later"),
            "{missing}"
        );
        let dir = std::env::temp_dir().join(format!("xtask-cortex-go-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let old = dir.join("go");
        std::fs::write(&old, "#!/bin/sh\necho go version go1.22.5 linux/amd64\n").expect("a fake go");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).expect("executable");
        let found = go_among(&[old.to_str().expect("a UTF-8 path")]);
        let _ = std::fs::remove_dir_all(&dir);
        let message = found.expect_err("too old");
        assert!(message.contains("needs Go 1.25 or later") && message.contains("go1.22.5"), "{message}");
    }

    #[test]
    fn go_versions_are_read_from_go_version() {
        assert_eq!(go_version("go version go1.26.8 linux/amd64\n"), Some((1, 26)));
        assert_eq!(go_version("go version go1.25rc1 linux/amd64"), Some((1, 25)));
        assert_eq!(go_version("go version go1.9 linux/amd64"), Some((1, 9)));
        assert_eq!(go_version("not go"), None);
    }

    #[test]
    fn the_module_directory_comes_from_go_mod_download_json() {
        let json = "{\n\t\"Path\": \"github.com/cortexproject/cortex\",\n\t\"Dir\": \"/root/go/pkg/mod/github.com/cortexproject/cortex@v1.21.1\",\n\t\"Sum\": \"h1:x\"\n}\n";
        assert_eq!(
            json_string(json, "Dir").as_deref(),
            Some("/root/go/pkg/mod/github.com/cortexproject/cortex@v1.21.1")
        );
        assert_eq!(json_string(json, "Zip"), None);
    }
}
