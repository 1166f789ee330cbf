//! The pin store: trust on first use, then every difference is held (or,
//! in warn mode, passed and recorded) until approved. Sans-IO: `now` is
//! passed in; persistence lives in `persist.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::screen::{Listed, screen};
use super::{
    Approve, ChangeKind, PendingChange, PinError, PinMode, PinOutcome, PinnedTool, RejectedTool,
    canonical_hash, types::UpstreamPins,
};

/// Pinned tool definitions per upstream, with pending changes.
#[derive(Debug, Clone, Default)]
pub struct PinStore {
    pub(crate) upstreams: BTreeMap<String, UpstreamPins>,
    modes: HashMap<String, PinMode>,
}

impl PinStore {
    /// An empty store: every upstream is trusted on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an upstream's mode (from policy; not persisted). Default: enforce.
    pub fn set_mode(&mut self, upstream: &str, mode: PinMode) {
        self.modes.insert(upstream.to_owned(), mode);
    }

    /// The upstream's mode.
    pub fn mode(&self, upstream: &str) -> PinMode {
        self.modes.get(upstream).copied().unwrap_or_default()
    }

    /// Pins `tools` for `upstream` as approved (a pin file from config), so
    /// the first tools/list is compared against them instead of trusted.
    /// Replaces any earlier pins for the upstream and clears its pending changes.
    pub fn pin_from_file(
        &mut self,
        upstream: &str,
        tools: &[Value],
        now_unix: u64,
    ) -> Vec<RejectedTool> {
        let (listed, rejected) = screen(tools);
        let pins = UpstreamPins {
            pinned: listed
                .into_iter()
                .map(|l| (l.name.to_owned(), pin(&l, now_unix)))
                .collect(),
            pending: BTreeMap::new(),
        };
        self.upstreams.insert(upstream.to_owned(), pins);
        rejected
    }

    /// Compares a tools/list result with the pins (pinning everything on
    /// first sight) and decides what the client may see.
    pub fn observe_tools_list(
        &mut self,
        upstream: &str,
        tools: &[Value],
        now_unix: u64,
    ) -> PinOutcome {
        let (listed, rejected) = screen(tools);
        let Some(pins) = self.upstreams.get_mut(upstream) else {
            let pinned = listed
                .iter()
                .map(|l| (l.name.to_owned(), pin(l, now_unix)))
                .collect();
            self.upstreams.insert(
                upstream.to_owned(),
                UpstreamPins {
                    pinned,
                    pending: BTreeMap::new(),
                },
            );
            return PinOutcome {
                allowed: listed.iter().map(|l| l.definition.clone()).collect(),
                held: Vec::new(),
                rejected,
                state_changed: true,
            };
        };
        let warn = self.modes.get(upstream).copied().unwrap_or_default() == PinMode::Warn;
        let mut pending = BTreeMap::new();
        let mut allowed = Vec::new();
        for l in &listed {
            let old_hash = match pins.pinned.get(l.name) {
                Some(p) if p.hash == l.hash => {
                    allowed.push(l.definition.clone());
                    continue;
                }
                Some(p) => Some(p.hash.clone()),
                None => None,
            };
            let kind = if old_hash.is_some() {
                ChangeKind::Changed
            } else {
                ChangeKind::New
            };
            pending.insert(
                l.name.to_owned(),
                change(upstream, l.name, kind, old_hash, Some(l), now_unix),
            );
            if warn {
                allowed.push(l.definition.clone());
            }
        }
        let present: HashSet<&str> = listed.iter().map(|l| l.name).collect();
        let removed: Vec<(&String, &PinnedTool)> = pins
            .pinned
            .iter()
            .filter(|(name, _)| !present.contains(name.as_str()))
            .collect();
        for (name, p) in &removed {
            let c = change(
                upstream,
                name,
                ChangeKind::Removed,
                Some(p.hash.clone()),
                None,
                now_unix,
            );
            pending.insert((*name).clone(), c);
        }
        mark_renames(&mut pending, &removed);
        for (name, c) in &mut pending {
            if let Some(old) = pins.pending.get(name)
                && old.kind == c.kind
                && old.new_hash == c.new_hash
            {
                c.first_seen = old.first_seen;
            }
        }
        let state_changed = pending != pins.pending;
        pins.pending = pending;
        PinOutcome {
            allowed,
            held: pins.pending.values().cloned().collect(),
            rejected,
            state_changed,
        }
    }

