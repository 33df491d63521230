//! Running commands from the workspace root, echoing each one first.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

/// `cargo` as invoked by the caller.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs `command`, failing with its description when it does not succeed.
pub fn exec(mut command: Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}").replace('"', "");
    eprintln!("\n==> {shown}");
    let status = command.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Adds the wasm32 target with rustup when it is not installed yet.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).current_dir(root()).output();
    let installed =
        out.map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown")).unwrap_or(false);
    if !installed {
        let mut add = Command::new("rustup");
        add.args(["target", "add", "wasm32-unknown-unknown"]).current_dir(root());
        exec(add)?;
    }
    Ok(())
}
