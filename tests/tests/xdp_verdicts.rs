//! The XDP program's verdicts and counters on crafted frames, through the
//! kernel's BPF_PROG_TEST_RUN (the real verifier, JIT and maps).
//!
//! Each test loads its own program instance, so maps and counters are its
//! own. Rates are 1/s so that no token is earned during a test: the counts
//! asserted are exact.

use std::{net::IpAddr, time::Duration};

use gateway_common::Counter;
use gateway_user::edge::{Cidr, EdgeLimits, EdgeProgram, ListKind, Mode};
use portcullis_tests::{
    frames::{Frame, L4, addr, arp_request},
    require_root,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const PORT: u16 = 8443;

fn limits(packet_burst: u64, conn_burst: u64) -> EdgeLimits {
    EdgeLimits {
        packets_per_sec: 1,
        packet_burst,
        new_conns_per_sec: 1,
        new_conn_burst: conn_burst,
        tcp_ports: vec![PORT],
        udp_ports: vec![PORT],
        ..EdgeLimits::default()
    }
}

fn load(limits: &EdgeLimits) -> EdgeProgram {
    EdgeProgram::load(limits).unwrap_or_else(|e| panic!("loading the XDP program: {e:#?}"))
}

fn run(program: &EdgeProgram, frame: &[u8]) -> u32 {
    program
        .test_run(frame, 1)
        .unwrap_or_else(|e| panic!("test run: {e}"))
        .0
}

/// Runs `frame` `n` times and returns the verdicts in order.
fn run_n(program: &EdgeProgram, frame: &[u8], n: usize) -> Vec<u32> {
    (0..n).map(|_| run(program, frame)).collect()
}

fn counters(program: &EdgeProgram) -> [u64; Counter::COUNT as usize] {
    program.maps().counters().expect("reading counters").0
}

fn expect_counters(program: &EdgeProgram, expected: &[(Counter, u64)]) {
    let got = counters(program);
    for counter in Counter::ALL {
        let want = expected
            .iter()
            .find(|(c, _)| *c == counter)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        assert_eq!(
            got[counter as usize],
            want,
            "counter {} (all: {got:?})",
            counter.name()
        );
    }
}

fn dst4() -> IpAddr {
    addr::v4(1, 1)
}

fn dst6() -> IpAddr {
    addr::v6(1, 1)
}

#[test]
fn ipv4_udp_to_protected_port_is_limited_to_the_burst() {
    if !require_root("ipv4_udp_to_protected_port_is_limited_to_the_burst") {
        return;
    }
    let program = load(&limits(3, 100));
    let frame = Frame::new(addr::v4(9, 1), dst4(), L4::udp(PORT)).build();
    assert_eq!(
        run_n(&program, &frame, 5),
        [XDP_PASS, XDP_PASS, XDP_PASS, XDP_DROP, XDP_DROP]
    );
    // Another source has its own bucket.
    let other = Frame::new(addr::v4(9, 2), dst4(), L4::udp(PORT)).build();
    assert_eq!(run(&program, &other), XDP_PASS);
    expect_counters(&program, &[(Counter::Passed, 4), (Counter::DroppedRate, 2)]);
    let top = program.maps().top_sources(10).unwrap();
    assert_eq!(top[0].source, "198.18.9.1/32");
    assert_eq!((top[0].dropped, top[0].passed), (2, 3));
}

#[test]
fn unprotected_ports_and_other_protocols_pass_uncharged() {
    if !require_root("unprotected_ports_and_other_protocols_pass_uncharged") {
        return;
    }
    let program = load(&limits(1, 1));
    let src = addr::v4(9, 3);
    let to_other_port = Frame::new(src, dst4(), L4::udp(53)).build();
    assert_eq!(run_n(&program, &to_other_port, 4), [XDP_PASS; 4]);
    let icmp = Frame::new(
        src,
        dst4(),
        L4::Raw {
            protocol: 1,
            bytes: vec![8, 0, 0, 0, 0, 1, 0, 1],
        },
    )
    .build();
    assert_eq!(run_n(&program, &icmp, 3), [XDP_PASS; 3]);
    // The protected port still has the full burst of one.
    let protected = Frame::new(src, dst4(), L4::ack(PORT)).build();
    assert_eq!(run_n(&program, &protected, 2), [XDP_PASS, XDP_DROP]);
    expect_counters(&program, &[(Counter::Passed, 8), (Counter::DroppedRate, 1)]);
}

#[test]
fn tcp_syn_is_limited_by_the_new_connection_bucket() {
    if !require_root("tcp_syn_is_limited_by_the_new_connection_bucket") {
        return;
    }
    let program = load(&limits(100, 2));
    let src = addr::v4(9, 4);
    let syn = Frame::new(src, dst4(), L4::syn(PORT)).build();
    assert_eq!(
        run_n(&program, &syn, 4),
        [XDP_PASS, XDP_PASS, XDP_DROP, XDP_DROP]
    );
    // Established traffic (ACK set) is not a new connection.
    let ack = Frame::new(src, dst4(), L4::ack(PORT)).build();
    assert_eq!(run_n(&program, &ack, 3), [XDP_PASS; 3]);
    // SYN+ACK is a reply, not a new connection.
    let syn_ack = Frame::new(
        src,
        dst4(),
        L4::Tcp {
            src_port: 1,
            dst_port: PORT,
            flags: 0x12,
        },
    )
    .build();
    assert_eq!(run(&program, &syn_ack), XDP_PASS);
    expect_counters(
        &program,
        &[(Counter::Passed, 6), (Counter::DroppedConnRate, 2)],
    );
}

#[test]
fn quic_initial_is_a_new_connection_and_short_headers_are_not() {
    if !require_root("quic_initial_is_a_new_connection_and_short_headers_are_not") {
        return;
    }
    let program = load(&limits(100, 2));
    let src = addr::v4(9, 5);
    let v1 = Frame::new(src, dst4(), L4::quic_initial(PORT, 1)).build();
    let v2 = Frame::new(src, dst4(), L4::quic_initial(PORT, 0x6b33_43cf)).build();
    assert_eq!(run(&program, &v1), XDP_PASS);
    assert_eq!(run(&program, &v2), XDP_PASS);
    assert_eq!(
        run(&program, &v1),
        XDP_DROP,
        "third Initial exceeds the new-connection burst of 2"
    );
    let short = Frame::new(src, dst4(), L4::quic_short(PORT)).build();
    assert_eq!(run_n(&program, &short, 3), [XDP_PASS; 3]);
    // A v1 Handshake packet (type 2) is not an Initial.
    let mut handshake = L4::quic_initial(PORT, 1);
    if let L4::Udp { payload, .. } = &mut handshake {
        payload[0] = 0xe0;
    }
    assert_eq!(
        run(&program, &Frame::new(src, dst4(), handshake).build()),
        XDP_PASS
    );
    expect_counters(
        &program,
        &[(Counter::Passed, 6), (Counter::DroppedConnRate, 1)],
    );
}

#[test]
fn ipv6_sources_share_a_bucket_per_slash_64() {
    if !require_root("ipv6_sources_share_a_bucket_per_slash_64") {
        return;
    }
    let program = load(&limits(2, 100));
    let a = Frame::new(addr::v6(7, 1), dst6(), L4::udp(PORT)).build();
    let b = Frame::new(addr::v6(7, 2), dst6(), L4::udp(PORT)).build();
    let other_net = Frame::new(addr::v6(8, 1), dst6(), L4::udp(PORT)).build();
    assert_eq!(run(&program, &a), XDP_PASS);
    assert_eq!(run(&program, &b), XDP_PASS);
    assert_eq!(run(&program, &a), XDP_DROP, "same /64 as b: bucket shared");
    assert_eq!(run(&program, &other_net), XDP_PASS);
    expect_counters(&program, &[(Counter::Passed, 3), (Counter::DroppedRate, 1)]);
    assert_eq!(
        program.maps().top_sources(1).unwrap()[0].source,
        "2001:2:0:7::/64"
    );
}

#[test]
fn vlan_tagged_frames_are_parsed_through_two_tags() {
    if !require_root("vlan_tagged_frames_are_parsed_through_two_tags") {
        return;
    }
    let program = load(&limits(100, 1));
    let single = Frame::new(addr::v4(9, 6), dst4(), L4::syn(PORT))
        .vlan(0x8100, 10)
        .build();
    assert_eq!(run_n(&program, &single, 2), [XDP_PASS, XDP_DROP]);
    let double = Frame::new(addr::v6(9, 6), dst6(), L4::syn(PORT))
        .vlan(0x88a8, 100)
        .vlan(0x8100, 10)
        .build();
    assert_eq!(run_n(&program, &double, 2), [XDP_PASS, XDP_DROP]);
    expect_counters(
        &program,
        &[(Counter::Passed, 2), (Counter::DroppedConnRate, 2)],
    );
}

#[test]
fn ipv4_options_and_ipv6_extension_headers_are_skipped() {
    if !require_root("ipv4_options_and_ipv6_extension_headers_are_skipped") {
        return;
    }
    let program = load(&limits(100, 1));
    let with_options = Frame::new(addr::v4(9, 7), dst4(), L4::syn(PORT))
        .ipv4_options(&[0x94, 4, 0, 0, 1, 1, 1, 0])
        .build();
    assert_eq!(run_n(&program, &with_options, 2), [XDP_PASS, XDP_DROP]);
    let with_ext = Frame::new(addr::v6(9, 7), dst6(), L4::syn(PORT))
        .ipv6_padding_ext(0)
        .ipv6_padding_ext(43)
        .ipv6_padding_ext(60)
        .ipv6_fragment(0, false)
        .build();
    assert_eq!(
        run_n(&program, &with_ext, 2),
        [XDP_PASS, XDP_DROP],
        "SYN found behind 4 extension headers"
    );
    expect_counters(
        &program,
        &[(Counter::Passed, 2), (Counter::DroppedConnRate, 2)],
    );
}

#[test]
fn too_many_extension_headers_are_charged_to_the_source() {
    if !require_root("too_many_extension_headers_are_charged_to_the_source") {
        return;
    }
    let program = load(&limits(2, 100));
    let mut frame = Frame::new(addr::v6(9, 8), dst6(), L4::udp(53));
    for _ in 0..8 {
        frame = frame.ipv6_padding_ext(60);
    }
    let frame = frame.build();
    // Port 53 is unprotected, but hidden behind 8 headers the port cannot be
    // seen, so the packet bucket applies rather than a free pass.
    assert_eq!(run_n(&program, &frame, 3), [XDP_PASS, XDP_PASS, XDP_DROP]);
    expect_counters(&program, &[(Counter::Passed, 2), (Counter::DroppedRate, 1)]);
}

#[test]
fn non_first_fragments_are_charged_to_their_source() {
    if !require_root("non_first_fragments_are_charged_to_their_source") {
        return;
    }
    let program = load(&limits(2, 100));
    let src = addr::v4(9, 9);
    // A first fragment to an unprotected port is port-matched: free.
    let first = Frame::new(src, dst4(), L4::udp(53))
        .ipv4_fragment(0, true)
        .build();
    assert_eq!(run_n(&program, &first, 3), [XDP_PASS; 3]);
    // Later fragments carry no port: they spend the source's packet budget.
    let later = Frame::new(
        src,
        dst4(),
        L4::Raw {
            protocol: 17,
            bytes: vec![0xab; 64],
        },
    )
    .ipv4_fragment(185, false)
    .build();
    assert_eq!(run_n(&program, &later, 3), [XDP_PASS, XDP_PASS, XDP_DROP]);
    let later6 = Frame::new(
        addr::v6(9, 9),
        dst6(),
        L4::Raw {
            protocol: 17,
            bytes: vec![0xab; 64],
        },
    )
    .ipv6_fragment(100, false)
    .build();
    assert_eq!(run_n(&program, &later6, 3), [XDP_PASS, XDP_PASS, XDP_DROP]);
    expect_counters(&program, &[(Counter::Passed, 7), (Counter::DroppedRate, 2)]);
}

#[test]
fn truncated_and_malformed_headers_are_dropped_and_counted() {
    if !require_root("truncated_and_malformed_headers_are_dropped_and_counted") {
        return;
    }
    let program = load(&limits(100, 100));
    let v4 = Frame::new(addr::v4(9, 10), dst4(), L4::syn(PORT)).build();
    let v6 = Frame::new(addr::v6(9, 10), dst6(), L4::syn(PORT)).build();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("IPv4 header cut at 10 bytes", v4[..24].to_vec()),
        ("TCP header cut at 10 bytes", v4[..44].to_vec()),
        ("IPv6 header cut at 30 bytes", v6[..44].to_vec()),
        ("TCP after IPv6 cut", v6[..60].to_vec()),
    ];
    let mut bad_version = v4.clone();
    bad_version[14] = 0x65;
    cases.push(("IPv4 ethertype with version 6", bad_version));
    let mut short_ihl = v4.clone();
    short_ihl[14] = 0x44;
    cases.push(("IHL of 4 words", short_ihl));
    let mut total_len = v4.clone();
    total_len[16..18].copy_from_slice(&10u16.to_be_bytes());
    cases.push(("total length below header length", total_len));
    let mut options_past_end = v4[..34].to_vec();
    options_past_end[14] = 0x4f;
    cases.push(("options past the end of the frame", options_past_end));
    let mut bad_data_offset = v4.clone();
    bad_data_offset[14 + 20 + 12] = 0x20;
    cases.push(("TCP data offset below 5", bad_data_offset));
    let mut vlan_cut = Frame::new(addr::v4(9, 10), dst4(), L4::udp(PORT))
        .vlan(0x8100, 5)
        .build();
    vlan_cut.truncate(16);
    cases.push(("VLAN tag cut short", vlan_cut));
    for (name, frame) in &cases {
        assert_eq!(run(&program, frame), XDP_DROP, "{name}");
    }
    expect_counters(&program, &[(Counter::DroppedMalformed, cases.len() as u64)]);
}

