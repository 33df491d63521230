//! `cargo xtask test`: every check CI runs, in order, stopping at the first failure.

use crate::cmd::{cargo, ensure_wasm_target, exec};

/// The wasm crates are checked for wasm32 and never built natively.
const WASM_CRATES: [&str; 3] = ["lodestone-tracker", "lodestone-leads", "lodestone-popup"];

/// The packages tested together, with their dev-dependencies, in one feature resolution: the
/// same selection `lodestone_tests::lodestone_binary` builds the server with, so the server and
/// the tests share every compiled dependency. xtask is tested on its own, in the resolution its
/// `cargo xtask` build already compiled; tested with the others, its dependencies would get
/// other features and every crate they share would be compiled twice.
const TESTED: [&str; 9] = [
    "--workspace",
    "--exclude",
    "lodestone-tracker",
    "--exclude",
    "lodestone-leads",
    "--exclude",
    "lodestone-popup",
    "--exclude",
    "xtask",
];

pub fn run() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    exec(fmt)?;

    ensure_wasm_target()?;
    // One run per wasm crate: the tracker and lead delivery are `no_std`, and checked together
    // with the popup they would see `std` (which Leptos needs) in their dependency graph.
    // The tracker also with `--features debug`, its debug build.
    let runs: [(&str, &[&str]); 4] = [
        (WASM_CRATES[0], &[]),
        (WASM_CRATES[0], &["--features", "debug"]),
        (WASM_CRATES[1], &[]),
        (WASM_CRATES[2], &[]),
    ];
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

    // The server binary the process and browser tests start, built beside the test targets.
    let mut bin = cargo();
    bin.arg("build").args(TESTED).args(["--bin", "lodestone", "--tests"]);
    exec(bin)?;

    let mut test = cargo();
    test.arg("test").args(TESTED);
    // Show what passing tests print: the crash test's counts and the widget's measured figures.
    test.args(["--", "--show-output"]);
    exec(test)?;

    let mut xtask = cargo();
    xtask.args(["test", "-p", "xtask"]);
    exec(xtask)?;
    eprintln!("\nall checks and tests passed");
    Ok(())
}
