//! Frame parsing: Ethernet, up to two VLAN tags, IPv4 (with options) or IPv6
//! (with a bounded walk over extension headers), then TCP or UDP.
//!
//! Every read goes through [`read`], the one bounds-checked accessor.

use aya_ebpf::programs::XdpContext;
use gateway_common::{v4_mapped, MAX_IPV6_EXT_HEADERS};

const ETH_HLEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VLAN_HLEN: usize = 4;
const MAX_VLAN_TAGS: usize = 2;

const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_AH: u8 = 51;
const IPPROTO_DSTOPTS: u8 = 60;

const TCP_FLAG_SYN: u8 = 0x02;
const TCP_FLAG_ACK: u8 = 0x10;

const QUIC_LONG_HEADER: u8 = 0x80;
const QUIC_TYPE_MASK: u8 = 0x30;
const QUIC_V1: u32 = 0x0000_0001;
const QUIC_V1_INITIAL: u8 = 0x00;
const QUIC_V2: u32 = 0x6b33_43cf;
const QUIC_V2_INITIAL: u8 = 0x10;

/// Offsets are masked to this before use so the verifier sees a bounded
/// variable offset (no frame reaching XDP is longer).
const MAX_OFFSET: usize = 0x3fff;

/// The frame is truncated or carries an impossible header.
pub struct Malformed;

/// What the program needs to know about a frame.
pub enum Parsed {
    /// Not IPv4 or IPv6: ARP, LLDP and the like.
    NotIp,
    /// An IP packet.
    Ip(IpPacket),
}

/// The IP source and what the transport header says.
pub struct IpPacket {
    /// Source address, IPv4-mapped for IPv4.
    pub src: [u8; 16],
    /// Whether the packet is IPv4.
    pub is_v4: bool,
    /// What kind of transport payload follows.
    pub transport: Transport,
}

/// The transport header as far as the buckets care.
pub enum Transport {
    /// TCP to `dst_port`; `syn_only` for SYN without ACK (a new connection).
    Tcp { dst_port: u16, syn_only: bool },
    /// UDP to `dst_port`; `quic_initial` for a QUIC v1/v2 long-header Initial.
    Udp { dst_port: u16, quic_initial: bool },
    /// A non-first fragment, or a transport header hidden behind more
    /// extension headers than we walk: no port to match.
    Unattributable,
    /// Another IP protocol (ICMP, ESP, …).
    Other,
}

/// Returns a pointer to a `T` at `offset`, if the frame holds all of it.
#[inline(always)]
fn read<T>(ctx: &XdpContext, offset: usize) -> Result<*const T, Malformed> {
    let start = ctx.data();
    let end = ctx.data_end();
    let offset = offset & MAX_OFFSET;
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(Malformed);
    }
    Ok((start + offset) as *const T)
}

#[inline(always)]
fn be16_at(ctx: &XdpContext, offset: usize) -> Result<u16, Malformed> {
    // SAFETY: `read` checked both bytes lie inside the frame; the array has
    // alignment 1.
    Ok(u16::from_be_bytes(unsafe { *read::<[u8; 2]>(ctx, offset)? }))
}

/// Parses the frame in `ctx`.
///
/// A frame shorter than an Ethernet header is malformed: the kernel never
/// hands XDP one on a real link.
#[inline(always)]
pub fn parse(ctx: &XdpContext) -> Result<Parsed, Malformed> {
    let mut ether_type = be16_at(ctx, 12)?;
    let mut offset = ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if ether_type != ETH_P_8021Q && ether_type != ETH_P_8021AD {
            break;
        }
        ether_type = be16_at(ctx, offset + 2)?;
        offset += VLAN_HLEN;
    }
    match ether_type {
        ETH_P_IPV4 => parse_ipv4(ctx, offset).map(Parsed::Ip),
        ETH_P_IPV6 => parse_ipv6(ctx, offset).map(Parsed::Ip),
        _ => Ok(Parsed::NotIp),
    }
}

#[inline(always)]
fn parse_ipv4(ctx: &XdpContext, offset: usize) -> Result<IpPacket, Malformed> {
    // SAFETY: `read` checked the 20-byte fixed header is inside the frame.
    let header = unsafe { *read::<[u8; 20]>(ctx, offset)? };
    if header[0] >> 4 != 4 {
        return Err(Malformed);
    }
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header_len < 20 || total_len < header_len {
        return Err(Malformed);
    }
    // The options, if any, must be inside the frame too.
    read::<u8>(ctx, offset + header_len - 1)?;
    let src = v4_mapped([header[12], header[13], header[14], header[15]]);
    let fragment_offset = u16::from_be_bytes([header[6], header[7]]) & 0x1fff;
    let transport = if fragment_offset != 0 {
        Transport::Unattributable
    } else {
        parse_transport(ctx, header[9], offset + header_len)?
    };
    Ok(IpPacket {
        src,
        is_v4: true,
        transport,
    })
}

