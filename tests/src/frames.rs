//! Builders for the Ethernet frames the kernel tests and benchmarks send:
//! IPv4 (with options and fragments), IPv6 (with extension headers), VLAN
//! tags, TCP, UDP, QUIC Initial, ARP, and deliberately broken variants.
//!
//! Checksums are filled in so the frames are also valid on a real link.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Source MAC used by test senders.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Destination MAC used by test senders.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// TCP flag bits.
pub mod tcp_flags {
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// PSH.
    pub const PSH: u8 = 0x08;
}

/// A transport payload to wrap in IP.
#[derive(Clone, Debug)]
pub enum L4 {
    /// TCP with these flags.
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
    },
    /// UDP with this payload.
    Udp {
        src_port: u16,
        dst_port: u16,
        payload: Vec<u8>,
    },
    /// Raw bytes with an explicit protocol number.
    Raw { protocol: u8, bytes: Vec<u8> },
}

impl L4 {
    /// A TCP SYN (new connection).
    pub fn syn(dst_port: u16) -> Self {
        L4::Tcp {
            src_port: 40_000,
            dst_port,
            flags: tcp_flags::SYN,
        }
    }

    /// A TCP ACK (established traffic).
    pub fn ack(dst_port: u16) -> Self {
        L4::Tcp {
            src_port: 40_000,
            dst_port,
            flags: tcp_flags::ACK | tcp_flags::PSH,
        }
    }

    /// A UDP datagram with a small payload.
    pub fn udp(dst_port: u16) -> Self {
        L4::Udp {
            src_port: 40_000,
            dst_port,
            payload: b"portcullis-test".to_vec(),
        }
    }