    /// Whether a tools/call to this tool may go through: false for unknown
    /// upstreams and tools, and (in enforce mode) for tools with a pending change.
    pub fn is_callable(&self, upstream: &str, tool: &str) -> bool {
        self.tool_def(upstream, tool).is_some()
    }

    /// The definition to validate calls against: the pinned one; in warn
    /// mode, the listed one when it changed. `None` when not callable.
    pub fn tool_def(&self, upstream: &str, tool: &str) -> Option<&Value> {
        let pins = self.upstreams.get(upstream)?;
        match (pins.pending.get(tool), self.mode(upstream)) {
            (None, _) => pins.pinned.get(tool).map(|p| &p.definition),
            (Some(c), PinMode::Warn) => c.definition.as_ref(),
            (Some(_), PinMode::Enforce) => None,
        }
    }

    /// Upstreams with state, in name order.
    pub fn upstreams(&self) -> impl Iterator<Item = &str> {
        self.upstreams.keys().map(String::as_str)
    }

    /// An upstream's pinned tools, in name order.
    pub fn pinned(&self, upstream: &str) -> impl Iterator<Item = (&str, &PinnedTool)> {
        self.upstreams
            .get(upstream)
            .into_iter()
            .flat_map(|u| u.pinned.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// An upstream's pending changes, in tool-name order.
    pub fn pending(&self, upstream: &str) -> impl Iterator<Item = &PendingChange> {
        self.upstreams
            .get(upstream)
            .into_iter()
            .flat_map(|u| u.pending.values())
    }

    /// Applies pending changes: `Changed`/`New` pin the listed definition,
    /// `Removed` drops the pin. Returns what was approved.
    pub fn approve(
        &mut self,
        upstream: &str,
        which: &Approve,
        now_unix: u64,
    ) -> Result<Vec<PendingChange>, PinError> {
        let pins = self
            .upstreams
            .get_mut(upstream)
            .ok_or_else(|| PinError::UnknownUpstream(upstream.to_owned()))?;
        let names: Vec<String> = match which {
            Approve::All => pins.pending.keys().cloned().collect(),
            Approve::Tool(name) if pins.pending.contains_key(name) => vec![name.clone()],
            Approve::Tool(name) => {
                return Err(PinError::NothingPending {
                    upstream: upstream.to_owned(),
                    tool: name.clone(),
                });
            }
        };
        let mut approved = Vec::with_capacity(names.len());
        for name in names {
            let Some(c) = pins.pending.remove(&name) else {
                continue;
            };
            match (&c.definition, &c.new_hash) {
                (Some(definition), Some(hash)) => {
                    let pinned = PinnedTool {
                        hash: hash.clone(),
                        definition: definition.clone(),
                        pinned_at: now_unix,
                    };
                    pins.pinned.insert(name, pinned);
                }
                _ => {
                    pins.pinned.remove(&name);
                }
            }
            approved.push(c);
        }
        Ok(approved)
    }
}

fn pin(l: &Listed<'_>, now_unix: u64) -> PinnedTool {
    PinnedTool {
        hash: l.hash.clone(),
        definition: l.definition.clone(),
        pinned_at: now_unix,
    }
}

fn change(
    upstream: &str,
    tool: &str,
    kind: ChangeKind,
    old_hash: Option<String>,
    listed: Option<&Listed<'_>>,
    now_unix: u64,
) -> PendingChange {
    PendingChange {
        upstream: upstream.to_owned(),
        tool: tool.to_owned(),
        kind,
        old_hash,
        new_hash: listed.map(|l| l.hash.clone()),
        first_seen: now_unix,
        renamed_from: None,
        definition: listed.map(|l| l.definition.clone()),
    }
}

/// Marks `New` changes whose definition equals a removed pin's apart from the name.
fn mark_renames(pending: &mut BTreeMap<String, PendingChange>, removed: &[(&String, &PinnedTool)]) {
    if removed.is_empty() {
        return;
    }
    let bodies: Vec<(&String, String)> = removed
        .iter()
        .map(|(name, p)| (*name, body_hash(&p.definition)))
        .collect();
    for c in pending.values_mut().filter(|c| c.kind == ChangeKind::New) {
        let Some(def) = &c.definition else { continue };
        let body = body_hash(def);
        c.renamed_from = bodies
            .iter()
            .find(|(_, b)| *b == body)
            .map(|(n, _)| (*n).clone());
    }
}

/// Hash of a definition without its `name`.
fn body_hash(definition: &Value) -> String {
    let mut body = definition.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("name");
    }
    canonical_hash(&body)
}
