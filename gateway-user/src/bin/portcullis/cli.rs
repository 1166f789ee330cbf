//! Command-line grammar.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use gateway_user::edge::{Cidr, Mode, parse_ports};

/// Portcullis: a security gateway for AI agents' MCP tool traffic.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: the MCP proxy listeners and the XDP edge filter.
    Run(RunArgs),
    /// Inspect and tune a running instance through its pinned BPF maps.
    Ctl(CtlArgs),
    /// Pinned tool definitions: list, diff and approve held changes.
    Tools(crate::tools::ToolsArgs),
    /// Manage API keys for machine clients.
    Keys(crate::keys::KeysArgs),
    /// The embedded token issuer.
    Token(crate::token::TokenArgs),
    /// Scan a tool result, JSON-RPC message or plain text for prompt
    /// injection (exit 0 clean, 1 findings, 2 error).
    Scan(ScanArgs),
}

/// `portcullis scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// File to scan; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Treat the input as the result of this MCP method (tools/call,
    /// tools/list, resources/read, prompts/get) instead of guessing.
    #[arg(long)]
    pub method: Option<String>,
    /// An extra rules file (same format as the built-in rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// A host images may load from (repeatable); others are flagged.
    #[arg(long = "allow-image-host")]
    pub allow_image_host: Vec<String>,
}

/// `portcullis run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file (TOML). Without it, the embedded default is used.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Attach to this interface instead of the configured one.
    #[arg(long)]
    pub iface: Option<String>,
    /// Enter this network namespace (a name under /run/netns) before attaching.
    #[arg(long)]
    pub netns: Option<String>,
    /// Seconds between counter reports (0 turns them off).
    #[arg(long, default_value_t = 5)]
    pub stats_interval: u64,
    /// Serve the gateway on this address instead of the configured one.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Do not load the XDP edge layer.
    #[arg(long)]
    pub no_edge: bool,
    /// State directory (tool pins, API keys, the embedded issuer's key),
    /// instead of the configured one.
    #[arg(long, env = "PORTCULLIS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Write the generated development certificate (PEM) here, for clients
    /// to trust.
    #[arg(long)]
    pub write_dev_cert: Option<PathBuf>,
}

/// `portcullis ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The interface whose running program to tune.
    #[arg(long, short, default_value = "lo", env = "PORTCULLIS_IFACE")]
    pub iface: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// `portcullis ctl …` subcommands.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Show or change the per-source limits.
    Limits {
        #[command(subcommand)]
        command: LimitsCommand,
    },
    /// The blocklist: sources always dropped.
    Block {
        #[command(subcommand)]
        command: ListCommand,
    },
    /// The allowlist: sources never rate limited.
    Allow {
        #[command(subcommand)]
        command: ListCommand,
    },
    /// Verdict counters, and their rates over the last seconds.
    Stats {
        /// Seconds to measure rates over.
        #[arg(long, default_value_t = 1)]
        interval: u64,
    },
    /// Tracked sources with the most drops.
    Top {
        /// How many to show.
        #[arg(long, short = 'n', default_value_t = 10)]
        count: usize,
    },
}

/// `portcullis ctl limits …`.
#[derive(Debug, Subcommand)]
pub enum LimitsCommand {
    /// Print the limits in force.
    Show,
    /// Change some limits; the running program uses them from its next packet.
    Set(LimitsSetArgs),
}

/// Fields of `ctl limits set`; each is optional.
#[derive(Debug, Args)]
pub struct LimitsSetArgs {
    /// Packets per second per source to protected ports.
    #[arg(long)]
    pub pps: Option<u64>,
    /// Packet burst per source.
    #[arg(long)]
    pub burst: Option<u64>,
    /// New connections per second per source.
    #[arg(long)]
    pub conn_rate: Option<u64>,
    /// New-connection burst per source.
    #[arg(long)]
    pub conn_burst: Option<u64>,
    /// Protected TCP ports, comma separated (`none` for none).
    #[arg(long, value_parser = parse_ports)]
    pub tcp_ports: Option<Vec<u16>>,
    /// Protected UDP ports, comma separated (`none` for none).
    #[arg(long, value_parser = parse_ports)]
    pub udp_ports: Option<Vec<u16>>,
    /// Group IPv4 sources by this prefix length.
    #[arg(long)]
    pub v4_prefix: Option<u8>,
    /// Group IPv6 sources by this prefix length.
    #[arg(long)]
    pub v6_prefix: Option<u8>,
    /// `enforce` or `monitor`.
    #[arg(long)]
    pub mode: Option<Mode>,
}

/// `portcullis ctl block|allow …`.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Add a prefix (replacing its expiry if present).
    Add {
        /// IPv4 or IPv6 prefix, e.g. 198.18.0.0/15 or 2001:2::/48.
        cidr: Cidr,
        /// Lapse after this long, e.g. 90s, 15m, 2h; the kernel stops
        /// applying the entry by itself.
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<Duration>,
    },
    /// Remove a prefix.
    Rm {
        /// The prefix, exactly as added.
        cidr: Cidr,
    },
    /// List the entries.
    List,
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 90s, 15m or 2h: {e}"))?;
    if ttl.is_zero() {
        return Err("a TTL must be longer than zero".into());
    }
    if ttl > Duration::from_secs(10 * 365 * 86_400) {
        return Err("a TTL must be at most 10 years (omit --ttl for a permanent entry)".into());
    }
    Ok(ttl)
}
