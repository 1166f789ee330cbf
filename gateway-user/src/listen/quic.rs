//! The QUIC listener: HTTP/3 on the same port as TLS over TCP. Each request
//! stream is read within the body limit, answered by the proxy, and its
//! response body (SSE included) sent frame by frame.

use std::{net::SocketAddr, sync::Arc};

use bytes::{Buf, Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::sync::watch;

use crate::{
    limit::PerIpCounter,
    proxy::{Caller, Gateway, RequestBody},
};

/// Accepts QUIC connections until `stop` flips; then closes the endpoint
/// once in-flight requests are done (the caller bounds the wait).
pub async fn accept_loop(
    endpoint: quinn::Endpoint,
    gateway: Arc<Gateway>,
    connections: PerIpCounter,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let incoming = tokio::select! {
            _ = stop.changed() => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        let peer = incoming.remote_address();
        let Some(slot) = connections.try_acquire(peer.ip()) else {
            tracing::info!(client.ip = %peer.ip(), "QUIC connection refused: per-IP connection limit");
            incoming.refuse();
            continue;
        };
        let gateway = Arc::clone(&gateway);
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match incoming.await {
                Ok(connection) => serve_connection(connection, peer, gateway, stop).await,
                Err(error) => {
                    tracing::debug!(client.ip = %peer.ip(), %error, "QUIC handshake failed")
                }
            }
        });
    }
    // Stop accepting; connections already open finish their requests.
    endpoint.set_server_config(None);
}

async fn serve_connection(
    connection: quinn::Connection,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
) {
    let max_header = u64::try_from(gateway.config().max_header_bytes).unwrap_or(u64::MAX);
    let client_cert = connection
        .peer_identity()
        .and_then(|identity| {
            identity
                .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .and_then(|chain| super::tcp::client_cert_names(Some(&chain)));
    let built = h3::server::builder()
        .max_field_section_size(max_header)
        .build(h3_quinn::Connection::new(connection))
        .await;
    let mut h3 = match built {
        Ok(h3) => h3,
        Err(error) => {
            tracing::debug!(client.ip = %peer.ip(), %error, "HTTP/3 setup failed");
            return;
        }
    };
    loop {
        let resolver = tokio::select! {
            _ = stop.changed() => {
                // GOAWAY: no new requests; in-flight ones finish.
                let _ = h3.shutdown(0).await;
                break;
            }
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => resolver,
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(client.ip = %peer.ip(), %error, "HTTP/3 connection ended");
                    break;
                }
            },
        };
        let gateway = Arc::clone(&gateway);
        let client_cert = client_cert.clone();
        tokio::spawn(async move {
            match resolver.resolve_request().await {
                Ok((request, stream)) => {
                    if let Err(error) =
                        serve_request(gateway, request, stream, peer, client_cert).await
                    {
                        tracing::debug!(client.ip = %peer.ip(), %error, "HTTP/3 request failed");
                    }
                }
                Err(error) => {
                    tracing::debug!(client.ip = %peer.ip(), %error, "HTTP/3 request unreadable")
                }
            }
        });
    }
}

async fn serve_request<S>(
    gateway: Arc<Gateway>,
    request: Request<()>,
    mut stream: h3::server::RequestStream<S, Bytes>,
    peer: SocketAddr,
    client_cert: Option<Arc<crate::auth::CertNames>>,
) -> Result<(), h3::error::StreamError>
where
    S: h3::quic::BidiStream<Bytes>,
{
    let limit = gateway.config().body.max_bytes;
    let mut buf = BytesMut::new();
    let mut too_large = false;
    while let Some(mut chunk) = stream.recv_data().await? {
        if buf.len() + chunk.remaining() > limit {
            too_large = true;
            break;
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            buf.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    let body = if too_large {
        RequestBody::TooLarge
    } else {
        RequestBody::Complete(buf.freeze())
    };
    let (parts, ()) = request.into_parts();
    let caller = Caller {
        ip: peer.ip(),
        client_cert,
    };
    let response = gateway.handle(parts, body, caller).await;
    let (head, mut body) = response.into_parts();
    stream.send_response(Response::from_parts(head, ())).await?;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    stream.send_data(data).await?;
                }
            }
            Err(error) => {
                tracing::debug!(client.ip = %peer.ip(), %error, "response body failed mid-stream");
                break;
            }
        }
    }
    stream.finish().await
}
