//! Minifies the widget's JavaScript (bootstrap, wasm-bindgen glue, debug overlay): every byte
//! of `lodestone.js` is downloaded by every visitor of every page that embeds it.

use anyhow::bail;
use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions, CommentOptions};
use oxc::minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
use oxc::parser::Parser;
use oxc::span::SourceType;
use oxc_compat::EngineTargets;

/// The newest syntax the output may use. The glue already needs `async` functions (ES2017);
/// nothing newer is introduced, so a browser too old for the widget still parses the bootstrap
/// and gets its `window.lodestone` (whose calls then do nothing).
const TARGET: &str = "es2017";

/// How a script is loaded: an ES module (`import()`), or a classic `<script>` whose top-level
/// names are the page's globals and must keep their names.
#[derive(Clone, Copy)]
pub enum Kind {
    Module,
    Classic,
}

/// `source` compressed, with local names shortened, whitespace and comments removed.
/// `console` calls are dropped too: nothing of ours writes to the host page's console.
pub fn minify(source: &str, kind: Kind) -> anyhow::Result<String> {
    let allocator = Allocator::default();
    let source_type = match kind {
        Kind::Module => SourceType::mjs(),
        Kind::Classic => SourceType::script(),
    };
    let parsed = Parser::new(&allocator, source, source_type).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        let errors: Vec<String> = parsed.diagnostics.errors().map(ToString::to_string).collect();
        bail!("cannot minify the widget's JavaScript: {}", errors.join("; "));
    }
    let mut program = parsed.program;
    let options = MinifierOptions {
        mangle: Some(MangleOptions::default()),
        compress: Some(CompressOptions {
            target: EngineTargets::from_target(TARGET).map_err(anyhow::Error::msg)?,
            drop_console: true,
            ..CompressOptions::smallest()
        }),
        mangle_properties: None,
    };
    let minified = Minifier::new(options).minify(&allocator, &mut program);
    let printed = Codegen::new()
        .with_options(CodegenOptions {
            minify: true,
            comments: CommentOptions::disabled(),
            ..CodegenOptions::default()
        })
        .with_scoping(minified.scoping)
        .build(&program);
    Ok(printed.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_scripts_keep_their_globals_and_lose_their_locals_names() {
        let out = minify(
            "var kept = 1; (function () { var local_name = kept + 1; window.x = local_name; })();",
            Kind::Classic,
        )
        .unwrap();
        assert!(out.contains("kept"), "{out}");
        assert!(!out.contains("local_name"), "{out}");
    }

    #[test]
    fn modules_keep_their_exports() {
        let out = minify("export function mount(long_argument) { return long_argument * 2; }", Kind::Module)
            .unwrap();
        assert!(out.contains("mount"), "{out}");
        assert!(!out.contains("long_argument"), "{out}");
    }

    #[test]
    fn no_syntax_newer_than_the_target_is_introduced() {
        let out = minify(
            "(function (a) { window.x = a === null || a === undefined ? 1 : a; window.y = a && a.b; })(1);",
            Kind::Classic,
        )
        .unwrap();
        assert!(!out.contains("??") && !out.contains("?."), "{out}");
    }

    #[test]
    fn console_calls_are_dropped_and_syntax_errors_reported() {
        assert!(
            !minify("(function () { console.warn('x'); window.y = 1; })();", Kind::Classic)
                .unwrap()
                .contains("console")
        );
        assert!(minify("function (", Kind::Classic).is_err());
    }
}
