//! The gateway under test: a real `portcullis run` process on a free port
//! (TLS and QUIC), and a small raw client speaking HTTP/1.1, HTTP/2 and
//! HTTP/3 to it, for the tests that need exact control of bytes and headers
//! (the SDK clients are in [`crate::e2e`]).

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::e2e::{ChildGuard, start_on_free_port};

/// How long one raw exchange may take.
const EXCHANGE_DEADLINE: Duration = Duration::from_secs(30);

/// The `portcullis` binary: `PORTCULLIS_BIN` (set by `cargo xtask test`) or
/// the workspace's debug build.
pub fn portcullis_bin() -> PathBuf {
    std::env::var_os("PORTCULLIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/portcullis"))
}

/// A running gateway; killed on drop.
#[derive(Debug)]
pub struct GatewayProcess {
    /// The process.
    pub guard: ChildGuard,
    /// Its TLS/QUIC port on 127.0.0.1.
    pub port: u16,
    /// Its development certificate (PEM).
    pub cert: PathBuf,
    /// Its state directory (pins, API keys, the embedded issuer's key).
    pub state_dir: PathBuf,
    /// A bearer token from the embedded issuer for `tester` (role
    /// `tester`), which the default test policy lets use everything.
    pub token: String,
    dir: PathBuf,
}

/// The policy tests get unless they bring their own `[policy]`.
const TEST_POLICY: &str = "\n[policy.roles.tester.upstreams.\"*\"]\ntools = [\"*\"]\nresources = [\"*\"]\nprompts = [\"*\"]\nmethods = [\"*\"]\n";

/// Runs `portcullis ARGS` to completion, returning stdout; panics on failure.
pub fn portcullis_cli(args: &[&str]) -> String {
    let out = Command::new(portcullis_bin())
        .args(args)
        .output()
        .expect("running portcullis");
    assert!(
        out.status.success(),
        "portcullis {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl GatewayProcess {
    /// Starts a gateway in front of `upstreams` (`(name, url)`), with
    /// `extra` TOML appended to its `[gateway]` section. The edge layer is
    /// off: these tests are about the userspace gateway.
    pub fn start(upstreams: &[(&str, String)], extra: &str) -> Self {
        Self::start_with(upstreams, extra, "")
    }

    /// [`GatewayProcess::start`], with `sections` (whole TOML sections such
    /// as `[auth]` or `[policy…]`) appended; without a `[policy` section
    /// the test policy (role `tester` may use everything) is added.
    pub fn start_with(upstreams: &[(&str, String)], extra: &str, sections: &str) -> Self {
        Self::start_in(None, upstreams, extra, sections)
    }

    /// [`GatewayProcess::start_with`] on the state directory `state_dir`
    /// (which the caller owns and removes) instead of a fresh one inside
    /// the gateway's temp dir: for tests where a second gateway must see
    /// what a first one stored (tool pins, API keys).
    pub fn start_in(
        state_dir: Option<&Path>,
        upstreams: &[(&str, String)],
        extra: &str,
        sections: &str,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-gw-{}-{}",
            std::process::id(),
            crate::e2e::free_port()
        ));
        std::fs::create_dir_all(&dir).expect("creating the gateway's temp dir");
        let state_dir = state_dir.map_or_else(|| dir.join("state"), Path::to_path_buf);
        let cert = dir.join("dev-cert.pem");
        let config_path = dir.join("gateway.toml");
        let (guard, port) = start_on_free_port("portcullis", |port| {
            let mut toml = format!(
                "[edge]\nenabled = false\n\n[gateway]\nlisten = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\n{extra}\n",
                state_dir.display()
            );
            for (name, url) in upstreams {
                toml.push_str(&format!(
                    "\n[[upstream]]\nname = \"{name}\"\nurl = \"{url}\"\n"
                ));
            }
            toml.push_str(sections);
            if !sections.contains("[policy") {
                toml.push_str(TEST_POLICY);
            }
            std::fs::write(&config_path, toml).expect("writing the gateway config");
            let _ = std::fs::remove_file(&cert);
            let mut cmd = Command::new(portcullis_bin());
            cmd.arg("run")
                .arg("--config")
                .arg(&config_path)
                .args(["--stats-interval", "0", "--write-dev-cert"])
                .arg(&cert)
                .env("PORTCULLIS_LOG", "info");
            cmd
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cert.is_file() {
            assert!(
                Instant::now() < deadline,
                "the gateway wrote no development certificate:\n{}",
                guard.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let state = state_dir.to_str().expect("UTF-8 temp path");
        let token = portcullis_cli(&[
            "token",
            "issue",
            "--state-dir",
            state,
            "--sub",
            "tester",
            "--role",
            "tester",
            "--ttl",
            "1h",
        ])
        .trim()
        .to_owned();
        Self {
            guard,
            port,
            cert,
            state_dir,
            token,
            dir,
        }
    }

    /// `Authorization: Bearer <token>` for [`mcp_post`]'s extra headers.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `https://127.0.0.1:<port>/mcp/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/mcp/{name}", self.port)
    }

    /// A raw client trusting this gateway's certificate, sending the test
    /// token unless a request carries its own `Authorization`.
    pub fn client(&self) -> RawClient {
        let mut client = self.anonymous_client();
        client.authorization = Some(self.bearer());
        client
    }

    /// A raw client that sends no credential of its own.
    pub fn anonymous_client(&self) -> RawClient {
        RawClient::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            &self.cert,
        )
    }

    /// Client-script arguments: trust the certificate, send the token.
    pub fn client_args(&self) -> Vec<String> {
        vec![
            "--cacert".into(),
            self.cert.to_str().expect("UTF-8 path").into(),
            "--header".into(),
            format!("Authorization:{}", self.bearer()),
        ]
    }
}

/// Which HTTP version a raw exchange uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 over TLS (ALPN http/1.1).
    H1,
    /// HTTP/2 over TLS (ALPN h2).
    H2,
    /// HTTP/3 over QUIC (ALPN h3).
    H3,
}

