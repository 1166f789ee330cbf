//! The bridge from hyper (HTTP/1.1, HTTP/2) to the proxy: read the body
//! within its limit, call the gateway, add `Alt-Svc`.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::proxy::{Caller, Gateway, ProxyBody, RequestBody};

/// Answers one hyper request.
pub async fn serve_request(
    gateway: Arc<Gateway>,
    request: Request<Incoming>,
    peer: SocketAddr,
    client_cert: Option<Arc<crate::auth::CertNames>>,
    alt_svc: Option<HeaderValue>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (parts, body) = request.into_parts();
    let limit = gateway.config().body.max_bytes;
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => RequestBody::Complete(collected.to_bytes()),
        // Too large, or the client broke off: neither is forwarded.
        Err(_) => RequestBody::TooLarge,
    };
    let caller = Caller {
        ip: peer.ip(),
        client_cert,
    };
    let mut response = gateway.handle(parts, body, caller).await;
    if let Some(alt_svc) = alt_svc {
        response.headers_mut().insert("alt-svc", alt_svc);
    }
    Ok(response)
}
