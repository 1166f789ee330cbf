//! Typed access to the program's maps, owned by a loaded program or opened
//! from the pins of a running one.

use std::{net::IpAddr, path::Path, time::Duration};

use aya::{
    Ebpf,
    maps::{
        Array, HashMap, Map, MapData, MapError, PerCpuArray,
        lpm_trie::{Key, LpmTrie},
    },
};
use gateway_common::{
    Counter, EdgeConfig, ListEntry, MAP_ALLOW, MAP_BLOCK, MAP_CONFIG, MAP_COUNTERS, MAP_SOURCES,
    REASON_AUTOMATIC, SourceKey, SourceState,
};
use serde::Serialize;

use super::{
    Cidr, EdgeLimits,
    clock::monotonic_now_ns,
    program::{EdgeError, pin_dir, validate_iface},
};

/// Which list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Never rate limited.
    Allow,
    /// Always dropped.
    Block,
}

impl ListKind {
    fn map_name(self) -> &'static str {
        match self {
            ListKind::Allow => MAP_ALLOW,
            ListKind::Block => MAP_BLOCK,
        }
    }
}

/// One list entry as shown to an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListEntryView {
    /// The prefix.
    pub cidr: String,
    /// Seconds until it lapses; `None` for permanent entries.
    pub expires_in_secs: Option<u64>,
    /// Whether it has already lapsed (and no longer applies).
    pub expired: bool,
    /// `operator` or `automatic`.
    pub added_by: &'static str,
}

/// One tracked source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceView {
    /// The source prefix (grouped by the configured prefix length).
    pub source: String,
    /// Packets that passed its buckets.
    pub passed: u64,
    /// Packets its buckets dropped (or would have, in monitor mode).
    pub dropped: u64,
}

/// The verdict counters summed over CPUs, in [`Counter::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot(pub [u64; Counter::COUNT as usize]);

impl CounterSnapshot {
    /// The value of one counter.
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter as usize]
    }

    /// All packets seen.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Per-counter increase since `earlier` (saturating, in case the program
    /// was reloaded in between).
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        let mut out = [0u64; Counter::COUNT as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = self.0[i].saturating_sub(earlier.0[i]);
        }
        CounterSnapshot(out)
    }
}

/// The program's maps.
pub struct EdgeMaps {
    config: Array<MapData, EdgeConfig>,
    sources: HashMap<MapData, SourceKey, SourceState>,
    allow: LpmTrie<MapData, [u8; 16], ListEntry>,
    block: LpmTrie<MapData, [u8; 16], ListEntry>,
    counters: PerCpuArray<MapData, u64>,
}

impl std::fmt::Debug for EdgeMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeMaps").finish_non_exhaustive()
    }
}

fn map_err(map: &'static str) -> impl FnOnce(MapError) -> EdgeError {
    move |source| EdgeError::Map { map, source }
}

