//! `cargo xtask build`: the widget. Builds the wasm crates in release for wasm32, runs
//! wasm-bindgen (library pinned to the lockfile's version) for lead delivery and the popup
//! (the tracker's glue is the bootstrap itself) and wasm-opt (when it can be installed),
//! writes `lodestone.js` (the bootstrap, stable URL) and content-hashed immutable assets with
//! `.br`/`.gz` siblings and a manifest, then prints the size report and fails over budget.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

use crate::cmd::{cargo, ensure_wasm_target, exec, root};
use crate::minify::{Kind, minify};
use crate::wasm_opt::WasmOpt;

/// Budgets in brotli bytes (decimal kilobytes), script plus wasm, that fail the build: the
/// tracker every page loads, the popup, lead delivery. They hold with binaryen's wasm-opt
/// (which the build installs from npm); without Node.js the modules stay as built and may be
/// a tenth over.
const TRACKER_BUDGET: usize = 20_000;
const POPUP_BUDGET: usize = 60_000;
const LEADS_BUDGET: usize = 20_000;

pub fn dist() -> PathBuf {
    root().join("widget/dist")
}

struct Asset {
    name: String,
    bytes: Vec<u8>,
}

impl Asset {
    fn hashed(stem: &str, ext: &str, bytes: Vec<u8>) -> Self {
        let hash = Sha256::digest(&bytes);
        let short: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
        Self { name: format!("{stem}-{short}.{ext}"), bytes }
    }
}

fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(bytes)?;
    }
    Ok(out)
}

fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(bytes)?;
    Ok(w.finish()?)
}

/// Writes `bytes` at `path` with `.br` and `.gz` siblings; returns the brotli size.
fn write_compressed(path: &Path, bytes: &[u8]) -> anyhow::Result<usize> {
    fs::write(path, bytes)?;
    let br = brotli(bytes)?;
    fs::write(path.with_extension(format!("{}.br", ext(path))), &br)?;
    fs::write(path.with_extension(format!("{}.gz", ext(path))), gzip(bytes)?)?;
    Ok(br.len())
}

fn ext(path: &Path) -> String {
    path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default()
}

fn sri(bytes: &[u8]) -> String {
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
}

/// wasm-bindgen's ES module glue for `wasm` (lead delivery, the popup), into `out`.
fn bindgen(wasm: &Path, out: &Path) -> anyhow::Result<()> {
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    // WIDGET_KEEP_NAMES=1 keeps function names, for size analysis with `twiggy top`.
    let keep_names = std::env::var_os("WIDGET_KEEP_NAMES").is_some();
    b.input_path(wasm).remove_name_section(!keep_names).remove_producers_section(true).typescript(false);
    // The bootstrap passes the module's address, and every browser that runs these modules
    // (they use reference types and bulk memory: Safari 15 and later, say) has
    // `TextEncoder.encodeInto`: the glue needs neither a default path nor a fallback.
    b.omit_default_module_path(true).encode_into(wasm_bindgen_cli_support::EncodeInto::Always);
    b.web(true)?;
    b.generate(out).with_context(|| format!("wasm-bindgen on {}", wasm.display()))
}

/// Renames the module's wasm-bindgen imports and exports (`__wbg_beacon_b6a89472ce2ceaf8`,
/// `__wbindgen_malloc`, ...) to short names, in the module and in its glue alike: their hashes
/// are incompressible bytes shipped twice to every visitor. Leaves both untouched should a
/// short name already occur in the glue.
fn shorten_names(dir: &Path, stem: &str) -> anyhow::Result<()> {
    let (wasm_path, js_path) = (dir.join(format!("{stem}_bg.wasm")), dir.join(format!("{stem}.js")));
    let mut js = fs::read_to_string(&js_path)?;
    let mut module = walrus::Module::from_buffer(&fs::read(&wasm_path)?)?;
    let generated = |name: &str| name.starts_with("__wbg_") || name.starts_with("__wbindgen_");
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut short = |name: &mut String| {
        if generated(name) {
            let new = format!("${:x}", renames.len());
            renames.push((std::mem::replace(name, new.clone()), new));
        }
    };
    module.imports.iter_mut().for_each(|i| short(&mut i.name));
    module.exports.iter_mut().for_each(|e| short(&mut e.name));
    if renames.iter().any(|(_, new)| js.contains(new.as_str())) {
        return Ok(());
    }
    // Longest first, so no name is replaced inside a longer one.
    renames.sort_by_key(|(long, _)| std::cmp::Reverse(long.len()));
    for (long, new) in &renames {
        js = js.replace(long.as_str(), new);
    }
    fs::write(&wasm_path, module.emit_wasm())?;
    fs::write(&js_path, js)?;
    Ok(())
}

