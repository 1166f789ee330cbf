//! JWKS rotation through a real HTTPS endpoint on loopback (rustls/ring,
//! certificate made at run time), and the fetcher's failure modes.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;

/// A loopback HTTPS server that serves `body` at `/jwks` and counts
/// requests. Aborted when dropped; serves at most 64 connections.
struct JwksServer {
    url: String,
    body: Arc<Mutex<Vec<u8>>>,
    hits: Arc<AtomicUsize>,
    cert: CertificateDer<'static>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    async fn start(body: Vec<u8>) -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .expect("test certificate");
        let cert = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (Arc::clone(&body), Arc::clone(&hits));
        let task = tokio::spawn(async move {
            for _ in 0..64 {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let (b, h) = (Arc::clone(&b), Arc::clone(&h));
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (b, h) = (Arc::clone(&b), Arc::clone(&h));
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            let (status, bytes) = if req.uri().path() == "/jwks" {
                                (200, b.lock().expect("lock").clone())
                            } else {
                                (404, b"not found".to_vec())
                            };
                            http::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(bytes)))
                        }
                    });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            url: format!("https://127.0.0.1:{}/jwks", addr.port()),
            body,
            hits,
            cert,
            task,
        }
    }

    fn fetcher(&self, path_url: &str) -> JwksFetcher {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("add test root");
        JwksFetcher::https(path_url, roots).expect("valid URL")
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Drives one bearer authentication the way the gateway will: fetch when
/// the cache asks, then decide.
async fn authenticate(
    token: &str,
    fetcher: &JwksFetcher,
    cache: &mut JwksCache,
    now: u64,
) -> Result<Principal, AuthError> {
    let keys = ApiKeyStore::new();
    let v = validator();
    for _ in 0..2 {
        // A fresh token cache each time: these tests are about key fetching.
        let mut tokens = TokenCache::default();
        let mut verifier = BearerVerifier {
            validator: &v,
            jwks: cache,
            tokens: &mut tokens,
            api_keys: &keys,
        };
        match verifier.authenticate(Credential::Jwt(token), None, now) {
            AuthStep::Done(result) => return result,
            AuthStep::RefreshJwks => match fetcher.fetch(now).await {
                Ok(bytes) => {
                    if cache.update_from_bytes(&bytes, now).is_err() {
                        cache.refresh_failed(now);
                    }
                }
                Err(_) => cache.refresh_failed(now),
            },
        }
    }
    panic!("the cache must decide on the second step");
}

#[tokio::test]
async fn jwks_rotation_over_https() {
    let (k1, k2) = (Signer::ed25519(), Signer::es256());
    let server = JwksServer::start(jwks(&[(&k1, "k1")])).await;
    let fetcher = server.fetcher(&server.url);
    let mut cache = JwksCache::new(JwksCacheConfig {
        ttl_secs: 3600,
        min_refresh_interval_secs: 30,
    });

    let t1 = token(&k1, &header(&k1, "k1"), &good_claims());
    assert!(authenticate(&t1, &fetcher, &mut cache, NOW).await.is_ok());
    assert_eq!(server.hits(), 1, "first use fetches");
    assert!(
        authenticate(&t1, &fetcher, &mut cache, NOW + 1)
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1, "cached");

    // The IdP rotates to k2; a token with the new kid triggers one fetch.
    *server.body.lock().expect("lock") = jwks(&[(&k1, "k1"), (&k2, "k2")]);
    let t2 = token(&k2, &header(&k2, "k2"), &good_claims());
    assert!(
        authenticate(&t2, &fetcher, &mut cache, NOW + 100)
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 2);

    // Unknown kids right after: rejected with no fetch at all.
    for (i, kid) in ["x1", "x2", "x3"].into_iter().enumerate() {
        let bogus = token(&k2, &header(&k2, kid), &good_claims());
        let result = authenticate(&bogus, &fetcher, &mut cache, NOW + 101 + i as u64).await;
        assert_eq!(result, Err(AuthError::Jwt(JwtError::UnknownKid)));
    }
    assert_eq!(server.hits(), 2, "no refresh storm");
}

#[tokio::test]
async fn fetch_failures_are_reported_and_keep_the_old_keys() {
    let k1 = Signer::ed25519();
    let server = JwksServer::start(jwks(&[(&k1, "k1")])).await;
    let missing = server.fetcher(&server.url.replace("/jwks", "/nope"));
    assert!(matches!(
        missing.fetch(NOW).await,
        Err(FetchError::Status { status: 404, .. })
    ));

    // A server whose certificate is not trusted.
    let other = JwksServer::start(Vec::new()).await;
    let untrusted = other.fetcher(&server.url);
    let err = untrusted
        .fetch(NOW)
        .await
        .expect_err("untrusted certificate");
    assert!(err.to_string().contains("TLS"), "{err}");

    *server.body.lock().expect("lock") = vec![b' '; MAX_JWKS_BYTES + 1];
    let big = server.fetcher(&server.url);
    assert!(matches!(big.fetch(NOW).await, Err(FetchError::TooLarge(_))));

    // The cache keeps serving the previous keys when a refresh fails.
    let mut cache = JwksCache::new(JwksCacheConfig {
        ttl_secs: 60,
        min_refresh_interval_secs: 30,
    });
    cache
        .update_from_bytes(&jwks(&[(&k1, "k1")]), NOW)
        .expect("valid");
    let t1 = token(&k1, &header(&k1, "k1"), &good_claims());
    assert!(authenticate(&t1, &big, &mut cache, NOW + 120).await.is_ok());

    for url in [
        "http://127.0.0.1/jwks",
        "https://user@host/jwks",
        "not a url",
    ] {
        let roots = rustls::RootCertStore::empty();
        assert!(
            matches!(JwksFetcher::https(url, roots), Err(FetchError::BadUrl(_))),
            "{url}"
        );
    }
}

#[tokio::test]
async fn file_and_embedded_sources_fetch() {
    let dir = secure_file::test_dir::TestDir::new("fetch");
    let k1 = Signer::ed25519();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[(&k1, "k1")])).expect("write");
    let bytes = JwksFetcher::file(&path)
        .fetch(NOW)
        .await
        .expect("file fetch");
    assert!(JwkSet::parse(&bytes).expect("parses").get("k1").is_some());
    std::fs::write(&path, vec![b' '; MAX_JWKS_BYTES + 1]).expect("write");
    assert!(matches!(
        JwksFetcher::file(&path).fetch(NOW).await,
        Err(FetchError::TooLarge(_))
    ));

    let files = IssuerFiles::new(dir.path());
    let issuer = files
        .load_or_create(IssuerConfig::default(), &ring::rand::SystemRandom::new())
        .expect("create");
    let embedded = JwksFetcher::embedded(files, IssuerConfig::default());
    let set = JwkSet::parse(&embedded.fetch(NOW).await.expect("embedded fetch")).expect("parses");
    assert!(set.get(issuer.kid()).is_some());
}
