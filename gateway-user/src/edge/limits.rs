//! Operator-facing edge limits: validated here, then written to the config
//! map as a [`gateway_common::EdgeConfig`].

use std::{fmt, str::FromStr};

use gateway_common::{EdgeConfig, MAX_PORTS, Rate};
use serde::{Deserialize, Serialize};

/// What the program does with packets over budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Drop them.
    #[default]
    Enforce,
    /// Count them as `would_drop` and pass them.
    Monitor,
}

impl FromStr for Mode {
    type Err = LimitsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "monitor" => Ok(Mode::Monitor),
            other => Err(LimitsError::UnknownMode(other.to_owned())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
        })
    }
}

/// Why a set of limits was refused. Nothing is written when this is returned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitsError {
    /// A rate of zero would silently block every source after its burst.
    #[error("{field} must be at least 1 (got 0)")]
    Zero {
        /// The offending field.
        field: &'static str,
    },
    /// Above what the kernel arithmetic honours.
    #[error("{field} must be at most {max} (got {value})")]
    TooLarge {
        /// The offending field.
        field: &'static str,
        /// The maximum.
        max: u64,
        /// What was given.
        value: u64,
    },
    /// A prefix length outside the family's range.
    #[error("{field} must be between 1 and {max} (got {value})")]
    PrefixLen {
        /// The offending field.
        field: &'static str,
        /// The family's maximum.
        max: u8,
        /// What was given.
        value: u8,
    },
    /// Too many or invalid ports.
    #[error("{field}: {reason}")]
    Ports {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Not `enforce` or `monitor`.
    #[error("unknown mode `{0}` (expected `enforce` or `monitor`)")]
    UnknownMode(String),
}

/// Per-source limits of the edge layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeLimits {
    /// Packets per second each source may send to protected ports.
    pub packets_per_sec: u64,
    /// Packets a source may send at once before the rate applies.
    pub packet_burst: u64,
    /// New connections (TCP SYN, QUIC Initial) per second per source.
    pub new_conns_per_sec: u64,
    /// New connections a source may open at once.
    pub new_conn_burst: u64,
    /// Protected TCP destination ports.
    pub tcp_ports: Vec<u16>,
    /// Protected UDP destination ports.
    pub udp_ports: Vec<u16>,
    /// IPv4 sources are grouped by this prefix length.
    pub ipv4_prefix_len: u8,
    /// IPv6 sources are grouped by this prefix length.
    pub ipv6_prefix_len: u8,
    /// Enforce or only monitor.
    pub mode: Mode,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            packets_per_sec: 20_000,
            packet_burst: 40_000,
            new_conns_per_sec: 200,
            new_conn_burst: 400,
            tcp_ports: vec![8443],
            udp_ports: vec![8443],
            ipv4_prefix_len: 32,
            ipv6_prefix_len: 64,
            mode: Mode::Enforce,
        }
    }
}

/// A partial change to [`EdgeLimits`], as `portcullis ctl limits set` takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitsUpdate {
    /// New packet rate.
    pub packets_per_sec: Option<u64>,
    /// New packet burst.
    pub packet_burst: Option<u64>,
    /// New connection rate.
    pub new_conns_per_sec: Option<u64>,
    /// New connection burst.
    pub new_conn_burst: Option<u64>,
    /// New protected TCP ports.
    pub tcp_ports: Option<Vec<u16>>,
    /// New protected UDP ports.
    pub udp_ports: Option<Vec<u16>>,
    /// New IPv4 grouping prefix.
    pub ipv4_prefix_len: Option<u8>,
    /// New IPv6 grouping prefix.
    pub ipv6_prefix_len: Option<u8>,
    /// New mode.
    pub mode: Option<Mode>,
}

impl LimitsUpdate {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the update to `current` and validates the result.
    pub fn apply(self, current: &EdgeLimits) -> Result<EdgeLimits, LimitsError> {
        let mut next = current.clone();
        macro_rules! take {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { next.$field = v; })* };
        }
        take!(
            packets_per_sec,
            packet_burst,
            new_conns_per_sec,
            new_conn_burst,
            tcp_ports,
            udp_ports,
            ipv4_prefix_len,
            ipv6_prefix_len,
            mode
        );
        next.validate()?;
        Ok(next)
    }
}

impl EdgeLimits {
    /// Checks every field; the kernel never sees limits that fail this.
    pub fn validate(&self) -> Result<(), LimitsError> {
        check_rate("packets_per_sec", self.packets_per_sec, Rate::MAX_PER_SEC)?;
        check_rate("packet_burst", self.packet_burst, Rate::MAX_BURST)?;
        check_rate(
            "new_conns_per_sec",
            self.new_conns_per_sec,
            Rate::MAX_PER_SEC,
        )?;
        check_rate("new_conn_burst", self.new_conn_burst, Rate::MAX_BURST)?;
        check_ports("tcp_ports", &self.tcp_ports)?;
        check_ports("udp_ports", &self.udp_ports)?;
        check_prefix("ipv4_prefix_len", self.ipv4_prefix_len, 32)?;
        check_prefix("ipv6_prefix_len", self.ipv6_prefix_len, 128)?;
        Ok(())
    }

