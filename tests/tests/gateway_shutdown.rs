//! Graceful shutdown: on SIGTERM the gateway stops accepting connections,
//! lets in-flight requests (here a streaming tool call with progress)
//! finish, then exits.

use std::time::{Duration, Instant};

use portcullis_tests::{
    e2e::{PyServer, require_e2e},
    gateway::{GatewayProcess, HttpVersion, initialize_body, mcp_post},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_refuses_new_ones() {
    if !require_e2e("sigterm_drains_in_flight_requests_and_refuses_new_ones") {
        return;
    }
    let upstream = PyServer::start(false);
    let mut gateway =
        GatewayProcess::start(&[("py", upstream.url())], "shutdown_grace_secs = 20\n");
    let client = gateway.client();
    let init = client
        .send(
            HttpVersion::H2,
            mcp_post("/mcp/py", initialize_body("2025-11-25"), &[]),
        )
        .await;
    let session = init.header("mcp-session-id").expect("a session").to_owned();
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let list = client
        .send(
            HttpVersion::H2,
            mcp_post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                &headers,
            ),
        )
        .await;
    assert_eq!(list.status, 200);

    // About 2 s of work, streamed as progress notifications.
    let slow = mcp_post(
        "/mcp/py",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow_count","arguments":{"steps":4,"delay_ms":500},"_meta":{"progressToken":"p1"}}}"#,
        &headers,
    );
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.send(HttpVersion::H1, slow).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(gateway.guard.pid()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalling the gateway");
    let signalled = Instant::now();

    // New connections are refused while the call drains.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", gateway.port)).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    let response = in_flight.await.expect("the in-flight call");
    assert_eq!(response.status, 200);
    let messages = response.messages();
    let progress = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 4, "every progress event arrived: {messages:?}");
    let answer = messages
        .iter()
        .find(|m| m["id"] == 2)
        .expect("the call's answer");
    assert_eq!(answer["result"]["content"][0]["text"], "counted to 4");

    let status = gateway.guard.wait_timeout(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "the gateway exits cleanly after draining ({status:?}, {:?} after SIGTERM):\n{}",
        signalled.elapsed(),
        gateway.guard.log()
    );
}