    /// A QUIC long-header Initial for `version` (1 or 0x6b3343cf).
    pub fn quic_initial(dst_port: u16, version: u32) -> Self {
        let type_bits = if version == 0x6b33_43cf { 0x10 } else { 0x00 };
        let mut payload = vec![0xc0 | type_bits];
        payload.extend_from_slice(&version.to_be_bytes());
        payload.extend_from_slice(&[8, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
        payload.resize(1200, 0);
        L4::Udp {
            src_port: 40_001,
            dst_port,
            payload,
        }
    }

    /// A QUIC 1-RTT short-header packet (not a new connection).
    pub fn quic_short(dst_port: u16) -> Self {
        let mut payload = vec![0x40];
        payload.resize(100, 0xaa);
        L4::Udp {
            src_port: 40_001,
            dst_port,
            payload,
        }
    }

    fn protocol(&self) -> u8 {
        match self {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
            L4::Raw { protocol, .. } => *protocol,
        }
    }

    /// Serialises the transport header and payload, with the checksum over
    /// the pseudo-header of `src`/`dst`.
    fn bytes(&self, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let (mut out, checksum_at) = match self {
            L4::Tcp {
                src_port,
                dst_port,
                flags,
            } => {
                let mut h = Vec::with_capacity(20);
                h.extend_from_slice(&src_port.to_be_bytes());
                h.extend_from_slice(&dst_port.to_be_bytes());
                h.extend_from_slice(&1u32.to_be_bytes()); // seq
                h.extend_from_slice(&0u32.to_be_bytes()); // ack
                h.push(5 << 4);
                h.push(*flags);
                h.extend_from_slice(&64_240u16.to_be_bytes());
                h.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
                (h, Some(16))
            }
            L4::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                let mut h = Vec::with_capacity(8 + payload.len());
                h.extend_from_slice(&src_port.to_be_bytes());
                h.extend_from_slice(&dst_port.to_be_bytes());
                h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
                h.extend_from_slice(&[0, 0]);
                h.extend_from_slice(payload);
                (h, Some(6))
            }
            L4::Raw { bytes, .. } => (bytes.clone(), None),
        };
        if let Some(at) = checksum_at {
            let mut sum = pseudo_header_sum(src, dst, self.protocol(), out.len());
            sum += ones_complement_sum(&out);
            let mut c = fold(sum);
            if c == 0 && matches!(self, L4::Udp { .. }) {
                c = 0xffff;
            }
            out[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        out
    }
}

fn ones_complement_sum(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from(chunk[0]) << 8
        };
        sum += u32::from(word);
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header_sum(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> u32 {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, protocol]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (s, d) => {
            p.extend_from_slice(&to_v6(s).octets());
            p.extend_from_slice(&to_v6(d).octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, protocol]);
        }
    }
    ones_complement_sum(&p)
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// A frame under construction: Ethernet + optional VLAN tags + IP + L4.
#[derive(Clone, Debug)]
pub struct Frame {
    vlans: Vec<(u16, u16)>,
    src: IpAddr,
    dst: IpAddr,
    l4: L4,
    ipv4_options: Vec<u8>,
    ipv4_fragment_offset: u16,
    ipv4_more_fragments: bool,
    ipv6_ext: Vec<(u8, Vec<u8>)>,
}

impl Frame {
    /// A frame from `src` to `dst` carrying `l4`.
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> Self {
        Self {
            vlans: Vec::new(),
            src,
            dst,
            l4,
            ipv4_options: Vec::new(),
            ipv4_fragment_offset: 0,
            ipv4_more_fragments: false,
            ipv6_ext: Vec::new(),
        }
    }

    /// Adds an 802.1Q (or, for the outer tag, 802.1ad) VLAN tag.
    pub fn vlan(mut self, tpid: u16, id: u16) -> Self {
        self.vlans.push((tpid, id));
        self
    }

    /// IPv4 options (padded to a multiple of 4 bytes).
    pub fn ipv4_options(mut self, options: &[u8]) -> Self {
        self.ipv4_options = options.to_vec();
        while !self.ipv4_options.len().is_multiple_of(4) {
            self.ipv4_options.push(0);
        }
        self
    }

    /// Marks the IPv4 packet as a fragment at `offset_8` (in 8-byte units).
    pub fn ipv4_fragment(mut self, offset_8: u16, more: bool) -> Self {
        self.ipv4_fragment_offset = offset_8;
        self.ipv4_more_fragments = more;
        self
    }

    /// Appends an IPv6 extension header of `kind` (0 hop-by-hop, 43
    /// routing, 60 destination options, 44 fragment with the given offset in
    /// 8-byte units as its `body` of two bytes).
    pub fn ipv6_ext(mut self, kind: u8, body: Vec<u8>) -> Self {
        self.ipv6_ext.push((kind, body));
        self
    }

    /// An 8-byte options extension header (hop-by-hop / dest / routing).
    pub fn ipv6_padding_ext(self, kind: u8) -> Self {
        self.ipv6_ext(kind, vec![1, 4, 0, 0, 0, 0])
    }

    /// A fragment extension header at `offset_8`.
    pub fn ipv6_fragment(self, offset_8: u16, more: bool) -> Self {
        let field = (offset_8 << 3) | u16::from(more);
        let mut body = field.to_be_bytes().to_vec();
        body.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        self.ipv6_ext(44, body)
    }

    /// Serialises the frame.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&DST_MAC);
        out.extend_from_slice(&SRC_MAC);
        for (tpid, id) in &self.vlans {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
        }
        let l4 = self.l4.bytes(self.src, self.dst);
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                out.extend_from_slice(&0x0800u16.to_be_bytes());
                out.extend_from_slice(&self.ipv4_header(src, dst, l4.len()));
            }
            (src, dst) => {
                out.extend_from_slice(&0x86ddu16.to_be_bytes());
                out.extend_from_slice(&self.ipv6_header(to_v6(src), to_v6(dst), l4.len()));
            }
        }
        out.extend_from_slice(&l4);
        out
    }

    fn ipv4_header(&self, src: Ipv4Addr, dst: Ipv4Addr, l4_len: usize) -> Vec<u8> {
        let ihl = 5 + self.ipv4_options.len() / 4;
        let mut h = Vec::with_capacity(ihl * 4);
        h.push(0x40 | ihl as u8);
        h.push(0);
        h.extend_from_slice(&((ihl * 4 + l4_len) as u16).to_be_bytes());
        h.extend_from_slice(&0x4242u16.to_be_bytes());
        let flags_frag =
            (u16::from(self.ipv4_more_fragments) << 13) | (self.ipv4_fragment_offset & 0x1fff);
        h.extend_from_slice(&flags_frag.to_be_bytes());
        h.push(64);
        h.push(self.l4.protocol());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&src.octets());
        h.extend_from_slice(&dst.octets());
        h.extend_from_slice(&self.ipv4_options);
        let c = fold(ones_complement_sum(&h));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    fn ipv6_header(&self, src: Ipv6Addr, dst: Ipv6Addr, l4_len: usize) -> Vec<u8> {
        let mut ext = Vec::new();
        for (i, (_, body)) in self.ipv6_ext.iter().enumerate() {
            let next = self
                .ipv6_ext
                .get(i + 1)
                .map(|(k, _)| *k)
                .unwrap_or(self.l4.protocol());
            ext.push(next);
            // Fragment headers have a reserved byte where others have a length.
            let mut padded = body.clone();
            if self.ipv6_ext[i].0 == 44 {
                ext.push(0);
            } else {
                while (padded.len() + 2) % 8 != 0 {
                    padded.push(0);
                }
                ext.push(((padded.len() + 2) / 8 - 1) as u8);
            }
            ext.extend_from_slice(&padded);
        }
        let first = self
            .ipv6_ext
            .first()
            .map(|(k, _)| *k)
            .unwrap_or(self.l4.protocol());
        let mut h = Vec::with_capacity(40 + ext.len());
        h.extend_from_slice(&[0x60, 0, 0, 0]);
        h.extend_from_slice(&((ext.len() + l4_len) as u16).to_be_bytes());
        h.push(first);
        h.push(64);
        h.extend_from_slice(&src.octets());
        h.extend_from_slice(&dst.octets());
        h.extend_from_slice(&ext);
        h
    }
}

