//! Listeners: TLS over TCP (HTTP/1.1, HTTP/2) and QUIC (HTTP/3) on one
//! address, an optional loopback-only plain-HTTP listener, and graceful
//! shutdown that drains in-flight requests up to a deadline.

mod http;
mod quic;
mod tcp;
mod tls;

pub use tls::{TlsError, TlsMaterial};

use std::{net::SocketAddr, sync::Arc, time::Duration};

use ::http::HeaderValue;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_rustls::TlsAcceptor;

use crate::{limit::PerIpCounter, proxy::Gateway};

/// Why the listeners could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// TLS material or settings.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding a socket.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The running listeners.
#[derive(Debug)]
pub struct Listeners {
    /// Where TLS (and QUIC) listen.
    pub local_addr: SocketAddr,
    /// Where plain HTTP listens, if enabled.
    pub plain_addr: Option<SocketAddr>,
    /// The TLS material in use.
    pub tls: TlsMaterial,
    stop: watch::Sender<bool>,
    tcp: Vec<JoinHandle<hyper_util::server::graceful::GracefulShutdown>>,
    quic: Option<(quinn::Endpoint, JoinHandle<()>)>,
}

impl Listeners {
    /// Binds and starts serving `gateway`.
    pub async fn start(gateway: Arc<Gateway>) -> Result<Self, ListenError> {
        let config = gateway.config().clone();
        let client_ca = gateway.client_ca().map(std::path::Path::to_owned);
        let client_ca = client_ca.as_deref();
        let tls = TlsMaterial::load_or_generate(&config.tls)?;
        let bind = |addr: SocketAddr, source| ListenError::Bind { addr, source };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| bind(config.listen, e))?;
        let local_addr = listener.local_addr().map_err(|e| bind(config.listen, e))?;
        let (stop, stop_rx) = watch::channel(false);
        let connections = PerIpCounter::new(config.max_connections_per_ip);

        let quic = if config.http3 {
            let endpoint = quinn::Endpoint::server(tls.quic_config(client_ca)?, local_addr)
                .map_err(|e| bind(local_addr, e))?;
            let task = tokio::spawn(quic::accept_loop(
                endpoint.clone(),
                Arc::clone(&gateway),
                connections.clone(),
                stop_rx.clone(),
            ));
            Some((endpoint, task))
        } else {
            None
        };
        let alt_svc = config
            .http3
            .then(|| HeaderValue::from_str(&format!("h3=\":{}\"; ma=3600", local_addr.port())).ok())
            .flatten();
        let serve = tcp::TcpServe {
            gateway: Arc::clone(&gateway),
            tls: Some(TlsAcceptor::from(
                tls.tcp_config(config.tls.allow_tls12, client_ca)?,
            )),
            connections: connections.clone(),
            alt_svc,
            handshake_timeout: Duration::from_secs(config.handshake_timeout_secs.max(1)),
        };
        let mut tcp = vec![tokio::spawn(tcp::accept_loop(
            listener,
            serve.clone(),
            stop_rx.clone(),
        ))];

        let mut plain_addr = None;
        if let Some(addr) = config.plain_http_listen {
            // Config validation already refused non-loopback addresses;
            // checked again here because this is the switch that matters.
            if !addr.ip().is_loopback() {
                return Err(bind(
                    addr,
                    std::io::Error::other("plain HTTP is only allowed on loopback"),
                ));
            }
            let listener = TcpListener::bind(addr).await.map_err(|e| bind(addr, e))?;
            plain_addr = Some(listener.local_addr().map_err(|e| bind(addr, e))?);
            let plain = tcp::TcpServe {
                tls: None,
                alt_svc: None,
                ..serve
            };
            tcp.push(tokio::spawn(tcp::accept_loop(listener, plain, stop_rx)));
        }
        Ok(Self {
            local_addr,
            plain_addr,
            tls,
            stop,
            tcp,
            quic,
        })
    }

    /// Stops accepting, then waits up to `grace` for in-flight requests
    /// and streams to finish; whatever remains is cut off.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let drain = async {
            for task in self.tcp {
                if let Ok(graceful) = task.await {
                    graceful.shutdown().await;
                }
            }
            if let Some((endpoint, task)) = &self.quic {
                let _ = task;
                endpoint.wait_idle().await;
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                ?grace,
                "shutdown deadline reached; closing remaining connections"
            );
        }
        if let Some((endpoint, _)) = self.quic {
            endpoint.close(0u32.into(), b"shutdown");
        }
    }
}