impl EdgeMaps {
    /// Takes the maps out of a freshly loaded object, pinning each under
    /// `pin_dir` first when given.
    pub(super) fn take_from(ebpf: &mut Ebpf, pin_dir: Option<&Path>) -> Result<Self, EdgeError> {
        let mut take = |name: &'static str| -> Result<Map, EdgeError> {
            let map = ebpf
                .take_map(name)
                .ok_or_else(|| EdgeError::Object(format!("map `{name}` missing")))?;
            if let Some(dir) = pin_dir {
                map.pin(dir.join(name)).map_err(|e| EdgeError::Pin {
                    path: dir.to_owned(),
                    message: format!("{name}: {e}"),
                })?;
            }
            Ok(map)
        };
        Self::from_maps(
            take(MAP_CONFIG)?,
            take(MAP_SOURCES)?,
            take(MAP_ALLOW)?,
            take(MAP_BLOCK)?,
            take(MAP_COUNTERS)?,
        )
    }

    fn from_maps(
        config: Map,
        sources: Map,
        allow: Map,
        block: Map,
        counters: Map,
    ) -> Result<Self, EdgeError> {
        Ok(Self {
            config: config.try_into().map_err(map_err(MAP_CONFIG))?,
            sources: sources.try_into().map_err(map_err(MAP_SOURCES))?,
            allow: allow.try_into().map_err(map_err(MAP_ALLOW))?,
            block: block.try_into().map_err(map_err(MAP_BLOCK))?,
            counters: counters.try_into().map_err(map_err(MAP_COUNTERS))?,
        })
    }

    /// Opens the maps a running `portcullis run --iface IFACE` pinned.
    ///
    /// Fails with [`EdgeError::NotRunning`] unless a loaded program still
    /// uses them: pins a crashed instance left behind would accept writes
    /// that filter nothing.
    pub fn open_pinned(iface: &str) -> Result<Self, EdgeError> {
        validate_iface(iface)?;
        let dir = pin_dir(iface);
        let open = |name: &'static str| -> Result<Map, EdgeError> {
            let data = MapData::from_pin(dir.join(name))
                .map_err(|_| EdgeError::NotRunning(iface.to_owned()))?;
            Map::from_map_data(data).map_err(map_err(name))
        };
        let config = open(MAP_CONFIG)?;
        let config_id = match &config {
            Map::Array(data) => data.info().map_err(map_err(MAP_CONFIG))?.id(),
            _ => {
                return Err(EdgeError::Object(format!(
                    "pinned `{MAP_CONFIG}` is not an array"
                )));
            }
        };
        let live = aya::programs::loaded_programs().flatten().any(|program| {
            program
                .map_ids()
                .ok()
                .flatten()
                .is_some_and(|ids| ids.contains(&config_id))
        });
        if !live {
            return Err(EdgeError::NotRunning(iface.to_owned()));
        }
        Self::from_maps(
            config,
            open(MAP_SOURCES)?,
            open(MAP_ALLOW)?,
            open(MAP_BLOCK)?,
            open(MAP_COUNTERS)?,
        )
    }

    /// The limits in force.
    pub fn limits(&self) -> Result<EdgeLimits, EdgeError> {
        let config = self.config.get(&0, 0).map_err(map_err(MAP_CONFIG))?;
        Ok(EdgeLimits::from_config(&config))
    }

    /// Validates and writes new limits; the running program uses them from
    /// its next packet. Invalid limits change nothing.
    pub fn set_limits(&mut self, limits: &EdgeLimits) -> Result<(), EdgeError> {
        limits.validate()?;
        self.config
            .set(0, limits.to_config(), 0)
            .map_err(map_err(MAP_CONFIG))
    }

    /// Adds (or replaces) a list entry, lapsing after `ttl` if given.
    pub fn list_add(
        &mut self,
        kind: ListKind,
        cidr: &Cidr,
        ttl: Option<Duration>,
    ) -> Result<(), EdgeError> {
        self.list_add_with_reason(kind, cidr, ttl, gateway_common::REASON_OPERATOR)
    }

    /// As [`Self::list_add`], recording who added it.
    pub fn list_add_with_reason(
        &mut self,
        kind: ListKind,
        cidr: &Cidr,
        ttl: Option<Duration>,
        reason: u32,
    ) -> Result<(), EdgeError> {
        let expires_at_ns = match ttl {
            None => 0,
            Some(ttl) => monotonic_now_ns()
                .saturating_add(u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX))
                .max(1),
        };
        let entry = ListEntry {
            expires_at_ns,
            reason,
            _reserved: 0,
        };
        let key = Key::new(cidr.key_prefix_len(), cidr.key_addr());
        self.list_mut(kind)
            .insert(&key, entry, 0)
            .map_err(map_err(kind.map_name()))
    }

    /// Removes an entry; `Ok(false)` if it was not there.
    pub fn list_remove(&mut self, kind: ListKind, cidr: &Cidr) -> Result<bool, EdgeError> {
        let key = Key::new(cidr.key_prefix_len(), cidr.key_addr());
        match self.list_mut(kind).remove(&key) {
            Ok(()) => Ok(true),
            Err(MapError::KeyNotFound) => Ok(false),
            Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => {
                Ok(false)
            }
            Err(source) => Err(EdgeError::Map {
                map: kind.map_name(),
                source,
            }),
        }
    }

    /// Every entry of a list, sorted by prefix.
    pub fn list(&self, kind: ListKind) -> Result<Vec<ListEntryView>, EdgeError> {
        let now = monotonic_now_ns();
        let trie = match kind {
            ListKind::Allow => &self.allow,
            ListKind::Block => &self.block,
        };
        let mut out = Vec::new();
        for item in trie.iter() {
            let (key, entry) = item.map_err(map_err(kind.map_name()))?;
            let Some(cidr) = Cidr::from_key(key.prefix_len(), key.data()) else {
                continue;
            };
            out.push(ListEntryView {
                cidr: cidr.to_string(),
                expires_in_secs: (entry.expires_at_ns != 0).then(|| {
                    entry
                        .expires_at_ns
                        .saturating_sub(now)
                        .div_ceil(1_000_000_000)
                }),
                expired: !entry.is_active(now),
                added_by: if entry.reason == REASON_AUTOMATIC {
                    "automatic"
                } else {
                    "operator"
                },
            });
        }
        out.sort_by(|a, b| a.cidr.cmp(&b.cidr));
        Ok(out)
    }

    /// Deletes entries whose expiry has passed (the kernel already ignores
    /// them; this only frees the slots). Returns how many went.
    pub fn sweep_expired(&mut self) -> Result<usize, EdgeError> {
        let now = monotonic_now_ns();
        let mut removed = 0;
        for kind in [ListKind::Allow, ListKind::Block] {
            let trie = self.list_mut(kind);
            let expired: Vec<Key<[u8; 16]>> = trie
                .iter()
                .filter_map(Result::ok)
                .filter(|(_, entry)| !entry.is_active(now))
                .map(|(key, _)| key)
                .collect();
            for key in expired {
                if trie.remove(&key).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// The verdict counters, summed over CPUs.
    pub fn counters(&self) -> Result<CounterSnapshot, EdgeError> {
        let mut snapshot = CounterSnapshot::default();
        for counter in Counter::ALL {
            let per_cpu = self
                .counters
                .get(&(counter as u32), 0)
                .map_err(map_err(MAP_COUNTERS))?;
            snapshot.0[counter as usize] = per_cpu.iter().sum();
        }
        Ok(snapshot)
    }

    /// Tracked sources, most dropped first, at most `limit`.
    pub fn top_sources(&self, limit: usize) -> Result<Vec<SourceView>, EdgeError> {
        let limits = self.limits()?;
        let mut out: Vec<SourceView> = Vec::new();
        for item in self.sources.iter() {
            let (key, state) = item.map_err(map_err(MAP_SOURCES))?;
            let addr = std::net::Ipv6Addr::from(key.addr);
            let source = match addr.to_ipv4_mapped() {
                Some(v4) => format!("{}/{}", IpAddr::V4(v4), limits.ipv4_prefix_len),
                None => format!("{}/{}", addr, limits.ipv6_prefix_len),
            };
            out.push(SourceView {
                source,
                passed: state.passed,
                dropped: state.dropped,
            });
        }
        out.sort_by(|a, b| b.dropped.cmp(&a.dropped).then(b.passed.cmp(&a.passed)));
        out.truncate(limit);
        Ok(out)
    }

    fn list_mut(&mut self, kind: ListKind) -> &mut LpmTrie<MapData, [u8; 16], ListEntry> {
        match kind {
            ListKind::Allow => &mut self.allow,
            ListKind::Block => &mut self.block,
        }
    }
}