/// An ARP request frame (not IP).
pub fn arp_request() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0xff; 6]);
    out.extend_from_slice(&SRC_MAC);
    out.extend_from_slice(&0x0806u16.to_be_bytes());
    out.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    out.extend_from_slice(&SRC_MAC);
    out.extend_from_slice(&[198, 18, 0, 1]);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&[198, 18, 0, 2]);
    out
}

/// Source and destination addresses from the benchmarking ranges.
pub mod addr {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// An IPv4 address in 198.18.0.0/15.
    pub fn v4(c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, c, d))
    }

    /// An IPv6 address in 2001:2::/48: `subnet` picks the /64, `host` the
    /// interface id.
    pub fn v6(subnet: u16, host: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, subnet, 0, 0, 0, host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let f = Frame::new(addr::v4(0, 1), addr::v4(0, 2), L4::syn(443))
            .ipv4_options(&[1, 1, 1, 1])
            .build();
        let ip = &f[14..14 + 24];
        assert_eq!(fold(ones_complement_sum(ip)), 0);
        assert_eq!(ip[0], 0x46);
    }

    #[test]
    fn ipv6_extension_chain_links_to_transport() {
        let f = Frame::new(addr::v6(1, 1), addr::v6(2, 2), L4::udp(443))
            .ipv6_padding_ext(0)
            .ipv6_padding_ext(60)
            .build();
        assert_eq!(f[14 + 6], 0); // first ext: hop-by-hop
        assert_eq!(f[54], 60); // hop-by-hop's next: dest opts
        assert_eq!(f[62], 17); // dest opts' next: UDP
    }
}
