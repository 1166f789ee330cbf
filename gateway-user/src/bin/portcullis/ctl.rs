//! `portcullis ctl`: tune a running instance through its pinned maps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gateway_common::Counter;
use gateway_user::edge::{EdgeMaps, LimitsUpdate, ListKind};
use serde_json::json;

use crate::cli::{CtlArgs, CtlCommand, LimitsCommand, ListCommand};

pub fn ctl(args: CtlArgs) -> Result<()> {
    let mut maps = EdgeMaps::open_pinned(&args.iface)?;
    let json = args.json;
    match args.command {
        CtlCommand::Limits {
            command: LimitsCommand::Show,
        } => print_limits(&maps, json),
        CtlCommand::Limits {
            command: LimitsCommand::Set(set),
        } => {
            let update = LimitsUpdate {
                packets_per_sec: set.pps,
                packet_burst: set.burst,
                new_conns_per_sec: set.conn_rate,
                new_conn_burst: set.conn_burst,
                tcp_ports: set.tcp_ports,
                udp_ports: set.udp_ports,
                ipv4_prefix_len: set.v4_prefix,
                ipv6_prefix_len: set.v6_prefix,
                mode: set.mode,
            };
            if update.is_empty() {
                bail!(
                    "nothing to set: give at least one of --pps, --burst, --conn-rate, --conn-burst, --tcp-ports, --udp-ports, --v4-prefix, --v6-prefix, --mode"
                );
            }
            let next = update
                .apply(&maps.limits()?)
                .context("limits not changed")?;
            maps.set_limits(&next)?;
            print_limits(&maps, json)
        }
        CtlCommand::Block { command } => list(&mut maps, ListKind::Block, command, json),
        CtlCommand::Allow { command } => list(&mut maps, ListKind::Allow, command, json),
        CtlCommand::Stats { interval } => stats(&maps, interval, json),
        CtlCommand::Top { count } => top(&maps, count, json),
    }
}

fn print_limits(maps: &EdgeMaps, json: bool) -> Result<()> {
    let limits = maps.limits()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&limits)?);
        return Ok(());
    }
    let ports = |p: &[u16]| {
        if p.is_empty() {
            "none".to_owned()
        } else {
            p.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
        }
    };
    println!("mode              {}", limits.mode);
    println!(
        "packets           {}/s per source, burst {}",
        limits.packets_per_sec, limits.packet_burst
    );
    println!(
        "new connections   {}/s per source, burst {}",
        limits.new_conns_per_sec, limits.new_conn_burst
    );
    println!("protected tcp     {}", ports(&limits.tcp_ports));
    println!("protected udp     {}", ports(&limits.udp_ports));
    println!(
        "source grouping   IPv4 /{}, IPv6 /{}",
        limits.ipv4_prefix_len, limits.ipv6_prefix_len
    );
    Ok(())
}

fn list(maps: &mut EdgeMaps, kind: ListKind, command: ListCommand, json: bool) -> Result<()> {
    let name = match kind {
        ListKind::Allow => "allowlist",
        ListKind::Block => "blocklist",
    };
    match command {
        ListCommand::Add { cidr, ttl } => {
            maps.list_add(kind, &cidr, ttl)?;
            match ttl {
                Some(ttl) => println!(
                    "added {cidr} to the {name} for {}",
                    humantime::format_duration(ttl)
                ),
                None => println!("added {cidr} to the {name}"),
            }
        }
        ListCommand::Rm { cidr } => {
            if !maps.list_remove(kind, &cidr)? {
                bail!(
                    "{cidr} is not on the {name} (list it with `portcullis ctl {} list`)",
                    short(kind)
                );
            }
            println!("removed {cidr} from the {name}");
        }
        ListCommand::List => {
            let entries = maps.list(kind)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("the {name} is empty");
            } else {
                println!("{:<44} {:<14} ADDED BY", "PREFIX", "EXPIRES");
                for e in entries {
                    let expires = match (e.expires_in_secs, e.expired) {
                        (_, true) => "expired".to_owned(),
                        (Some(s), false) => format!("in {s}s"),
                        (None, false) => "never".to_owned(),
                    };
                    println!("{:<44} {:<14} {}", e.cidr, expires, e.added_by);
                }
            }
        }
    }
    Ok(())
}

fn short(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Allow => "allow",
        ListKind::Block => "block",
    }
}

fn stats(maps: &EdgeMaps, interval: u64, json: bool) -> Result<()> {
    if interval == 0 || interval > 3600 {
        bail!("--interval must be between 1 and 3600 seconds");
    }
    let before = maps.counters()?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(interval));
    let after = maps.counters()?;
    let secs = started.elapsed().as_secs_f64();
    let delta = after.since(&before);
    if json {
        let rows: serde_json::Map<String, serde_json::Value> = Counter::ALL
            .iter()
            .map(|c| {
                (
                    c.name().to_owned(),
                    json!({"total": after.get(*c), "per_sec": delta.get(*c) as f64 / secs}),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"interval_secs": secs, "counters": rows}))?
        );
        return Ok(());
    }
    println!("{:<24} {:>16} {:>14}", "COUNTER", "TOTAL", "PER SEC");
    for c in Counter::ALL {
        println!(
            "{:<24} {:>16} {:>14.1}",
            c.name(),
            after.get(c),
            delta.get(c) as f64 / secs
        );
    }
    Ok(())
}

fn top(maps: &EdgeMaps, count: usize, json: bool) -> Result<()> {
    let sources = maps.top_sources(count.clamp(1, 10_000))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sources)?);
        return Ok(());
    }
    if sources.is_empty() {
        println!("no sources tracked yet");
        return Ok(());
    }
    println!("{:<44} {:>14} {:>14}", "SOURCE", "DROPPED", "PASSED");
    for s in sources {
        println!("{:<44} {:>14} {:>14}", s.source, s.dropped, s.passed);
    }
    Ok(())
}
