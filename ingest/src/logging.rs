//! The log filter from `LODESTONE_LOG`: a level (`info`, the default), or `target=level`
//! directives. A word that is neither is refused rather than read as a target name, which
//! would silently turn every other log off (`warning` for `warn`).

use tracing_subscriber::EnvFilter;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// The filter `value` asks for; unset or empty means `info`.
pub fn filter(value: Option<&str>) -> Result<EnvFilter, String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or("info");
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[', ':']);
        if bare && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(directive)) {
            return Err(format!(
                "LODESTONE_LOG: `{directive}` is not a level: use one of {}, or target=level (e.g. ingest=debug)",
                LEVELS.join(", ")
            ));
        }
    }
    EnvFilter::try_new(value).map_err(|e| format!("LODESTONE_LOG: `{value}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn levels_and_directives_are_taken_and_misspelled_levels_refused() {
        for ok in
            [None, Some(""), Some("warn"), Some("DEBUG"), Some("info,tower_http=debug"), Some("ingest=trace")]
        {
            assert!(filter(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(filter(None).unwrap().to_string(), "info");
        for bad in ["warning", "err", "info,verbose", "ingest=loud"] {
            let err = filter(Some(bad)).expect_err(bad);
            assert!(err.starts_with("LODESTONE_LOG: `"), "{err}");
        }
    }
}