/// `glue` (wasm-bindgen's) with its loader replaced by a lean one: fetch the module at the
/// address given (the bootstrap always gives one), compile it as it streams (or, only when the
/// server sent another type than `application/wasm`, once downloaded), instantiate. wasm-bindgen's also
/// takes bytes, `Response`s and compiled modules, and has a synchronous variant: bytes every
/// visitor would download for paths the widget never takes.
fn lean_loader(glue: &str) -> anyhow::Result<String> {
    const LOADER: &str = r#"async function __wbg_init(url) {
    if (wasm !== undefined) return wasm;
    const imports = __wbg_get_imports(), answer = await fetch(url);
    if (!answer.ok) throw new Error(`failed to fetch Wasm: ${answer.status}`);
    const { instance, module } = await WebAssembly.instantiateStreaming(answer.clone(), imports).catch((e) => {
        // Any other failure (a page's CSP refusing WebAssembly) is not tried twice.
        if (answer.headers.get("Content-Type") === "application/wasm") throw e;
        return answer.arrayBuffer().then((bytes) => WebAssembly.instantiate(bytes, imports));
    });
    return __wbg_finalize_init(instance, module);
}
"#;
    let start = glue.find("async function __wbg_load(");
    const END: &str = "export { initSync, __wbg_init as default };";
    let (Some(start), Some(end)) = (start, glue.find(END)) else {
        bail!("wasm-bindgen's loader is not where the build expects it: update `lean_loader`");
    };
    Ok(format!("{}{LOADER}export default __wbg_init;{}", &glue[..start], &glue[end + END.len()..]))
}

/// The tracker's module as built, without what only tools read (names, producers, debug
/// sections) and without
/// the linker's own exports (`__data_end`, `__heap_base`): its exports are `memory`, `alloc`,
/// `start` and `on`, its imports the bootstrap's (`widget/tracker/src/host.rs`).
fn bare_module(from: &Path, to: &Path) -> anyhow::Result<()> {
    let config = {
        let mut c = walrus::ModuleConfig::new();
        c.generate_name_section(false).generate_producers_section(false);
        c
    };
    let mut module = config.parse(&fs::read(from)?)?;
    let linker: Vec<_> = module.exports.iter().filter(|e| e.name.starts_with("__")).map(|e| e.id()).collect();
    for id in linker {
        module.exports.delete(id);
    }
    // (wasm-opt reads the features the module uses from `target_features`, and drops it.)
    let customs: Vec<_> =
        module.customs.iter().filter(|(_, c)| c.name() != "target_features").map(|(id, _)| id).collect();
    for id in customs {
        module.customs.delete(id);
    }
    fs::write(to, module.emit_wasm())?;
    Ok(())
}

/// The hashed asset names the bootstrap loads.
struct Names<'a> {
    tracker_wasm: &'a str,
    popup_js: &'a str,
    popup_wasm: &'a str,
    leads_js: &'a str,
    leads_wasm: &'a str,
    debug_js: &'a str,
    debug_tracker_wasm: &'a str,
}

/// The page-facing script: the bootstrap (`widget/tracker/src/host.js`, also the tracker's
/// glue) in one function scope, so the only global it leaves is `window.lodestone`, and inside
/// one `try`, so a page that broke what the setup uses (`TextDecoder` gone, `window.lodestone`
/// read-only) gets no widget rather than an error.
fn lodestone_js(names: &Names<'_>) -> anyhow::Result<String> {
    let host = fs::read_to_string(root().join("widget/tracker/src/host.js"))?
        .replace("{{TRACKER_WASM}}", names.tracker_wasm)
        .replace("{{DEBUG_JS}}", names.debug_js)
        .replace("{{DEBUG_TRACKER_WASM}}", names.debug_tracker_wasm)
        .replace("{{POPUP_JS}}", names.popup_js)
        .replace("{{POPUP_WASM}}", names.popup_wasm)
        .replace("{{LEADS_JS}}", names.leads_js)
        .replace("{{LEADS_WASM}}", names.leads_wasm);
    let script = format!("(function () {{\n\"use strict\";\ntry {{\n{host}\n}} catch (e) {{}}\n}})();\n");
    Ok(format!("/*! Lodestone widget */\n{}", minify(&script, Kind::Classic)?))
}

