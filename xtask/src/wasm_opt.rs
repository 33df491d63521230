//! Shrinking the widget's wasm modules with binaryen's `wasm-opt`, installed from npm at the
//! version `widget/tools/package-lock.json` pins (Debian's binaryen is too old: its output
//! fails at run time). Optional: without Node.js and npm, or if the install fails, the build
//! goes on with the modules as wasm-bindgen wrote them and says so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{exec, root};

/// `-Oz` until nothing more shrinks; the sections no browser reads go too.
/// `--low-memory-unused` lets it fold address arithmetic into load and store offsets: Rust's
/// wasm32 layout puts a 1 MiB stack first, growing down towards address 0, so the low 1 KiB
/// is reached only by a stack 1,023 KiB deep (121 bytes brotli off the tracker).
const FLAGS: &[&str] = &[
    "--low-memory-unused",
    "-Oz",
    "--converge",
    "--strip-debug",
    "--strip-producers",
    "--strip-target-features",
];

/// `wasm-opt`, ready to run.
pub struct WasmOpt {
    script: PathBuf,
}

impl WasmOpt {
    /// Installs the pinned binaryen under `target/widget-tools` (once), or says why it cannot.
    pub fn install() -> anyhow::Result<Self> {
        let tools = root().join("target/widget-tools");
        let script = tools.join("node_modules/binaryen/bin/wasm-opt");
        let pinned = root().join("widget/tools");
        let lock = fs::read(pinned.join("package-lock.json"))?;
        let installed_lock = tools.join("installed-lock.json");
        if !script.exists() || fs::read(&installed_lock).ok().as_deref() != Some(&lock[..]) {
            fs::create_dir_all(&tools)?;
            fs::copy(pinned.join("package.json"), tools.join("package.json"))?;
            fs::copy(pinned.join("package-lock.json"), tools.join("package-lock.json"))?;
            let mut npm = Command::new("npm");
            npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&tools);
            exec(npm)?;
            fs::write(&installed_lock, &lock)?;
        }
        Ok(Self { script })
    }

    /// Optimises the module at `path` in place.
    pub fn run(&self, path: &Path) -> anyhow::Result<()> {
        let out = path.with_extension("opt.wasm");
        let mut node = Command::new("node");
        node.arg(&self.script).args(FLAGS).arg(path).arg("-o").arg(&out);
        exec(node)?;
        fs::rename(&out, path)?;
        Ok(())
    }
}
