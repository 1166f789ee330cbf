//! The gateway's startup and TLS policy: bad configs stop it before it binds
//! anything, with the file, line and field named; TLS 1.3 only unless the
//! config allows 1.2; the development certificate is announced loudly.

use std::{net::SocketAddr, process::Command, sync::Arc, time::Duration};

use portcullis_tests::{
    e2e::{PyServer, free_port, require_e2e},
    gateway::{GatewayProcess, portcullis_bin},
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

fn run_with_config(toml: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "pcl-startup-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, toml).expect("writing the config");
    let out = Command::new(portcullis_bin())
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("running portcullis");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_stop_the_gateway_before_it_binds() {
    let port = free_port();
    for (toml, expect) in [
        (
            format!(
                "[edge]\nenabled = false\n[gateway]\nlisten = \"127.0.0.1:{port}\"\nlisen = 1\n"
            ),
            vec!["bad.toml", "line 5", "lisen"],
        ),
        (
            format!(
                "[edge]\nenabled = false\n[gateway]\nlisten = \"127.0.0.1:{port}\"\nplain_http_listen = \"0.0.0.0:{port}\"\n"
            ),
            vec!["bad.toml", "gateway.plain_http_listen", "loopback"],
        ),
        (
            format!(
                "[edge]\nenabled = false\n[gateway]\nlisten = \"127.0.0.1:{port}\"\n[[upstream]]\nname = \"x\"\nurl = \"not a url\"\n"
            ),
            vec!["bad.toml", "upstream[0].url"],
        ),
        (
            format!(
                "[edge]\nenabled = false\n[gateway]\nlisten = \"127.0.0.1:{port}\"\n[gateway.tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n"
            ),
            vec!["/nonexistent/c.pem"],
        ),
    ] {
        let (ok, stderr) = run_with_config(&toml);
        assert!(!ok, "started on a bad config:\n{toml}");
        for needle in expect {
            assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
        }
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "nothing stays bound after a refused start"
        );
    }
}

fn tls12_only(cert: &std::path::Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert).expect("reading the certificate") {
        roots.add(der.expect("a certificate")).expect("trusting it");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2 is supported by the client")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn tls12_handshake(gateway: &GatewayProcess) -> Result<(), std::io::Error> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls12_only(&gateway.cert)));
    let tcp =
        tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], gateway.port))).await?;
    let name = ServerName::try_from("127.0.0.1").expect("an IP is a server name");
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_is_refused_unless_allowed() {
    if !require_e2e("tls_1_2_is_refused_unless_allowed") {
        return;
    }
    let upstream = PyServer::start(false);
    let strict = GatewayProcess::start(&[("py", upstream.url())], "");
    assert!(
        tls12_handshake(&strict).await.is_err(),
        "a TLS 1.2-only client must be refused by default"
    );
    let log = strict.guard.log();
    assert!(
        log.contains("SELF-SIGNED DEVELOPMENT CERTIFICATE") && log.contains("sha256"),
        "the development certificate is announced with its fingerprint:\n{log}"
    );
    let lenient = GatewayProcess::start(
        &[("py", upstream.url())],
        "[gateway.tls]\nallow_tls12 = true\n",
    );
    tls12_handshake(&lenient)
        .await
        .expect("TLS 1.2 is accepted when the config allows it");
}