#[inline(always)]
fn parse_ipv6(ctx: &XdpContext, offset: usize) -> Result<IpPacket, Malformed> {
    // SAFETY: `read` checked the 40-byte fixed header is inside the frame.
    let header = unsafe { &*read::<[u8; 40]>(ctx, offset)? };
    if header[0] >> 4 != 6 {
        return Err(Malformed);
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&header[8..24]);
    let mut next = header[6];
    let mut offset = offset + 40;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            // One read per header: separate reads of bytes the compiler
            // knows are adjacent get merged bounds checks the verifier
            // cannot follow.
            IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS => {
                // SAFETY: `read` checked both bytes are inside the frame.
                let [next_header, len] = unsafe { *read::<[u8; 2]>(ctx, offset)? };
                next = next_header;
                offset += (usize::from(len) + 1) * 8;
            }
            IPPROTO_AH => {
                // SAFETY: as above.
                let [next_header, len] = unsafe { *read::<[u8; 2]>(ctx, offset)? };
                next = next_header;
                offset += (usize::from(len) + 2) * 4;
            }
            IPPROTO_FRAGMENT => {
                // SAFETY: `read` checked the four bytes are inside the frame.
                let [next_header, _, off_hi, off_lo] = unsafe { *read::<[u8; 4]>(ctx, offset)? };
                if u16::from_be_bytes([off_hi, off_lo]) >> 3 != 0 {
                    return Ok(IpPacket {
                        src,
                        is_v4: false,
                        transport: Transport::Unattributable,
                    });
                }
                next = next_header;
                offset += 8;
            }
            _ => {
                return Ok(IpPacket {
                    src,
                    is_v4: false,
                    transport: parse_transport(ctx, next, offset)?,
                });
            }
        }
    }
    let transport = match next {
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_DSTOPTS | IPPROTO_AH | IPPROTO_FRAGMENT => {
            Transport::Unattributable
        }
        _ => parse_transport(ctx, next, offset)?,
    };
    Ok(IpPacket {
        src,
        is_v4: false,
        transport,
    })
}

#[inline(always)]
fn parse_transport(ctx: &XdpContext, protocol: u8, offset: usize) -> Result<Transport, Malformed> {
    match protocol {
        IPPROTO_TCP => {
            // SAFETY: `read` checked the 20-byte minimal TCP header.
            let tcp = unsafe { *read::<[u8; 20]>(ctx, offset)? };
            if tcp[12] >> 4 < 5 {
                return Err(Malformed);
            }
            let flags = tcp[13];
            Ok(Transport::Tcp {
                dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
                syn_only: flags & TCP_FLAG_SYN != 0 && flags & TCP_FLAG_ACK == 0,
            })
        }
        IPPROTO_UDP => {
            // SAFETY: `read` checked the 8-byte UDP header.
            let udp = unsafe { *read::<[u8; 8]>(ctx, offset)? };
            Ok(Transport::Udp {
                dst_port: u16::from_be_bytes([udp[2], udp[3]]),
                quic_initial: is_quic_initial(ctx, offset + 8),
            })
        }
        _ => Ok(Transport::Other),
    }
}

/// Whether the UDP payload at `offset` starts a QUIC v1 or v2 Initial packet.
/// A payload too short to tell is not an Initial.
#[inline(always)]
fn is_quic_initial(ctx: &XdpContext, offset: usize) -> bool {
    let Ok(header) = read::<[u8; 5]>(ctx, offset) else {
        return false;
    };
    // SAFETY: `read` checked the five bytes are inside the frame.
    let [first, v0, v1, v2, v3] = unsafe { *header };
    if first & QUIC_LONG_HEADER == 0 {
        return false;
    }
    match u32::from_be_bytes([v0, v1, v2, v3]) {
        QUIC_V1 => first & QUIC_TYPE_MASK == QUIC_V1_INITIAL,
        QUIC_V2 => first & QUIC_TYPE_MASK == QUIC_V2_INITIAL,
        _ => false,
    }
}