#[test]
fn arp_and_other_non_ip_frames_pass() {
    if !require_root("arp_and_other_non_ip_frames_pass") {
        return;
    }
    let program = load(&limits(1, 1));
    assert_eq!(run_n(&program, &arp_request(), 3), [XDP_PASS; 3]);
    let mut lldp = arp_request();
    lldp[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
    assert_eq!(run(&program, &lldp), XDP_PASS);
    expect_counters(&program, &[(Counter::Passed, 4)]);
}

#[test]
fn allowlist_beats_blocklist_beats_rate() {
    if !require_root("allowlist_beats_blocklist_beats_rate") {
        return;
    }
    let mut program = load(&limits(1, 1));
    let host = addr::v4(20, 5);
    let frame = Frame::new(host, dst4(), L4::syn(PORT)).build();
    let block: Cidr = "198.18.20.0/24".parse().unwrap();
    let allow: Cidr = "198.18.20.5/32".parse().unwrap();
    program
        .maps_mut()
        .list_add(ListKind::Block, &block, None)
        .unwrap();
    assert_eq!(run(&program, &frame), XDP_DROP, "blocklisted");
    program
        .maps_mut()
        .list_add(ListKind::Allow, &allow, None)
        .unwrap();
    assert_eq!(
        run_n(&program, &frame, 5),
        [XDP_PASS; 5],
        "allowlisted: neither blocked nor rate limited"
    );
    // A neighbour in the blocked /24 but not allowlisted stays blocked.
    let neighbour = Frame::new(addr::v4(20, 6), dst4(), L4::syn(PORT)).build();
    assert_eq!(run(&program, &neighbour), XDP_DROP);
    // Off both lists, the buckets apply again (the packet bucket of one is
    // spent first).
    program
        .maps_mut()
        .list_remove(ListKind::Allow, &allow)
        .unwrap();
    program
        .maps_mut()
        .list_remove(ListKind::Block, &block)
        .unwrap();
    assert_eq!(run_n(&program, &frame, 2), [XDP_PASS, XDP_DROP]);
    // IPv6 prefixes work the same way.
    let v6: Cidr = "2001:2:0:30::/64".parse().unwrap();
    program
        .maps_mut()
        .list_add(ListKind::Block, &v6, None)
        .unwrap();
    assert_eq!(
        run(
            &program,
            &Frame::new(addr::v6(0x30, 9), dst6(), L4::udp(53)).build()
        ),
        XDP_DROP
    );
    expect_counters(
        &program,
        &[
            (Counter::Allowlisted, 5),
            (Counter::DroppedBlocklist, 3),
            (Counter::Passed, 1),
            (Counter::DroppedRate, 1),
        ],
    );
}

#[test]
fn expired_bans_no_longer_drop() {
    if !require_root("expired_bans_no_longer_drop") {
        return;
    }
    let mut program = load(&limits(100, 100));
    let frame = Frame::new(addr::v4(21, 1), dst4(), L4::udp(PORT)).build();
    let ban: Cidr = "198.18.21.1".parse().unwrap();
    program
        .maps_mut()
        .list_add(ListKind::Block, &ban, Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(run(&program, &frame), XDP_DROP, "ban in force");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        run(&program, &frame),
        XDP_PASS,
        "ban lapsed in the kernel, no userspace involved"
    );
    let listed = program.maps().list(ListKind::Block).unwrap();
    assert!(listed[0].expired, "{listed:?}");
    assert_eq!(program.maps_mut().sweep_expired().unwrap(), 1);
    assert!(program.maps().list(ListKind::Block).unwrap().is_empty());
    expect_counters(
        &program,
        &[(Counter::DroppedBlocklist, 1), (Counter::Passed, 1)],
    );
}

#[test]
fn monitor_mode_passes_but_counts_would_drop() {
    if !require_root("monitor_mode_passes_but_counts_would_drop") {
        return;
    }
    let program = load(&EdgeLimits {
        mode: Mode::Monitor,
        ..limits(2, 100)
    });
    let frame = Frame::new(addr::v4(22, 1), dst4(), L4::udp(PORT)).build();
    assert_eq!(run_n(&program, &frame, 5), [XDP_PASS; 5]);
    expect_counters(&program, &[(Counter::Passed, 2), (Counter::WouldDrop, 3)]);
    let top = program.maps().top_sources(1).unwrap();
    assert_eq!(top[0].dropped, 3, "per-source would-drops are recorded too");
}

#[test]
fn limit_changes_apply_to_the_loaded_program() {
    if !require_root("limit_changes_apply_to_the_loaded_program") {
        return;
    }
    let mut program = load(&limits(1, 100));
    let frame = Frame::new(addr::v4(23, 1), dst4(), L4::udp(PORT)).build();
    assert_eq!(run_n(&program, &frame, 2), [XDP_PASS, XDP_DROP]);
    // Unprotect the port: the same source now passes freely.
    let mut next = program.maps().limits().unwrap();
    next.udp_ports = vec![9999];
    program.maps_mut().set_limits(&next).unwrap();
    assert_eq!(run_n(&program, &frame, 3), [XDP_PASS; 3]);
    // Invalid limits are refused and change nothing.
    let mut bad = next.clone();
    bad.packet_burst = 0;
    assert!(program.maps_mut().set_limits(&bad).is_err());
    assert_eq!(program.maps().limits().unwrap(), next);
}
