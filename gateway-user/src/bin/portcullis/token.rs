//! `portcullis token`: the embedded issuer, for setups with no external
//! identity provider.

use std::{
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gateway_user::auth::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_MAX_TTL_SECS, IssuerConfig, IssuerFiles, TokenRequest,
};
use ring::rand::SystemRandom;

/// The state directory, shared by `keys` and `token`.
#[derive(Debug, Args)]
pub struct StateDir {
    /// Where keys and the issuer's signing key live.
    #[arg(
        long,
        env = "PORTCULLIS_STATE_DIR",
        default_value = "/var/lib/portcullis",
        global = true
    )]
    pub state_dir: PathBuf,
}

/// `portcullis token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub state: StateDir,
    /// The issuer identifier (`iss`); must match the gateway's trusted issuer.
    #[arg(long, default_value = DEFAULT_ISSUER, global = true)]
    pub issuer: String,
    /// Longest token lifetime; a retired key stays published this long.
    #[arg(long, default_value = "24h", value_parser = parse_duration, global = true)]
    pub max_ttl: Duration,
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// `portcullis token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign an access token (the signing key is created on first use).
    Issue {
        /// The subject (`sub`).
        #[arg(long)]
        sub: String,
        /// A policy role (repeatable; at least one).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// An OAuth scope (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 1h or 30m.
        #[arg(long, value_parser = parse_duration)]
        ttl: Duration,
        /// Audience (`aud`): the gateway's resource URI.
        #[arg(long, default_value = DEFAULT_AUDIENCE)]
        aud: String,
    },
    /// Make a new signing key; the old public key stays in the JWKS until
    /// every token it signed has expired.
    RotateKey,
    /// Print the published JWKS.
    Jwks,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 90s, 15m, 24h or 30d: {e}"))?;
    if d.is_zero() {
        return Err("a duration must be longer than zero".into());
    }
    Ok(d)
}

pub fn unix_now() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

pub fn format_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

pub fn token(args: TokenArgs) -> Result<()> {
    let max_ttl_secs = args.max_ttl.as_secs();
    if max_ttl_secs > 10 * DEFAULT_MAX_TTL_SECS * 365 {
        bail!("--max-ttl is longer than ten years");
    }
    let files = IssuerFiles::new(&args.state.state_dir);
    let rng = SystemRandom::new();
    let now = unix_now()?;
    match args.command {
        TokenCommand::Issue {
            sub,
            roles,
            scopes,
            ttl,
            aud,
        } => {
            let config = IssuerConfig {
                issuer: args.issuer,
                default_audience: aud,
                max_ttl_secs,
            };
            let issuer = files.load_or_create(config, &rng)?;
            let request = TokenRequest {
                subject: sub,
                roles: roles.into_iter().collect(),
                scopes: scopes.into_iter().collect(),
                ttl_secs: ttl.as_secs(),
                audience: None,
            };
            println!("{}", issuer.issue(&rng, &request, now)?);
        }
        TokenCommand::RotateKey => {
            let config = IssuerConfig {
                issuer: args.issuer,
                max_ttl_secs,
                ..IssuerConfig::default()
            };
            let issuer = files.rotate(config, &rng, now)?;
            eprintln!(
                "New signing key {}; {} earlier key(s) stay published until their tokens expire.",
                issuer.kid(),
                issuer.retired().iter().filter(|r| r.until > now).count()
            );
        }
        TokenCommand::Jwks => {
            let issuer = files.load(IssuerConfig {
                issuer: args.issuer,
                max_ttl_secs,
                ..IssuerConfig::default()
            })?;
            println!("{}", String::from_utf8_lossy(&issuer.jwks_json(now)));
        }
    }
    Ok(())
}
