//! CIDR prefixes as the allow/block tries store them.

use std::{fmt, net::IpAddr, str::FromStr};

use gateway_common::{V4_MAPPED_PREFIX, v4_mapped};
use ipnet::IpNet;

/// Why a CIDR was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    /// Not an address or `address/len`.
    #[error("`{input}` is not a CIDR prefix (expected e.g. 198.18.0.0/15 or 2001:2::/48)")]
    Syntax {
        /// What was given.
        input: String,
    },
    /// Bits set after the prefix length: ambiguous, so refused.
    #[error("`{input}` has host bits set after /{len}; did you mean {suggestion}?")]
    HostBits {
        /// What was given.
        input: String,
        /// Its prefix length.
        len: u8,
        /// The network it probably meant.
        suggestion: String,
    },
}

/// A validated IPv4 or IPv6 prefix with no host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr(IpNet);

impl Cidr {
    /// The prefix length over the 128-bit key (IPv4 is IPv4-mapped).
    pub fn key_prefix_len(&self) -> u32 {
        match self.0 {
            IpNet::V4(n) => V4_MAPPED_PREFIX + u32::from(n.prefix_len()),
            IpNet::V6(n) => u32::from(n.prefix_len()),
        }
    }

    /// The 16 key bytes (IPv4-mapped for IPv4).
    pub fn key_addr(&self) -> [u8; 16] {
        match self.0 {
            IpNet::V4(n) => v4_mapped(n.network().octets()),
            IpNet::V6(n) => n.network().octets(),
        }
    }

    /// Rebuilds a prefix from a trie key. IPv4-mapped keys of at least /96
    /// become IPv4 prefixes.
    pub fn from_key(prefix_len: u32, addr: [u8; 16]) -> Option<Self> {
        let v6 = std::net::Ipv6Addr::from(addr);
        let net = match v6.to_ipv4_mapped() {
            Some(v4) if prefix_len >= V4_MAPPED_PREFIX => IpNet::new(
                IpAddr::V4(v4),
                u8::try_from(prefix_len - V4_MAPPED_PREFIX).ok()?,
            )
            .ok()?,
            _ => IpNet::new(IpAddr::V6(v6), u8::try_from(prefix_len).ok()?).ok()?,
        };
        Some(Self(net))
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        self.0.contains(addr)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Accepts `address/len` or a bare address (a host prefix). Refuses host
    /// bits after the prefix rather than silently widening or narrowing what
    /// the operator asked for.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let syntax = || CidrError::Syntax {
            input: input.to_owned(),
        };
        let trimmed = input.trim();
        if trimmed.len() > 64 {
            return Err(syntax());
        }
        let net = if trimmed.contains('/') {
            trimmed.parse::<IpNet>().map_err(|_| syntax())?
        } else {
            IpNet::from(trimmed.parse::<IpAddr>().map_err(|_| syntax())?)
        };
        if net.addr() != net.network() {
            return Err(CidrError::HostBits {
                input: input.to_owned(),
                len: net.prefix_len(),
                suggestion: net.trunc().to_string(),
            });
        }
        Ok(Self(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6_with_mapped_keys() {
        let v4: Cidr = "198.18.0.0/15".parse().unwrap();
        assert_eq!(v4.key_prefix_len(), 96 + 15);
        assert_eq!(v4.key_addr(), v4_mapped([198, 18, 0, 0]));
        let v6: Cidr = "2001:2::/48".parse().unwrap();
        assert_eq!(v6.key_prefix_len(), 48);
        let host: Cidr = "198.18.1.2".parse().unwrap();
        assert_eq!(host.to_string(), "198.18.1.2/32");
    }

    #[test]
    fn round_trips_through_the_trie_key() {
        for s in [
            "198.18.0.0/15",
            "198.18.1.2/32",
            "2001:2::/48",
            "2001:2::1/128",
            "0.0.0.0/0",
        ] {
            let c: Cidr = s.parse().unwrap();
            assert_eq!(
                Cidr::from_key(c.key_prefix_len(), c.key_addr()),
                Some(c),
                "{s}"
            );
        }
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            "",
            "198.18.0.0/33",
            "2001:2::/129",
            "198.18.0",
            "banana",
            "198.18.0.0/",
            "/24",
            "198.18.0.0/-1",
            "1.2.3.4/24/1",
        ] {
            assert!(
                matches!(bad.parse::<Cidr>(), Err(CidrError::Syntax { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn refuses_host_bits_with_a_suggestion() {
        let err = "198.18.1.5/24".parse::<Cidr>().unwrap_err();
        assert_eq!(
            err,
            CidrError::HostBits {
                input: "198.18.1.5/24".into(),
                len: 24,
                suggestion: "198.18.1.0/24".into()
            }
        );
    }
}