    /// The kernel layout of these limits (validate first).
    pub fn to_config(&self) -> EdgeConfig {
        EdgeConfig {
            packets: Rate::new(self.packets_per_sec, self.packet_burst),
            new_conns: Rate::new(self.new_conns_per_sec, self.new_conn_burst),
            tcp_ports: port_slots(&self.tcp_ports),
            udp_ports: port_slots(&self.udp_ports),
            v4_prefix_len: self.ipv4_prefix_len,
            v6_prefix_len: self.ipv6_prefix_len,
            mode: match self.mode {
                Mode::Enforce => gateway_common::Mode::Enforce as u8,
                Mode::Monitor => gateway_common::Mode::Monitor as u8,
            },
            _reserved: [0; 5],
        }
    }

    /// Reads limits back from the kernel layout.
    pub fn from_config(config: &EdgeConfig) -> Self {
        Self {
            packets_per_sec: config.packets.per_sec,
            packet_burst: config.packets.burst,
            new_conns_per_sec: config.new_conns.per_sec,
            new_conn_burst: config.new_conns.burst,
            tcp_ports: config
                .tcp_ports
                .iter()
                .copied()
                .filter(|p| *p != 0)
                .collect(),
            udp_ports: config
                .udp_ports
                .iter()
                .copied()
                .filter(|p| *p != 0)
                .collect(),
            ipv4_prefix_len: config.v4_prefix_len,
            ipv6_prefix_len: config.v6_prefix_len,
            mode: if config.is_monitor() {
                Mode::Monitor
            } else {
                Mode::Enforce
            },
        }
    }
}

fn check_rate(field: &'static str, value: u64, max: u64) -> Result<(), LimitsError> {
    if value == 0 {
        return Err(LimitsError::Zero { field });
    }
    if value > max {
        return Err(LimitsError::TooLarge { field, max, value });
    }
    Ok(())
}

fn check_prefix(field: &'static str, value: u8, max: u8) -> Result<(), LimitsError> {
    if value == 0 || value > max {
        return Err(LimitsError::PrefixLen { field, max, value });
    }
    Ok(())
}

fn check_ports(field: &'static str, ports: &[u16]) -> Result<(), LimitsError> {
    if ports.len() > MAX_PORTS {
        return Err(LimitsError::Ports {
            field,
            reason: format!("at most {MAX_PORTS} ports (got {})", ports.len()),
        });
    }
    if ports.contains(&0) {
        return Err(LimitsError::Ports {
            field,
            reason: "port 0 cannot be protected".into(),
        });
    }
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ports.len() {
        return Err(LimitsError::Ports {
            field,
            reason: "duplicate port".into(),
        });
    }
    Ok(())
}

fn port_slots(ports: &[u16]) -> [u16; MAX_PORTS] {
    let mut slots = [0u16; MAX_PORTS];
    for (slot, port) in slots.iter_mut().zip(ports) {
        *slot = *port;
    }
    slots
}

/// Parses a comma-separated port list (`80,443`); empty means none.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, String> {
    if s.trim().is_empty() || s.trim() == "none" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{p}` is not a port number (1-65535)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let limits = EdgeLimits::default();
        limits.validate().unwrap();
        assert_eq!(EdgeLimits::from_config(&limits.to_config()), limits);
    }

    #[test]
    fn update_changes_only_given_fields() {
        let base = EdgeLimits::default();
        let next = LimitsUpdate {
            packets_per_sec: Some(5),
            mode: Some(Mode::Monitor),
            ..Default::default()
        }
        .apply(&base)
        .unwrap();
        assert_eq!(next.packets_per_sec, 5);
        assert_eq!(next.mode, Mode::Monitor);
        assert_eq!(next.packet_burst, base.packet_burst);
    }

    #[test]
    fn refuses_bad_values() {
        let base = EdgeLimits::default();
        let cases: Vec<(LimitsUpdate, &str)> = vec![
            (
                LimitsUpdate {
                    packet_burst: Some(0),
                    ..Default::default()
                },
                "packet_burst must be at least 1",
            ),
            (
                LimitsUpdate {
                    new_conns_per_sec: Some(0),
                    ..Default::default()
                },
                "new_conns_per_sec must be at least 1",
            ),
            (
                LimitsUpdate {
                    packet_burst: Some(Rate::MAX_BURST + 1),
                    ..Default::default()
                },
                "at most",
            ),
            (
                LimitsUpdate {
                    ipv4_prefix_len: Some(33),
                    ..Default::default()
                },
                "ipv4_prefix_len",
            ),
            (
                LimitsUpdate {
                    ipv6_prefix_len: Some(0),
                    ..Default::default()
                },
                "ipv6_prefix_len",
            ),
            (
                LimitsUpdate {
                    tcp_ports: Some(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]),
                    ..Default::default()
                },
                "at most 8 ports",
            ),
            (
                LimitsUpdate {
                    udp_ports: Some(vec![443, 443]),
                    ..Default::default()
                },
                "duplicate",
            ),
        ];
        for (update, expect) in cases {
            let err = update.clone().apply(&base).unwrap_err().to_string();
            assert!(err.contains(expect), "{update:?}: {err}");
        }
        assert_eq!(
            "fast".parse::<Mode>(),
            Err(LimitsError::UnknownMode("fast".into()))
        );
        assert!(parse_ports("80,x").is_err());
        assert!(parse_ports("70000").is_err());
        assert_eq!(parse_ports("80, 443").unwrap(), vec![80, 443]);
    }
}