/// Runs wasm-opt over `modules`, or says why it could not (it is optional: the modules are
/// left as they are).
fn optimise(modules: &[&Path]) -> anyhow::Result<()> {
    let wasm_opt = WasmOpt::install()?;
    for module in modules {
        wasm_opt.run(module)?;
    }
    Ok(())
}

fn rustc_sysroot() -> PathBuf {
    let out = std::process::Command::new("rustc").args(["--print", "sysroot"]).current_dir(root()).output();
    out.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())).unwrap_or_default()
}

pub fn build() -> anyhow::Result<()> {
    ensure_wasm_target()?;
    // Panic locations embed source paths: shorten them (bytes shipped to every visitor).
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let flags = [
        format!("--remap-path-prefix={}=", cargo_home.join("registry/src").display()),
        format!("--remap-path-prefix={}=", root().display()),
        format!("--remap-path-prefix={}=", rustc_sysroot().display()),
    ];
    // One build per crate: the tracker is `no_std`, which it cannot be in one build with the
    // popup (Leptos brings `std`, and features are unified within a build). The tracker is
    // built twice: its debug build (`--features debug`, loaded only with `?lodestone_debug=1`)
    // first, kept aside, then the one every page loads.
    let target = root().join("target/wasm32-unknown-unknown/wasm-release");
    let work = root().join("target/widget-bindgen");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    let builds: [(&str, &[&str]); 4] = [
        ("lodestone-tracker", &["--features", "debug"]),
        ("lodestone-tracker", &[]),
        ("lodestone-leads", &[]),
        ("lodestone-popup", &[]),
    ];
    for (i, (krate, features)) in builds.iter().enumerate() {
        let mut wasm = cargo();
        wasm.args(["build", "--profile", "wasm-release", "--target", "wasm32-unknown-unknown", "-p", krate]);
        wasm.args(*features);
        wasm.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
        exec(wasm)?;
        // The tracker binds its imports itself (the bootstrap is its glue): no wasm-bindgen.
        if i < 2 {
            let stem = if i == 0 { "tracker_debug" } else { "tracker" };
            bare_module(&target.join("lodestone_tracker.wasm"), &work.join(format!("{stem}.wasm")))?;
        }
    }
    bindgen(&target.join("lodestone_leads.wasm"), &work)?;
    bindgen(&target.join("lodestone_popup.wasm"), &work)?;
    shorten_names(&work, "lodestone_leads")?;
    shorten_names(&work, "lodestone_popup")?;
    let optimised = optimise(&[
        &work.join("tracker.wasm"),
        &work.join("lodestone_leads_bg.wasm"),
        &work.join("lodestone_popup_bg.wasm"),
        &work.join("tracker_debug.wasm"),
    ]);

    let tracker_wasm = Asset::hashed("tracker", "wasm", fs::read(work.join("tracker.wasm"))?);
    let popup_wasm = Asset::hashed("popup", "wasm", fs::read(work.join("lodestone_popup_bg.wasm"))?);
    let popup_glue =
        minify(&lean_loader(&fs::read_to_string(work.join("lodestone_popup.js"))?)?, Kind::Module)?;
    let popup_js = Asset::hashed("popup", "js", popup_glue.into_bytes());
    // Lead delivery: loaded with a popup (which shows only once it has), or for queued leads.
    let leads_wasm = Asset::hashed("leads", "wasm", fs::read(work.join("lodestone_leads_bg.wasm"))?);
    let leads_glue =
        minify(&lean_loader(&fs::read_to_string(work.join("lodestone_leads.js"))?)?, Kind::Module)?;
    let leads_js = Asset::hashed("leads", "js", leads_glue.into_bytes());
    // The debug overlay: loaded only with `?lodestone_debug=1`, outside the tracker's budget.
    let debug_src = fs::read_to_string(root().join("widget/tracker/src/debug.js"))?;
    let debug_js = Asset::hashed("debug", "js", minify(&debug_src, Kind::Module)?.into_bytes());
    let debug_tracker_wasm =
        Asset::hashed("tracker_debug", "wasm", fs::read(work.join("tracker_debug.wasm"))?);
    let script = lodestone_js(&Names {
        tracker_wasm: &tracker_wasm.name,
        popup_js: &popup_js.name,
        popup_wasm: &popup_wasm.name,
        leads_js: &leads_js.name,
        leads_wasm: &leads_wasm.name,
        debug_js: &debug_js.name,
        debug_tracker_wasm: &debug_tracker_wasm.name,
    })?;

    let dist = dist();
    let _ = fs::remove_dir_all(&dist);
    fs::create_dir_all(dist.join("assets"))?;
    let script_br = write_compressed(&dist.join("lodestone.js"), script.as_bytes())?;
    let mut sizes = Vec::new();
    let mut manifest = serde_json::Map::new();
    manifest.insert(
        "lodestone.js".into(),
        serde_json::json!({ "path": "lodestone.js", "bytes": script.len(), "brotli": script_br, "integrity": sri(script.as_bytes()) }),
    );
    for asset in
        [&tracker_wasm, &popup_js, &popup_wasm, &debug_js, &debug_tracker_wasm, &leads_js, &leads_wasm]
    {
        let br = write_compressed(&dist.join("assets").join(&asset.name), &asset.bytes)?;
        sizes.push(br);
        let logical =
            asset.name.split('-').next().unwrap_or_default().to_owned() + "." + &ext(Path::new(&asset.name));
        manifest.insert(
            logical,
            serde_json::json!({ "path": format!("assets/{}", asset.name), "bytes": asset.bytes.len(), "brotli": br, "integrity": sri(&asset.bytes) }),
        );
    }
    fs::write(dist.join("manifest.json"), serde_json::to_string_pretty(&manifest)?)?;

    let tracker_total = script_br + sizes[0];
    let popup_total = sizes[1] + sizes[2];
    let leads_total = sizes[5] + sizes[6];
    println!("\nwidget size report (brotli, bytes):");
    println!("  lodestone.js (bootstrap, tracker glue)  {script_br:>7}   raw {}", script.len());
    println!("  {:<40}{:>7}   raw {}", tracker_wasm.name, sizes[0], tracker_wasm.bytes.len());
    println!("  {:<40}{:>7}   raw {}", popup_js.name, sizes[1], popup_js.bytes.len());
    println!("  {:<40}{:>7}   raw {}", popup_wasm.name, sizes[2], popup_wasm.bytes.len());
    for (i, asset) in [&debug_js, &debug_tracker_wasm].iter().enumerate() {
        let (name, br, raw) = (&asset.name, sizes[3 + i], asset.bytes.len());
        println!("  {name:<40}{br:>7}   raw {raw}   (only with ?lodestone_debug=1)");
    }
    for (i, asset) in [&leads_js, &leads_wasm].iter().enumerate() {
        let (name, br, raw) = (&asset.name, sizes[5 + i], asset.bytes.len());
        println!("  {name:<40}{br:>7}   raw {raw}   (with a popup, or leads queued)");
    }
    let totals = [
        ("tracker", tracker_total, TRACKER_BUDGET),
        ("popup", popup_total, POPUP_BUDGET),
        ("leads", leads_total, LEADS_BUDGET),
    ];
    for (what, total, budget) in totals {
        let over =
            if total > budget { format!("   OVER BUDGET by {}", total - budget) } else { String::new() };
        println!("  {what:<7} total {total:>7} / budget {budget}{over}");
    }
    match &optimised {
        Ok(()) => println!("  (wasm modules shrunk by wasm-opt)"),
        Err(why) => println!("  (wasm modules NOT shrunk by wasm-opt, budgets a tenth higher: {why:#})"),
    }
    println!("  written to {}", dist.display());
    let slack = |budget: usize| if optimised.is_ok() { budget } else { budget + budget / 10 };
    if totals.iter().any(|(_, total, budget)| *total > slack(*budget)) {
        bail!("the widget is over its size budget");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of wasm-bindgen's loader in the ES module glue the build uses.
    fn glue(tail: &str) -> String {
        format!(
            "function __wbg_get_imports() {{}}\n\
             async function __wbg_load(module, imports) {{ /* Response, bytes, streaming */ }}\n\
             function initSync(module) {{}}\n\
             async function __wbg_init(module_or_path) {{}}\n{tail}\n"
        )
    }

    #[test]
    fn the_lean_loader_replaces_wasm_bindgens() {
        let lean = lean_loader(&glue("export { initSync, __wbg_init as default };")).unwrap();
        assert!(lean.contains("function __wbg_get_imports"), "{lean}");
        assert!(lean.trim_end().ends_with("export default __wbg_init;"), "{lean}");
        for gone in ["__wbg_load", "initSync", "module_or_path"] {
            assert!(!lean.contains(gone), "{gone} in {lean}");
        }
    }

    #[test]
    fn glue_of_another_shape_stops_the_build() {
        assert!(lean_loader("export default function init() {}").is_err());
        assert!(lean_loader(&glue("export { __wbg_init as default };")).is_err());
    }
}
