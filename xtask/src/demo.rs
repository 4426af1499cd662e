//! `cargo xtask demo`: the main job end to end. Starts the Grafana 8.5 emulator on a free
//! loopback port, then on a scratch copy of `examples/grafana`: validate, plan, apply, a clean
//! re-plan, an edit, and the plan that shows exactly that edit.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::emulator::Emulator;
use crate::{project_root, run_command};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`demo` takes no arguments, got `{extra}`"));
    }
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_command(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--quiet",
        "--package",
        "mac-cli",
        "--package",
        "grafana8-emulator",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = |name: &str| target.join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));

    let example = root.join("examples/grafana");
    let emulator = Emulator::start(&binary("grafana8-emulator"), &example.join("seed.toml"))?;
    let url = emulator.url();
    println!("Grafana 8.5 emulator listening on {url} (admin/admin)");

    let scratch = std::env::temp_dir().join(format!("mac-demo-{}", std::process::id()));
    copy_dir(&example, &scratch).map_err(|err| format!("cannot copy the example: {err}"))?;
    println!("demo project: {}", scratch.display());

    let mac = binary("mac");
    let step_expecting = |title: &str, args: &[&str], expected: i32| -> Result<(), String> {
        println!("\n=== {title}: mac {}", args.join(" "));
        let status = Command::new(&mac)
            .current_dir(&scratch)
            .args(args)
            .env("MAC_GRAFANA8_URL", &url)
            .env("GRAFANA_PASSWORD", "admin")
            .status()
            .map_err(|err| format!("cannot run {}: {err}", mac.display()))?;
        if status.code() == Some(expected) {
            Ok(())
        } else {
            Err(format!("`mac {}` ended with {status}, expected exit code {expected}", args.join(" ")))
        }
    };
    let step = |title: &str, args: &[&str]| step_expecting(title, args, 0);
    step("providers compiled in", &["providers"])?;
    step("check the definitions offline", &["validate"])?;
    step_expecting("what would change", &["plan", "--detailed-exitcode"], 2)?;
    step("apply it", &["apply", "--auto-approve"])?;
    step_expecting("a re-plan right after apply is empty", &["plan", "--detailed-exitcode"], 0)?;
    let definitions = scratch.join("definitions/payments.toml");
    let text = std::fs::read_to_string(&definitions).map_err(|err| err.to_string())?;
    std::fs::write(&definitions, text.replace("$A > 0.05", "$A > 0.02")).map_err(|err| err.to_string())?;
    println!("\n(edited definitions/payments.toml: 5xx threshold 0.05 -> 0.02)");
    step_expecting("the plan shows exactly that field", &["plan", "--detailed-exitcode"], 2)?;
    step("apply the edit", &["apply", "--auto-approve"])?;
    step("what mac manages now", &["state", "list"])?;
    let _ = std::fs::remove_dir_all(&scratch);
    println!("\ndemo complete");
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let destination = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &destination)?;
        } else {
            std::fs::copy(entry.path(), destination)?;
        }
    }
    Ok(())
}
