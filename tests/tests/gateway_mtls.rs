//! mTLS client authentication: a client certificate signed by the
//! configured CA and matching an `[[auth.mtls.rules]]` entry authenticates
//! its holder with the rule's roles; one that matches no rule, or comes
//! from another CA, does not.

use std::sync::Arc;

use portcullis_tests::{
    e2e::{PyServer, require_e2e},
    gateway::{GatewayProcess, HttpVersion, RawClient, initialize_body, mcp_post},
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    Ca { cert, key }
}

fn client_cert(ca: &Ca, uri: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    params.subject_alt_names = vec![SanType::URI(uri.try_into().expect("an IA5 URI"))];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test agent");
    let key = KeyPair::generate().expect("client key");
    let cert = params
        .signed_by(&key, &ca.cert, &ca.key)
        .expect("signed client cert");
    (
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

async fn initialize(client: &RawClient) -> u16 {
    client
        .send(
            HttpVersion::H2,
            mcp_post("/mcp/py", initialize_body("2025-11-25"), &[]),
        )
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_map_to_principals() {
    if !require_e2e("client_certificates_map_to_principals") {
        return;
    }
    let trusted = ca("portcullis test CA");
    let ca_file = std::env::temp_dir().join(format!("pcl-mtls-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, trusted.cert.pem()).expect("writing the CA");
    let upstream = PyServer::start(false);
    let sections = format!(
        "\n[auth.mtls]\nca_file = \"{}\"\n[[auth.mtls.rules]]\nsan_uri = \"spiffe://test/agent/*\"\nroles = [\"tester\"]\n",
        ca_file.display()
    );
    let gateway = GatewayProcess::start_with(&[("py", upstream.url())], "", &sections);
    let seen = upstream.requests_seen();

    // No certificate, no token: 401.
    assert_eq!(initialize(&gateway.anonymous_client()).await, 401);
    // A certificate matching no rule: 401.
    let (chain, key) = client_cert(&trusted, "spiffe://other/agent/x");
    assert_eq!(
        initialize(&gateway.anonymous_client().with_client_cert(chain, key)).await,
        401
    );
    assert_eq!(
        upstream.requests_seen(),
        seen,
        "refused requests never reach the upstream"
    );

    // A matching certificate authenticates, over TCP and QUIC.
    let (chain, key) = client_cert(&trusted, "spiffe://test/agent/a1");
    let agent = gateway
        .anonymous_client()
        .with_client_cert(chain.clone(), key.clone_key());
    assert_eq!(initialize(&agent).await, 200);
    let over_h3 = agent
        .send(
            HttpVersion::H3,
            mcp_post("/mcp/py", initialize_body("2025-11-25"), &[]),
        )
        .await;
    assert_eq!(over_h3.status, 200, "mTLS over QUIC: {:?}", over_h3.body);

    // A certificate from another CA fails the handshake itself.
    let stranger = ca("someone else");
    let (chain, key) = client_cert(&stranger, "spiffe://test/agent/a1");
    let rogue = Arc::new(gateway.anonymous_client().with_client_cert(chain, key));
    let attempt = tokio::spawn(async move { initialize(&rogue).await });
    assert!(
        attempt.await.is_err(),
        "a client certificate from an untrusted CA must not complete the handshake"
    );
    let _ = std::fs::remove_file(&ca_file);
}
