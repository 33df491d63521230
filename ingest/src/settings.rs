//! Command-line and environment settings for `lodestone serve`; `--help` is their reference.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Lodestone: self-hosted lead capture. One binary, one optional config file, one data directory.
#[derive(Debug, Parser)]
#[command(name = "lodestone", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line and the environment, or exits with clap's message. clap names a bad
    /// value by its flag only: when the value came from the flag's `LODESTONE_*` variable (the
    /// flag is not on the command line), the message names the variable too.
    pub fn parse_or_exit() -> Self {
        Self::try_parse().unwrap_or_else(|e| match from_environment(&e, std::env::args_os()) {
            Some(var) => {
                let text = e.render().to_string();
                let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
                eprint!("{first}\n  (the value comes from the environment variable {var})\n{rest}");
                std::process::exit(e.exit_code());
            }
            None => e.exit(),
        })
    }
}

/// The variable a refused value came from: the refused flag's `LODESTONE_*` variable when the
/// flag itself is not among `args`.
fn from_environment(e: &clap::Error, args: impl IntoIterator<Item = OsString>) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(e.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return None };
    // `--rate-limit-per-minute <RATE_LIMIT_PER_MINUTE>`
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let command = Cli::command();
    let serve = command.find_subcommand("serve")?;
    let var = serve.get_arguments().find(|a| a.get_long() == Some(long))?.get_env()?;
    let flag = format!("--{long}");
    let given =
        args.into_iter().any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}="))));
    (!given).then(|| var.to_string_lossy().into_owned())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API, the widget assets and the admin routes.
    Serve(ServeSettings),
}

/// Settings of `lodestone serve`. Each flag can also be set through its `LODESTONE_*` variable.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address and port to listen on; a host name is resolved (`localhost:8080`).
    #[arg(long, env = "LODESTONE_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Directory of the embedded database; created when missing.
    #[arg(long, env = "LODESTONE_DATA_DIR", default_value = "./lodestone-data")]
    pub data_dir: PathBuf,

    /// Sites and campaigns file (`lodestone.toml`). Without one, the built-in `demo` site is served.
    #[arg(long, env = "LODESTONE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Bearer token for the admin routes; overrides `admin_token` in the config file. When neither
    /// is set, a random token is generated and printed at start.
    #[arg(long, env = "LODESTONE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Bearer token `GET /metrics` then requires (at least 16 characters; the admin token is
    /// accepted too). Without one, the metrics are public: counts only, no personal data.
    #[arg(long, env = "LODESTONE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Page cache of the embedded database, in MiB (1 to 1048576).
    #[arg(long, env = "LODESTONE_CACHE_MB", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub cache_mb: u64,

    /// Requests per minute one client IP may make to the public routes on average (0 turns the
    /// limit off).
    #[arg(long, env = "LODESTONE_RATE_LIMIT", default_value_t = 120)]
    pub rate_limit_per_minute: u32,

    /// Requests one client IP may make at once: the size of its bucket, which refills at the
    /// steady rate. An IPv6 client counts by its /64 network.
    #[arg(long, env = "LODESTONE_RATE_BURST", default_value_t = 60)]
    pub rate_limit_burst: u32,

    /// Header holding the client IP when behind a reverse proxy (e.g. `X-Real-IP`); by default
    /// the peer address of the connection is used. With a list (`X-Forwarded-For`), the
    /// right-most address, the one the proxy added, is used.
    #[arg(long, env = "LODESTONE_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,

    /// Seconds a client may take to send a request's headers; also how long a keep-alive
    /// connection may stay idle. A slower client's connection is closed.
    #[arg(long, env = "LODESTONE_HEADER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Connections open at once, at most; more wait to be accepted until one closes. By default
    /// 10000, or fewer when the process may open fewer files: half its file limit (raised at
    /// start to the most allowed), as a request for a widget file holds a file open too.
    #[arg(long, env = "LODESTONE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Connections one client IP may hold open at once (an IPv6 client counts by its /64
    /// network); one more is closed at once. 0 turns the limit off. Not applied with
    /// --client-ip-header: behind a reverse proxy every connection comes from the proxy, so
    /// limit connections per client there.
    #[arg(long, env = "LODESTONE_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: u32,

    /// Directory holding the built widget (`lodestone.js`, `assets/`), e.g. `widget/dist`.
    /// Without one, the widget routes answer 404 and the API works as usual.
    #[arg(long, env = "LODESTONE_ASSETS_DIR", value_parser = parse_assets_dir)]
    pub assets_dir: Option<PathBuf>,
}

/// `ADDR:PORT`, or `HOST:PORT` resolved to its first address.
fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse() {
        return Ok(addr);
    }
    value
        .to_socket_addrs()
        .map_err(|e| format!("not an address and port, like 127.0.0.1:8080 ({e})"))?
        .next()
        .ok_or_else(|| format!("{value} resolves to no address"))
}

/// A built widget directory: one holding `lodestone.js` (a typo would otherwise serve 404s).
fn parse_assets_dir(value: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(value);
    if dir.join("lodestone.js").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "no lodestone.js in {value}: build the widget (`cargo xtask build`) and point here at widget/dist"
        ))
    }
}

impl ServeSettings {
    /// Settings for tests and embedding: everything default, data in `data_dir`.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: data_dir.into(),
            config: None,
            admin_token: None,
            metrics_token: None,
            cache_mb: 16,
            rate_limit_per_minute: 0,
            rate_limit_burst: 60,
            client_ip_header: None,
            header_timeout_secs: 30,
            max_connections: None,
            max_connections_per_ip: 256,
            assets_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_addresses_and_host_names() {
        assert_eq!(parse_listen("127.0.0.1:9000").unwrap(), "127.0.0.1:9000".parse::<SocketAddr>().unwrap());
        assert!(parse_listen("localhost:9000").unwrap().ip().is_loopback());
        assert!(parse_listen("9000").is_err());
    }

    #[test]
    fn the_assets_dir_must_hold_the_built_widget() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(parse_assets_dir(dir.to_str().unwrap()).unwrap_err().contains("lodestone.js"));
        std::fs::write(dir.join("lodestone.js"), "").unwrap();
        assert_eq!(parse_assets_dir(dir.to_str().unwrap()).unwrap(), dir);
    }
}
