//! The TCP listener: per-IP connection limit, TLS handshake with a
//! deadline, then HTTP/1.1 or HTTP/2 by ALPN; connections are watched so
//! shutdown can drain them.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http::HeaderValue;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::watch,
};
use tokio_rustls::TlsAcceptor;

use super::http::serve_request;
use crate::{limit::PerIpCounter, proxy::Gateway};

/// What one TCP listener needs.
#[derive(Clone)]
pub struct TcpServe {
    /// The proxy.
    pub gateway: Arc<Gateway>,
    /// TLS, or `None` for the loopback-only plain listener.
    pub tls: Option<TlsAcceptor>,
    /// Connections per IP.
    pub connections: PerIpCounter,
    /// `Alt-Svc` advertising HTTP/3.
    pub alt_svc: Option<HeaderValue>,
    /// Handshake deadline.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for TcpServe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpServe")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Accepts until `stop` flips, then returns the watcher of live
/// connections for the caller to drain.
pub async fn accept_loop(
    listener: TcpListener,
    serve: TcpServe,
    mut stop: watch::Receiver<bool>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = serve.connections.try_acquire(peer.ip()) else {
            tracing::info!(client.ip = %peer.ip(), "connection refused: per-IP connection limit");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let serve = serve.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            match &serve.tls {
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(serve.handshake_timeout, tls.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let client_cert =
                                client_cert_names(stream.get_ref().1.peer_certificates());
                            serve_connection(stream, peer, client_cert, &serve, watcher).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(client.ip = %peer.ip(), %error, "TLS handshake failed")
                        }
                        Err(_) => {
                            tracing::debug!(client.ip = %peer.ip(), "TLS handshake timed out")
                        }
                    }
                }
                None => serve_connection(stream, peer, None, &serve, watcher).await,
            }
        });
    }
    graceful
}

/// The names of a client certificate rustls has verified (the leaf).
pub(super) fn client_cert_names(
    chain: Option<&[rustls::pki_types::CertificateDer<'static>]>,
) -> Option<Arc<crate::auth::CertNames>> {
    let leaf = chain?.first()?;
    match crate::auth::CertNames::from_der(leaf) {
        Ok(names) => Some(Arc::new(names)),
        Err(error) => {
            tracing::warn!(%error, "verified client certificate has unusable names");
            None
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    client_cert: Option<Arc<crate::auth::CertNames>>,
    serve: &TcpServe,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let gateway = Arc::clone(&serve.gateway);
    let alt_svc = serve.alt_svc.clone();
    let max_header = gateway.config().max_header_bytes;
    let service = hyper::service::service_fn(move |request| {
        serve_request(
            Arc::clone(&gateway),
            request,
            peer,
            client_cert.clone(),
            alt_svc.clone(),
        )
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(max_header.max(8192))
        .header_read_timeout(Duration::from_secs(10))
        .timer(hyper_util::rt::TokioTimer::new());
    builder
        .http2()
        .max_header_list_size(u32::try_from(max_header).unwrap_or(u32::MAX))
        .max_concurrent_streams(128)
        .timer(hyper_util::rt::TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(client.ip = %peer.ip(), %error, "connection ended with an error");
    }
}
