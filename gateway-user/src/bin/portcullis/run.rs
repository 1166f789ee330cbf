//! `portcullis run`: the long-running gateway process.

use std::{fs::File, os::fd::AsFd, time::Duration};

use anyhow::{Context, Result};
use gateway_common::Counter;
use gateway_user::{
    config::Config,
    edge::{EdgeProgram, ListKind},
};

use crate::cli::RunArgs;

pub fn run(args: RunArgs) -> Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::embedded()?,
    };
    if let Some(iface) = args.iface {
        config.edge.interface = iface;
    }
    if let Some(netns) = &args.netns {
        enter_netns(netns)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config, args.stats_interval))
}

/// Moves this (still single-threaded) process into a named network
/// namespace, so the interface lookup and attach happen there. Threads
/// started afterwards inherit it.
fn enter_netns(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        anyhow::bail!("`{name}` is not a network namespace name");
    }
    let path = format!("/run/netns/{name}");
    let file = File::open(&path).with_context(|| format!("opening network namespace {path}"))?;
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {name}"))?;
    Ok(())
}

async fn serve(config: Config, stats_interval: u64) -> Result<()> {
    let iface = config.edge.interface.clone();
    let (mut program, mode) = EdgeProgram::start(&iface, &config.edge.limits)
        .with_context(|| format!("edge layer: cannot attach to `{iface}`"))?;
    for cidr in config.edge.allow_cidrs() {
        program.maps_mut().list_add(ListKind::Allow, &cidr, None)?;
    }
    for cidr in config.edge.block_cidrs() {
        program.maps_mut().list_add(ListKind::Block, &cidr, None)?;
    }
    let limits = program.maps().limits()?;
    tracing::info!(
        iface,
        attach_mode = %mode,
        pins = %gateway_user::edge::pin_dir(&iface).display(),
        mode = %limits.mode,
        packets_per_sec = limits.packets_per_sec,
        new_conns_per_sec = limits.new_conns_per_sec,
        "edge layer attached; tune it with `portcullis ctl --iface {iface} …`"
    );

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let period = Duration::from_secs(stats_interval.max(1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = program.maps().counters()?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = ticker.tick() => {
                program.poll_logs();
                if let Err(error) = program.maps_mut().sweep_expired() {
                    tracing::warn!(%error, "sweeping expired list entries failed");
                }
                if stats_interval == 0 {
                    continue;
                }
                let now = program.maps().counters()?;
                let delta = now.since(&last);
                last = now;
                let rate = |c: Counter| delta.get(c) as f64 / period.as_secs_f64();
                tracing::info!(
                    passed = now.get(Counter::Passed),
                    allowlisted = now.get(Counter::Allowlisted),
                    dropped_blocklist = now.get(Counter::DroppedBlocklist),
                    dropped_rate = now.get(Counter::DroppedRate),
                    dropped_new_conn_rate = now.get(Counter::DroppedConnRate),
                    dropped_malformed = now.get(Counter::DroppedMalformed),
                    would_drop = now.get(Counter::WouldDrop),
                    pass_pps = rate(Counter::Passed),
                    drop_pps = Counter::ALL.iter().filter(|c| c.is_drop()).map(|c| rate(*c)).sum::<f64>(),
                    "edge counters"
                );
            }
        }
    }
    drop(program);
    tracing::info!(iface, "edge layer detached, pins removed");
    Ok(())
}
