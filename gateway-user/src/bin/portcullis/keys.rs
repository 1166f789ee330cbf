//! `portcullis keys`: create, list, rotate and revoke API keys.
//!
//! The store is `<state-dir>/api-keys.json`; a running gateway reloads it
//! when it changes. Secrets are printed once, at creation or rotation.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gateway_user::auth::{ApiKeyRecord, ApiKeyStore, KeySpec, STORE_FILE};
use ring::rand::SystemRandom;

use crate::token::{StateDir, format_time, parse_duration, unix_now};

/// `portcullis keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub state: StateDir,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `portcullis keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key; it is printed once and never stored.
    Create {
        /// Who the key is for (the principal's subject); unique among live keys.
        #[arg(long)]
        label: String,
        /// A policy role (repeatable; at least one).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// An OAuth scope (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30d or 12h (default: no expiry).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// List keys (never their secrets).
    List,
    /// Replace a key; the old one keeps working for the grace period.
    Rotate {
        /// The key id (from `keys list`).
        id: String,
        /// How long the old key keeps working.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: Duration,
    },
    /// Revoke a key at once.
    Revoke {
        /// The key id.
        id: String,
    },
}

fn with_lock<T>(dir: &Path, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let lock_path = dir.join(".api-keys.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("locking {}", lock_path.display()))?;
    f(&dir.join(STORE_FILE))
}

fn print_new(record: &ApiKeyRecord, printable: &str, json: bool) {
    if json {
        let out = serde_json::json!({"id": record.id, "label": record.label, "key": printable});
        println!("{out}");
    } else {
        println!("{printable}");
        eprintln!(
            "API key {} for {:?} created. Store it now: it cannot be shown again.",
            record.id, record.label
        );
    }
}

pub fn keys(args: KeysArgs) -> Result<()> {
    let dir: PathBuf = args.state.state_dir;
    let json = args.json;
    let rng = SystemRandom::new();
    let now = unix_now()?;
    match args.command {
        KeysCommand::Create {
            label,
            roles,
            scopes,
            ttl,
        } => with_lock(&dir, |path| {
            let mut store = ApiKeyStore::load(path)?;
            let spec = KeySpec {
                label,
                roles: roles.into_iter().collect(),
                scopes: scopes.into_iter().collect(),
                ttl_secs: ttl.map(|t| t.as_secs()),
            };
            let new = store.create(&rng, spec, now)?;
            store.save(path)?;
            print_new(&new.record, &new.printable, json);
            Ok(())
        }),
        KeysCommand::Rotate { id, grace } => with_lock(&dir, |path| {
            let mut store = ApiKeyStore::load(path)?;
            let new = store.rotate(&rng, &id, grace.as_secs(), now)?;
            store.save(path)?;
            print_new(&new.record, &new.printable, json);
            if !json {
                eprintln!(
                    "Old key {id} keeps working until {}.",
                    format_time(now.saturating_add(grace.as_secs()))
                );
            }
            Ok(())
        }),
        KeysCommand::Revoke { id } => with_lock(&dir, |path| {
            let mut store = ApiKeyStore::load(path)?;
            store.revoke(&id, now)?;
            store.save(path)?;
            eprintln!("API key {id} revoked.");
            Ok(())
        }),
        KeysCommand::List => {
            let store = ApiKeyStore::load(&dir.join(STORE_FILE))?;
            print_list(store.keys(), now, json);
            Ok(())
        }
    }
}

fn print_list(keys: &[ApiKeyRecord], now: u64, json: bool) {
    let join = |s: &std::collections::BTreeSet<String>| {
        s.iter().map(String::as_str).collect::<Vec<_>>().join(",")
    };
    if json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id, "label": k.label, "status": k.status(now).as_str(),
                    "roles": k.roles, "scopes": k.scopes, "created": k.created,
                    "expires": k.expires, "revoked": k.revoked, "grace_until": k.grace_until,
                    "rotated_from": k.rotated_from, "replaced_by": k.replaced_by,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    println!(
        "{:<16}  {:<20}  {:<8}  {:<20}  {:<16}  {:<20}  EXPIRES",
        "ID", "LABEL", "STATUS", "ROLES", "SCOPES", "CREATED"
    );
    for k in keys {
        let until = match (k.revoked, k.grace_until, k.expires) {
            (Some(_), _, _) => "-".to_owned(),
            (None, Some(g), _) => format!("{} (grace)", format_time(g)),
            (None, None, Some(e)) => format_time(e),
            (None, None, None) => "never".to_owned(),
        };
        println!(
            "{:<16}  {:<20}  {:<8}  {:<20}  {:<16}  {:<20}  {until}",
            k.id,
            k.label,
            k.status(now).as_str(),
            join(&k.roles),
            join(&k.scopes),
            format_time(k.created),
        );
    }
}
