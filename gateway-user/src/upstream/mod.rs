//! Upstream MCP servers reached over Streamable HTTP: one HTTP client per
//! upstream with its timeouts, and failures turned into typed errors that
//! the proxy answers as JSON-RPC errors (never a hung client).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use crate::config::UpstreamConfig;

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Could not connect or send.
    #[error("upstream `{name}` is unreachable")]
    Unreachable {
        /// The upstream.
        name: String,
        /// The cause (logged, never sent to the client).
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// No response headers within the request timeout.
    #[error("upstream `{name}` did not answer within {timeout:?}")]
    Timeout {
        /// The upstream.
        name: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The configured URL cannot be used.
    #[error("upstream `{name}` has an unusable URL")]
    BadUrl {
        /// The upstream.
        name: String,
    },
    /// `https://` upstreams are not supported by this build yet.
    #[error("upstream `{name}`: https:// upstreams are not supported yet")]
    HttpsUnsupported {
        /// The upstream.
        name: String,
    },
}

/// One upstream and its client.
#[derive(Debug, Clone)]
pub struct Upstream {
    name: String,
    uri: Uri,
    request_timeout: Duration,
    idle_stream_timeout: Duration,
    max_response_bytes: usize,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Request headers the gateway passes to an upstream; everything else
/// (credentials, cookies, hop-by-hop headers, the gateway's session id) is
/// dropped.
const FORWARDED_REQUEST_HEADERS: [&str; 6] = [
    "content-type",
    "accept",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

impl Upstream {
    /// Builds the client for `config`.
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        let uri: Uri = config.url.parse().map_err(|_| UpstreamError::BadUrl {
            name: config.name.clone(),
        })?;
        if uri.scheme_str() == Some("https") {
            return Err(UpstreamError::HttpsUnsupported {
                name: config.name.clone(),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            name: config.name.clone(),
            uri,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            idle_stream_timeout: Duration::from_millis(config.idle_stream_timeout_ms),
            max_response_bytes: config.max_response_bytes,
            client,
        })
    }

    /// The route name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long a response stream may stay silent.
    pub fn idle_stream_timeout(&self) -> Duration {
        self.idle_stream_timeout
    }

    /// Largest JSON response or SSE event accepted.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// Sends one request: `client_headers` are filtered to the MCP ones,
    /// and `upstream_session` (the upstream's own id) is attached.
    pub async fn send(
        &self,
        method: Method,
        client_headers: &HeaderMap,
        upstream_session: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut request = Request::builder()
            .method(method)
            .uri(self.uri.clone())
            .body(Full::new(body))
            .map_err(|_| UpstreamError::BadUrl {
                name: self.name.clone(),
            })?;
        let headers = request.headers_mut();
        for name in FORWARDED_REQUEST_HEADERS {
            for value in client_headers.get_all(name) {
                headers.append(name, value.clone());
            }
        }
        if let Some(session) = upstream_session
            && let Ok(value) = HeaderValue::from_str(session)
        {
            headers.insert("mcp-session-id", value);
        }
        if !headers.contains_key(header::ACCEPT) {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("application/json, text/event-stream"),
            );
        }
        match tokio::time::timeout(self.request_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(source)) => Err(UpstreamError::Unreachable {
                name: self.name.clone(),
                source,
            }),
            Err(_) => Err(UpstreamError::Timeout {
                name: self.name.clone(),
                timeout: self.request_timeout,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> UpstreamConfig {
        UpstreamConfig {
            name: "u".into(),
            url: url.into(),
            connect_timeout_ms: 100,
            request_timeout_ms: 100,
            idle_stream_timeout_ms: 100,
            max_response_bytes: 1024,
            pin_mode: crate::pin::PinMode::Enforce,
            scan: crate::scan::ScanPolicy::default(),
            audience: None,
        }
    }

    #[test]
    fn https_is_refused_clearly_until_supported() {
        assert!(matches!(
            Upstream::new(&config("https://127.0.0.1/mcp")),
            Err(UpstreamError::HttpsUnsupported { .. })
        ));
    }

    #[tokio::test]
    async fn unreachable_upstream_is_an_error_not_a_hang() {
        // Bind then drop a listener so the port is very likely closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let upstream = Upstream::new(&config(&format!("http://127.0.0.1:{port}/mcp"))).unwrap();
        let err = upstream
            .send(Method::POST, &HeaderMap::new(), None, Bytes::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                UpstreamError::Unreachable { .. } | UpstreamError::Timeout { .. }
            ),
            "{err}"
        );
    }
}
