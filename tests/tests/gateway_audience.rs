//! Per-route audiences (RFC 8707): a route with its own `audience` accepts
//! only tokens issued for it, and its protected-resource metadata names it.

use portcullis_tests::{
    e2e::{PyServer, require_e2e},
    gateway::{GatewayProcess, HttpVersion, initialize_body, mcp_post, portcullis_cli},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_with_its_own_audience_takes_only_its_tokens() {
    if !require_e2e("a_route_with_its_own_audience_takes_only_its_tokens") {
        return;
    }
    let upstream = PyServer::start(false);
    const AUD: &str = "https://gw.portcullis.test/mcp/files";
    let gateway = GatewayProcess::start_with(
        &[],
        "",
        &format!(
            "\n[[upstream]]\nname = \"files\"\nurl = \"{}\"\naudience = \"{AUD}\"\n",
            upstream.url()
        ),
    );
    let state = gateway.state_dir.to_str().expect("UTF-8 path").to_owned();
    let scoped = portcullis_cli(&[
        "token",
        "issue",
        "--state-dir",
        &state,
        "--sub",
        "tester",
        "--role",
        "tester",
        "--ttl",
        "10m",
        "--aud",
        AUD,
    ]);
    let seen = upstream.requests_seen();
    let client = gateway.anonymous_client();
    let with = |token: &str| {
        let mut request = mcp_post("/mcp/files", initialize_body("2025-11-25"), &[]);
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", token.trim())
                .parse()
                .expect("a header value"),
        );
        request
    };
    // The gateway-wide audience is not enough for this route.
    let wrong = client.send(HttpVersion::H2, with(&gateway.token)).await;
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|h| h.contains("invalid_token"))
    );
    assert_eq!(upstream.requests_seen(), seen);
    let right = client.send(HttpVersion::H2, with(&scoped)).await;
    assert_eq!(right.status, 200, "{:?}", right.body);

    let meta = client
        .send(
            HttpVersion::H2,
            http::Request::get("/.well-known/oauth-protected-resource/mcp/files")
                .body(bytes::Bytes::new())
                .expect("a request"),
        )
        .await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.messages()[0]["resource"], AUD);
}
