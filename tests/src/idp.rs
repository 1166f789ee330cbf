//! A fake identity provider for the gateway's authentication tests:
//! Ed25519 signing keys generated per test (never a fixed secret), JWTs
//! crafted by hand (so a test can forge exactly the token it needs), and an
//! HTTPS JWKS endpoint whose key set can be swapped while the gateway runs,
//! counting how often it is fetched.

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::Full;
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair as _},
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// base64url without padding (JOSE).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// `header.payload` of a compact JWS, from two JSON values.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

/// An HS256 token over `header`/`claims` with `secret` as the HMAC key:
/// the algorithm-confusion forgery (a verifier that took a public key as
/// an HMAC secret would accept it).
pub fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(header, claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An Ed25519 signing key with a `kid`.
pub struct TestKey {
    /// The key id published in the JWKS and named in token headers.
    pub kid: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey").field("kid", &self.kid).finish()
    }
}

impl TestKey {
    /// A fresh key.
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generating an Ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parsing the new key");
        Self {
            kid: kid.to_owned(),
            pair,
        }
    }

    /// The 32 public key bytes.
    pub fn public(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(self.public()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The usual header: EdDSA, JWT, this key's `kid`.
    pub fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid})
    }

    /// Signs `header`/`claims` as given (the header may lie).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }

    /// Signs `claims` with [`TestKey::header`].
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&self.header(), claims)
    }
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// Claims for `sub` with roles, valid for an hour from now.
pub fn claims(issuer: &str, audience: &str, sub: &str, roles: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "roles": roles,
    })
}

/// An HTTPS server on loopback serving a swappable JWKS at any path, with a
/// fresh self-signed certificate for 127.0.0.1. Stopped on drop.
#[derive(Debug)]
pub struct JwksServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The certificate (PEM), to trust as `auth.jwks_ca_file`.
    pub cert: PathBuf,
    document: Arc<Mutex<String>>,
    hits: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    dir: PathBuf,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl JwksServer {
    /// Starts serving `document`; `dir` (created) holds the certificate.
    pub fn start(document: String, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("creating the JWKS server's dir");
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        let cert = dir.join("jwks-cert.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("writing the certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certified.cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der())),
            )
            .expect("a TLS server config");
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("binding the JWKS server");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener.local_addr().expect("its address").port();
        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (doc, count) = (Arc::clone(&document), Arc::clone(&hits));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the JWKS server");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => accepted,
                    };
                    let Ok((tcp, _)) = accepted else { continue };
                    let (acceptor, doc, count) =
                        (acceptor.clone(), Arc::clone(&doc), Arc::clone(&count));
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |_request| {
                            count.fetch_add(1, Ordering::SeqCst);
                            let body = doc.lock().map(|d| d.clone()).unwrap_or_default();
                            async move {
                                Ok::<_, Infallible>(
                                    http::Response::builder()
                                        .header("content-type", "application/jwk-set+json")
                                        .body(Full::new(Bytes::from(body)))
                                        .expect("a response"),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        });
        Self {
            port,
            cert,
            document,
            hits,
            stop: Some(stop),
            dir: dir.to_owned(),
        }
    }

    /// `https://127.0.0.1:<port>/jwks`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/jwks", self.port)
    }

    /// Serves `document` from now on.
    pub fn set(&self, document: String) {
        *self.document.lock().expect("the JWKS document lock") = document;
    }

    /// How many requests it has answered.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}
