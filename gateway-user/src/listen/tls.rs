//! TLS material and configurations: TLS 1.3 only unless configured
//! otherwise, ALPN h2 + http/1.1 on TCP and h3 on QUIC, all on rustls with
//! the ring provider.

use std::{path::Path, sync::Arc};

use rustls::{
    ServerConfig,
    crypto::ring::default_provider,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject},
};

use crate::config::TlsConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Generating the development certificate failed.
    #[error("generating the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the material or settings.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The QUIC configuration could not be built.
    #[error("QUIC TLS configuration: {0}")]
    Quic(String),
}

/// A certificate chain and its key.
#[derive(Debug)]
pub struct TlsMaterial {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate, colon-separated hex.
    pub fingerprint: String,
    /// Whether this is a generated development certificate.
    pub generated: bool,
    /// A generated certificate as PEM, for clients that need to trust it.
    pub generated_pem: Option<String>,
}

fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl TlsMaterial {
    /// Loads the configured files, or generates a development certificate
    /// for localhost, 127.0.0.1 and ::1 when none are configured.
    pub fn load_or_generate(config: &TlsConfig) -> Result<Self, TlsError> {
        match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => Self::load(cert, key),
            _ => Self::generate(),
        }
    }

    fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let file_err = |path: &Path, message: String| TlsError::File {
            path: path.display().to_string(),
            message,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_err(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_err(cert, e.to_string()))?;
        let Some(leaf) = chain.first() else {
            return Err(file_err(cert, "no certificate in the file".into()));
        };
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e.to_string()))?;
        Ok(Self {
            fingerprint: fingerprint(leaf),
            generated_pem: None,
            chain,
            key,
            generated: false,
        })
    }

    fn generate() -> Result<Self, TlsError> {
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names)?;
        let der = certified.cert.der().clone();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        Ok(Self {
            fingerprint: fingerprint(&der),
            generated_pem: Some(certified.cert.pem()),
            chain: vec![der],
            key,
            generated: true,
        })
    }

    /// The TCP listener's configuration: TLS 1.3 (and 1.2 if allowed),
    /// ALPN h2 then http/1.1.
    pub fn tcp_config(
        &self,
        allow_tls12: bool,
        client_ca: Option<&Path>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let versions: &[&'static rustls::SupportedProtocolVersion] = if allow_tls12 {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let builder = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(versions)?;
        let mut config = match client_verifier(client_ca)? {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        }
        .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The QUIC endpoint's configuration: TLS 1.3, ALPN h3.
    pub fn quic_config(&self, client_ca: Option<&Path>) -> Result<quinn::ServerConfig, TlsError> {
        let builder = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13])?;
        let mut config = match client_verifier(client_ca)? {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        }
        .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![b"h3".to_vec()];
        config.max_early_data_size = 0;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(config)
            .map_err(|e| TlsError::Quic(e.to_string()))?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

/// A verifier for client certificates signed by the CAs in `ca_file`:
/// offered certificates must verify, but none is required (bearer
/// credentials remain an alternative).
fn client_verifier(
    ca_file: Option<&Path>,
) -> Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>, TlsError> {
    let Some(path) = ca_file else {
        return Ok(None);
    };
    let file_err = |message: String| TlsError::File {
        path: path.display().to_string(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(path).map_err(|e| file_err(e.to_string()))? {
        roots
            .add(der.map_err(|e| file_err(e.to_string()))?)
            .map_err(|e| file_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(file_err("no CA certificate in the file".into()));
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(default_provider()),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| file_err(e.to_string()))?;
    Ok(Some(verifier))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_and_loaded_certificates() {
        let generated = TlsMaterial::load_or_generate(&TlsConfig::default()).unwrap();
        assert!(generated.generated && generated.generated_pem.is_some());
        assert_eq!(generated.fingerprint.len(), 32 * 3 - 1);
        generated.tcp_config(true, None).unwrap();

        let dir = std::env::temp_dir().join(format!("pcl-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        let config = TlsConfig {
            cert: Some(cert.clone()),
            key: Some(key.clone()),
            allow_tls12: false,
        };
        let loaded = TlsMaterial::load_or_generate(&config).unwrap();
        assert_eq!(loaded.fingerprint, fingerprint(certified.cert.der()));
        assert!(!loaded.generated);
        loaded.tcp_config(false, None).unwrap();
        loaded.quic_config(None).unwrap();
        // Files that are not PEM are clear errors naming the file.
        std::fs::write(&key, "not a key").unwrap();
        let err = TlsMaterial::load_or_generate(&config)
            .unwrap_err()
            .to_string();
        assert!(err.contains("k.pem"), "{err}");
        std::fs::write(&cert, "not a cert").unwrap();
        let err = TlsMaterial::load_or_generate(&config)
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
