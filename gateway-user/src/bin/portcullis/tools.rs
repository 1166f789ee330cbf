//! `portcullis tools list|diff|approve`: the operator's view of pinned tool
//! definitions, working on the gateway's state file. A running gateway
//! picks approvals up when it re-reads the file.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use gateway_user::pin::{Approve, PinError, PinStore};
use serde_json::json;

/// `portcullis tools`.
#[derive(Debug, Args)]
pub struct ToolsArgs {
    /// Directory holding the pin state file (tool-pins.json).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_STATE_DIR",
        default_value = "/var/lib/portcullis"
    )]
    pub state_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ToolsCommand,
}

/// `portcullis tools …` subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Pinned tools and pending changes, per upstream.
    List {
        /// Only this upstream.
        #[arg(long)]
        upstream: Option<String>,
    },
    /// What changed in each held tool, field by field.
    Diff {
        /// Only this upstream.
        #[arg(long)]
        upstream: Option<String>,
        /// Only this tool.
        #[arg(long)]
        tool: Option<String>,
    },
    /// Approve pending changes: pin the listed definitions (or drop removed ones).
    Approve(ApproveArgs),
}

/// `portcullis tools approve`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["tool", "all"])))]
pub struct ApproveArgs {
    /// The upstream whose changes to approve.
    #[arg(long)]
    pub upstream: String,
    /// Approve this tool's change.
    #[arg(long)]
    pub tool: Option<String>,
    /// Approve every pending change of the upstream.
    #[arg(long)]
    pub all: bool,
}

/// Runs a `tools` subcommand.
pub fn tools(args: ToolsArgs) -> anyhow::Result<()> {
    let path = PinStore::state_file(&args.state_dir);
    match args.command {
        ToolsCommand::List { upstream } => {
            print!("{}", list(&load(&path)?, upstream.as_deref(), args.json)?)
        }
        ToolsCommand::Diff { upstream, tool } => {
            print!(
                "{}",
                diff(
                    &load(&path)?,
                    upstream.as_deref(),
                    tool.as_deref(),
                    args.json
                )?
            );
        }
        ToolsCommand::Approve(a) => print!("{}", approve(&path, &a, args.json)?),
    }
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<PinStore> {
    match PinStore::load(path) {
        Err(PinError::NotFound(_)) => anyhow::bail!(
            "no pin state file at {}: the gateway writes it when it first sees an upstream \
             (choose another with --state-dir or PORTCULLIS_STATE_DIR)",
            path.display()
        ),
        other => Ok(other?),
    }
}

fn selected<'a>(store: &'a PinStore, upstream: Option<&'a str>) -> anyhow::Result<Vec<&'a str>> {
    match upstream {
        Some(u) if store.upstreams().any(|x| x == u) => Ok(vec![u]),
        Some(u) => anyhow::bail!("no pinned tools for upstream `{}`", shown(u)),
        None => Ok(store.upstreams().collect()),
    }
}

fn list(store: &PinStore, upstream: Option<&str>, as_json: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rows = Vec::new();
    for u in selected(store, upstream)? {
        let pinned: Vec<_> = store
            .pinned(u)
            .map(|(name, p)| json!({"tool": name, "hash": p.hash, "pinned_at": p.pinned_at}))
            .collect();
        let pending: Vec<_> = store.pending(u).collect();
        out.push_str(&format!(
            "upstream {}: {} pinned, {} pending\n",
            shown(u),
            pinned.len(),
            pending.len()
        ));
        for (name, p) in store.pinned(u) {
            let state = if store.pending(u).any(|c| c.tool == name) {
                "held"
            } else {
                "ok"
            };
            out.push_str(&format!(
                "  {state:<5} {:<40} {}\n",
                shown(name),
                p.hash.get(..16).unwrap_or("")
            ));
        }
        for c in &pending {
            out.push_str(&format!(
                "  {:<5} {:<40} (first seen {})\n",
                c.kind.to_string(),
                shown(&c.tool),
                c.first_seen
            ));
        }
        rows.push(json!({"upstream": u, "pinned": pinned, "pending": pending}));
    }
    if as_json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    Ok(out)
}

fn diff(
    store: &PinStore,
    upstream: Option<&str>,
    tool: Option<&str>,
    as_json: bool,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rows = Vec::new();
    for u in selected(store, upstream)? {
        for d in store
            .diff(u)
            .into_iter()
            .filter(|d| tool.is_none_or(|t| t == d.tool))
        {
            out.push_str(&format!("[{}] {d}", shown(u)));
            let fields: Vec<_> = d
                .fields
                .iter()
                .map(|f| json!({"field": f.field, "old": f.old, "new": f.new, "paths": f.paths}))
                .collect();
            rows.push(json!({
                "upstream": u, "tool": d.tool, "kind": d.kind, "renamed_from": d.renamed_from,
                "first_seen": d.first_seen, "fields": fields,
            }));
        }
    }
    if as_json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    if out.is_empty() {
        out.push_str("no pending changes\n");
    }
    Ok(out)
}

fn approve(path: &Path, args: &ApproveArgs, as_json: bool) -> anyhow::Result<String> {
    let which = match &args.tool {
        Some(tool) => Approve::Tool(tool.clone()),
        None => Approve::All,
    };
    // Never create a state file here: load it first (a clear error if missing).
    load(path)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let approved = PinStore::new()
        .locked_update(path, |s| s.approve(&args.upstream, &which, now))
        .with_context(|| format!("approving in {}", path.display()))?;
    if as_json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&approved)?));
    }
    if approved.is_empty() {
        return Ok("nothing to approve\n".to_owned());
    }
    Ok(approved
        .iter()
        .map(|c| {
            format!(
                "approved {} tool `{}` of `{}`\n",
                c.kind,
                shown(&c.tool),
                shown(&c.upstream)
            )
        })
        .collect())
}

/// Escapes control characters (terminal escapes) in names read from the file.
fn shown(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