/// One response, read whole.
#[derive(Debug)]
pub struct RawResponse {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RawResponse {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON-RPC messages in the body: the JSON body itself, or each
    /// `data:` payload of an event stream.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8_lossy(&self.body);
        if self
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream"))
        {
            text.split("\n\n")
                .filter_map(|event| {
                    let data: Vec<&str> = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                        .collect();
                    (!data.is_empty())
                        .then(|| serde_json::from_str(&data.join("\n")).ok())
                        .flatten()
                })
                .collect()
        } else {
            serde_json::from_str(&text).into_iter().collect()
        }
    }

    /// The JSON-RPC error code of a JSON error body.
    pub fn rpc_error_code(&self) -> Option<i64> {
        self.messages()
            .first()
            .and_then(|m| m.pointer("/error/code"))
            .and_then(serde_json::Value::as_i64)
    }
}

/// A client for exact requests to the gateway over any HTTP version.
#[derive(Debug, Clone)]
pub struct RawClient {
    addr: SocketAddr,
    roots: Arc<rustls::RootCertStore>,
    client_cert: Option<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        Arc<rustls::pki_types::PrivateKeyDer<'static>>,
    )>,
    /// `Authorization` added to requests that have none.
    pub authorization: Option<String>,
}

impl RawClient {
    fn tls_config(&self, alpn: &[u8]) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3 is supported")
            .with_root_certificates(Arc::clone(&self.roots));
        let mut config = match &self.client_cert {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .expect("a usable client certificate"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        config
    }

    /// Presents `chain` (leaf first) and `key` as a client certificate.
    pub fn with_client_cert(
        mut self,
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Self {
        self.client_cert = Some((chain, Arc::new(key)));
        self
    }
}

impl RawClient {
    /// Trusts the PEM certificate at `cert`.
    pub fn new(addr: SocketAddr, cert: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_file_iter(cert).expect("reading the gateway certificate") {
            roots
                .add(der.expect("parsing the gateway certificate"))
                .expect("trusting the gateway certificate");
        }
        Self {
            addr,
            roots: Arc::new(roots),
            client_cert: None,
            authorization: None,
        }
    }

    /// Sends `request` over `version` and reads the whole response.
    pub async fn send(&self, version: HttpVersion, mut request: Request<Bytes>) -> RawResponse {
        if let Some(auth) = &self.authorization
            && !request.headers().contains_key(http::header::AUTHORIZATION)
        {
            request.headers_mut().insert(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_str(auth).expect("a token is a header value"),
            );
        }
        tokio::time::timeout(EXCHANGE_DEADLINE, async {
            match version {
                HttpVersion::H1 | HttpVersion::H2 => self.send_tcp(version, request).await,
                HttpVersion::H3 => self.send_h3(request).await,
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{version:?} exchange with the gateway timed out"))
    }

    async fn send_tcp(&self, version: HttpVersion, request: Request<Bytes>) -> RawResponse {
        let alpn: &[u8] = if version == HttpVersion::H2 {
            b"h2"
        } else {
            b"http/1.1"
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config(alpn)));
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connecting to the gateway");
        let name = ServerName::try_from("127.0.0.1").expect("an IP is a server name");
        let tls = connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the gateway");
        let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        assert_eq!(negotiated.as_deref(), Some(alpn), "ALPN negotiated");
        let io = hyper_util::rt::TokioIo::new(tls);
        let (parts, body) = request.into_parts();
        let mut request = Request::from_parts(parts, Full::new(body));
        let response: Response<hyper::body::Incoming> = if version == HttpVersion::H2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .expect("HTTP/2 handshake");
            tokio::spawn(conn);
            *request.version_mut() = http::Version::HTTP_2;
            let mut uri = request.uri().clone().into_parts();
            uri.scheme = Some(http::uri::Scheme::HTTPS);
            uri.authority = Some(
                format!("127.0.0.1:{}", self.addr.port())
                    .parse()
                    .expect("an authority"),
            );
            *request.uri_mut() = http::Uri::from_parts(uri).expect("an absolute URI");
            sender.send_request(request).await.expect("HTTP/2 request")
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("HTTP/1.1 handshake");
            tokio::spawn(conn);
            request.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("127.0.0.1"),
            );
            sender
                .send_request(request)
                .await
                .expect("HTTP/1.1 request")
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .expect("reading the response body")
            .to_bytes();
        RawResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    async fn send_h3(&self, request: Request<Bytes>) -> RawResponse {
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(self.tls_config(b"h3"))
            .expect("QUIC client TLS config");
        let mut endpoint = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("binding a QUIC client socket");
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        let connection = endpoint
            .connect(self.addr, "127.0.0.1")
            .expect("starting a QUIC connection")
            .await
            .expect("QUIC handshake with the gateway");
        let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(connection))
            .await
            .expect("HTTP/3 setup");
        let drive = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let (parts, body) = request.into_parts();
        let mut uri = parts.uri.clone().into_parts();
        uri.scheme = Some(http::uri::Scheme::HTTPS);
        uri.authority = Some(
            format!("127.0.0.1:{}", self.addr.port())
                .parse()
                .expect("an authority"),
        );
        let mut head = Request::from_parts(parts, ());
        *head.uri_mut() = http::Uri::from_parts(uri).expect("an absolute URI");
        let mut stream = sender.send_request(head).await.expect("HTTP/3 request");
        if !body.is_empty() {
            stream.send_data(body).await.expect("HTTP/3 request body");
        }
        stream.finish().await.expect("finishing the HTTP/3 request");
        let response = stream.recv_response().await.expect("HTTP/3 response");
        let mut body = Vec::new();
        while let Some(mut chunk) = stream.recv_data().await.expect("HTTP/3 response body") {
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                body.extend_from_slice(piece);
                let n = piece.len();
                chunk.advance(n);
            }
        }
        drop(sender);
        drive.abort();
        endpoint.close(0u32.into(), b"done");
        RawResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Bytes::from(body),
        }
    }
}

/// A POST to `path` with MCP's usual headers plus `extra`.
pub fn mcp_post(path: &str, body: impl Into<Bytes>, extra: &[(&str, &str)]) -> Request<Bytes> {
    let mut builder = Request::post(path)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    builder.body(body.into()).expect("a valid request")
}

/// An `initialize` request body for `version`.
pub fn initialize_body(version: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"portcullis-raw","version":"1"}}}}}}"#
    )
}
