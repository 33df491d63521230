//! `cargo xtask test`: every check CI runs, in order, stopping at the first failure.

use crate::cmd::{cargo, ensure_wasm_target, exec};

/// The wasm crates are checked for wasm32 and never built natively.
const WASM_CRATES: [&str; 2] = ["lodestone-tracker", "lodestone-popup"];

pub fn run() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    exec(fmt)?;

    ensure_wasm_target()?;
    // One run per wasm crate: the tracker is `no_std`, and checked together with the popup it
    // would see `std` (which Leptos needs) in its dependency graph.
    // The tracker also with `--features debug`, its debug build.
    let runs: [(&str, &[&str]); 3] =
        [(WASM_CRATES[0], &[]), (WASM_CRATES[0], &["--features", "debug"]), (WASM_CRATES[1], &[])];
    for (c, features) in runs {
        let mut wasm = cargo();
        wasm.args(["clippy", "--target", "wasm32-unknown-unknown", "-p", "funnel", "-p", c]);
        wasm.args(features);
        wasm.args(["--", "-D", "warnings"]);
        exec(wasm)?;
    }

    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets"]);
    for c in WASM_CRATES {
        clippy.args(["--exclude", c]);
    }
    clippy.args(["--", "-D", "warnings"]);
    exec(clippy)?;

    crate::widget::build()?;

    let mut bin = cargo();
    bin.args(["build", "-p", "ingest", "--bin", "lodestone"]);
    exec(bin)?;

    let mut test = cargo();
    test.args(["test", "--workspace"]);
    for c in WASM_CRATES {
        test.args(["--exclude", c]);
    }
    // Show what passing tests print: the crash test's counts and the widget's measured figures.
    test.args(["--", "--show-output"]);
    exec(test)?;
    eprintln!("\nall checks and tests passed");
    Ok(())
}
