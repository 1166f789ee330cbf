//! The IO shell that fetches a JWKS for [`JwksCache`](super::JwksCache):
//! from a file, the embedded issuer, or an HTTPS URL (rustls on ring, no
//! redirects, size and time limits). The cache decides *when*; this only
//! fetches.

use std::{path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};

use super::{
    issuer::IssuerConfig,
    issuer_file::{IssuerFileError, IssuerFiles},
    jwk::MAX_JWKS_BYTES,
};

/// Default limit for one whole fetch (connect, TLS, request, body).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A fetch that failed; the cache keeps its previous keys.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not `https://host[:port]/path`.
    #[error("JWKS URL {0:?} is not a valid https:// URL")]
    BadUrl(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The embedded issuer's files could not be read.
    #[error(transparent)]
    Issuer(#[from] IssuerFileError),
    /// The trust anchors could not be loaded.
    #[error("CA file {path}: {message}")]
    Roots {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Connecting, TLS or HTTP failed.
    #[error("fetching {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered something other than 200.
    #[error("fetching {url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("JWKS at {0} is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge(String),
    /// The whole fetch took too long.
    #[error("fetching {0}: timed out")]
    Timeout(String),
}

/// Loads PEM trust anchors (e.g. `/etc/ssl/certs/ca-certificates.crt`, or
/// a private CA) into a root store.
pub fn load_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, FetchError> {
    let err = |message: String| FetchError::Roots {
        path: path.to_owned(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))? {
        roots
            .add(cert.map_err(|e| err(e.to_string()))?)
            .map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificates found".into()));
    }
    Ok(roots)
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Embedded(IssuerFiles, IssuerConfig),
    Https {
        url: String,
        host: String,
        port: u16,
        path: String,
        tls: Arc<rustls::ClientConfig>,
    },
}

/// Fetches the JWKS bytes from one source.
#[derive(Debug, Clone)]
pub struct JwksFetcher {
    source: Source,
    timeout: Duration,
}

impl JwksFetcher {
    /// From a file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Source::File(path.into()),
            timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// From the embedded issuer's key files (re-read on every fetch, so a
    /// `token rotate-key` is picked up on the next refresh).
    pub fn embedded(files: IssuerFiles, config: IssuerConfig) -> Self {
        Self {
            source: Source::Embedded(files, config),
            timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// From an HTTPS URL, trusting `roots`.
    pub fn https(url: &str, roots: rustls::RootCertStore) -> Result<Self, FetchError> {
        let bad = || FetchError::BadUrl(url.to_owned());
        let uri: http::Uri = url.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("https") {
            return Err(bad());
        }
        let authority = uri.authority().ok_or_else(bad)?;
        if authority.as_str().contains('@') {
            return Err(bad());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Http {
                url: url.to_owned(),
                message: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            source: Source::Https {
                url: url.to_owned(),
                host,
                port: authority.port_u16().unwrap_or(443),
                path,
                tls: Arc::new(tls),
            },
            timeout: DEFAULT_FETCH_TIMEOUT,
        })
    }

    /// Changes the overall time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Fetches the document. `now` (Unix seconds) selects the embedded
    /// issuer's still-published keys.
    pub async fn fetch(&self, now: u64) -> Result<Vec<u8>, FetchError> {
        match &self.source {
            Source::File(path) => read_limited(path).await,
            Source::Embedded(files, config) => Ok(files.load(config.clone())?.jwks_json(now)),
            Source::Https {
                url,
                host,
                port,
                path,
                tls,
            } => tokio::time::timeout(self.timeout, fetch_https(url, host, *port, path, tls))
                .await
                .map_err(|_| FetchError::Timeout(url.clone()))?,
        }
    }
}

async fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, FetchError> {
    use tokio::io::AsyncReadExt as _;
    let err = |source| FetchError::File {
        path: path.to_owned(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(err)?;
    let mut bytes = Vec::new();
    file.take(MAX_JWKS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(err)?;
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(FetchError::TooLarge(path.display().to_string()));
    }
    Ok(bytes)
}

async fn fetch_https(
    url: &str,
    host: &str,
    port: u16,
    path: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Vec<u8>, FetchError> {
    let http = |message: String| FetchError::Http {
        url: url.to_owned(),
        message,
    };
    let name = ServerName::try_from(host.to_owned()).map_err(|e| http(e.to_string()))?;
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| http(format!("connect: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| http(format!("TLS: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(e.to_string()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let host_header = if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    let request = http::Request::get(path)
        .header(http::header::HOST, host_header)
        .header(
            http::header::ACCEPT,
            "application/json, application/jwk-set+json",
        )
        .header(http::header::USER_AGENT, "portcullis-jwks")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(e.to_string()))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http(e.to_string()))?;
        let status = response.status();
        if status != http::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(url.to_owned())
                } else {
                    http(e.to_string())
                }
            })?;
        Ok(body.to_bytes().to_vec())
    }
    .await;
    driver.abort();
    result
}
