//! `portcullis run`: the long-running gateway process.

use std::{fs::File, os::fd::AsFd, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use gateway_common::Counter;
use gateway_user::{
    config::Config,
    edge::{CounterSnapshot, EdgeProgram, ListKind},
    listen::Listeners,
    proxy::Gateway,
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
    if let Some(listen) = args.listen {
        config.gateway.listen = listen;
    }
    if let Some(dir) = args.state_dir {
        config.gateway.state_dir = Some(dir);
    }
    if args.no_edge {
        config.edge.enabled = false;
    }
    if let Some(netns) = &args.netns {
        enter_netns(netns)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let serve_args = ServeArgs {
        stats_interval: args.stats_interval,
        write_dev_cert: args.write_dev_cert,
    };
    runtime.block_on(serve(config, serve_args))
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

async fn serve(config: Config, args: ServeArgs) -> Result<()> {
    let mut edge = if config.edge.enabled {
        match start_edge(&config) {
            Ok(program) => Some(program),
            Err(error) if config.gateway.enabled => {
                tracing::warn!("edge layer is OFF: {error:#}");
                None
            }
            Err(error) => return Err(error),
        }
    } else {
        tracing::info!("edge layer disabled in the config");
        None
    };

    let listeners = if config.gateway.enabled {
        Some(start_gateway(&config, &args).await?)
    } else {
        None
    };
    if edge.is_none() && listeners.is_none() {
        anyhow::bail!("nothing to run: both the edge layer and the gateway are off");
    }

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let period = Duration::from_secs(args.stats_interval.max(1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = match &edge {
        Some(program) => Some(program.maps().counters()?),
        None => None,
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = ticker.tick() => {
                if let (Some(program), Some(last)) = (edge.as_mut(), last.as_mut()) {
                    edge_tick(program, last, period, args.stats_interval)?;
                }
            }
        }
    }
    if let Some(listeners) = listeners {
        let grace = Duration::from_secs(config.gateway.shutdown_grace_secs);
        tracing::info!(?grace, "shutting down: draining in-flight requests");
        listeners.shutdown(grace).await;
    }
    if let Some(program) = edge.take() {
        let iface = config.edge.interface.clone();
        drop(program);
        tracing::info!(iface, "edge layer detached, pins removed");
    }
    Ok(())
}

/// Options of `run` that matter after startup.
pub struct ServeArgs {
    stats_interval: u64,
    write_dev_cert: Option<std::path::PathBuf>,
}

async fn start_gateway(config: &Config, args: &ServeArgs) -> Result<Listeners> {
    let gateway = Arc::new(Gateway::new(config).context("setting up the gateway")?);
    let listeners = Listeners::start(gateway)
        .await
        .context("starting the gateway listeners")?;
    if listeners.tls.generated {
        tracing::warn!(
            sha256 = %listeners.tls.fingerprint,
            "USING A SELF-SIGNED DEVELOPMENT CERTIFICATE: for development only; \
             configure [gateway.tls] cert and key for anything else"
        );
        if let (Some(path), Some(pem)) = (&args.write_dev_cert, &listeners.tls.generated_pem) {
            std::fs::write(path, pem).with_context(|| {
                format!("writing the development certificate to {}", path.display())
            })?;
            tracing::info!(path = %path.display(), "development certificate written (trust it in clients)");
        }
    } else {
        tracing::info!(sha256 = %listeners.tls.fingerprint, "TLS certificate loaded");
    }
    let addr = listeners.local_addr;
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    for upstream in &config.upstreams {
        tracing::info!(
            mcp.upstream = %upstream.name,
            url = %format!("https://{host}:{}/mcp/{}", addr.port(), upstream.name),
            "MCP endpoint: point your MCP client here (HTTP/1.1, HTTP/2{})",
            if config.gateway.http3 { ", HTTP/3" } else { "" }
        );
    }
    if let Some(plain) = listeners.plain_addr {
        tracing::warn!(%plain, "plain HTTP is enabled (loopback only, development)");
    }
    Ok(listeners)
}

fn start_edge(config: &Config) -> Result<EdgeProgram> {
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
    Ok(program)
}

fn edge_tick(
    program: &mut EdgeProgram,
    last: &mut CounterSnapshot,
    period: Duration,
    stats_interval: u64,
) -> Result<()> {
    program.poll_logs();
    if let Err(error) = program.maps_mut().sweep_expired() {
        tracing::warn!(%error, "sweeping expired list entries failed");
    }
    if stats_interval == 0 {
        return Ok(());
    }
    let now = program.maps().counters()?;
    let delta = now.since(last);
    *last = now;
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
        drop_pps = Counter::ALL
            .iter()
            .filter(|c| c.is_drop())
            .map(|c| rate(*c))
            .sum::<f64>(),
        "edge counters"
    );
    Ok(())
}
