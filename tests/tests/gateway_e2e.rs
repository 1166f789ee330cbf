//! The MCP gateway end to end: real SDK clients (Python, TypeScript) through
//! a real `portcullis run` to real SDK servers (Python SDK, server-everything),
//! over HTTP/1.1, HTTP/2 and HTTP/3.

use portcullis_tests::{
    e2e::{EverythingServer, PyServer, require_e2e, run_python_client, run_ts_client},
    gateway::{GatewayProcess, HttpVersion, initialize_body, mcp_post},
};
use serde_json::Value;

fn steps(out: &Value) -> Vec<String> {
    out["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The gateway's session ids are 64 hex characters; an upstream id would
/// look different, and must never reach the client.
fn assert_gateway_session_ids(out: &Value) {
    for record in out["http"].as_array().into_iter().flatten() {
        if let Some(id) = record["session_id"].as_str() {
            assert_eq!(id.len(), 64, "session id is the gateway's: {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
    }
}

fn assert_python_server_scenario(out: &Value, http_version: &str) {
    let steps = steps(out);
    for step in [
        "initialize",
        "tools/list",
        "tools/call echo",
        "tools/call slow_count",
        "tools/call ask_llm",
        "tools/call confirm",
        "resources/read",
        "prompts/get",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "missing step {step}: {steps:?}"
        );
    }
    assert_eq!(out["calls"]["echo"]["text"], "hello portcullis");
    assert_eq!(out["calls"]["add"]["text"], "5");
    assert_eq!(
        out["progress"].as_array().map(Vec::len),
        Some(3),
        "three progress notifications: {}",
        out["progress"]
    );
    assert_eq!(out["sampling_requests"][0]["text"], "What is 2+2?");
    assert_eq!(
        out["calls"]["sampling"]["text"],
        "model said: portcullis-e2e sampled reply"
    );
    assert_eq!(out["elicitation_requests"][0]["message"], "Proceed?");
    assert_eq!(
        out["resource_read"]["text"],
        "Hello from the Portcullis e2e server"
    );
    assert_eq!(out["delete_status"], 200, "session ended with DELETE");
    for record in out["http"].as_array().into_iter().flatten() {
        assert_eq!(record["http_version"], http_version, "{record}");
    }
    assert_gateway_session_ids(out);
}

#[test]
fn python_sdk_client_through_gateway_over_http1_and_http2() {
    if !require_e2e("python_sdk_client_through_gateway_over_http1_and_http2") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let args = gateway.client_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_python_client(&gateway.url("py"), &args);
    assert_python_server_scenario(&out, "HTTP/1.1");
    args.push("--http2");
    let out = run_python_client(&gateway.url("py"), &args);
    assert_python_server_scenario(&out, "HTTP/2");
}

#[test]
fn typescript_sdk_client_through_gateway_to_python_server() {
    if !require_e2e("typescript_sdk_client_through_gateway_to_python_server") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let args = gateway.client_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_ts_client(&gateway.url("py"), &args);
    assert_python_server_scenario(&out, "HTTP/1.1");
}

#[test]
fn both_sdk_clients_through_gateway_to_server_everything() {
    if !require_e2e("both_sdk_clients_through_gateway_to_server_everything") {
        return;
    }
    let upstream = EverythingServer::start();
    let gateway = GatewayProcess::start(&[("everything", upstream.url())], "");
    let args = gateway.client_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for out in [
        run_python_client(&gateway.url("everything"), &args),
        run_ts_client(&gateway.url("everything"), &args),
    ] {
        let steps = steps(&out);
        for step in [
            "tools/call trigger-long-running-operation",
            "tools/call trigger-sampling-request",
            "tools/call trigger-elicitation-request",
            "resources/read",
            "prompts/get",
        ] {
            assert!(steps.iter().any(|s| s == step), "missing {step}: {steps:?}");
        }
        assert!(
            out["progress"].as_array().is_some_and(|p| !p.is_empty()),
            "progress notifications arrived: {out}"
        );
        assert!(
            !out["sampling_requests"]
                .as_array()
                .is_none_or(Vec::is_empty)
        );
        assert_eq!(out["delete_status"], 200);
        assert_gateway_session_ids(&out);
    }
}

#[test]
fn stateless_2026_07_28_client_through_gateway() {
    if !require_e2e("stateless_2026_07_28_client_through_gateway") {
        return;
    }
    let upstream = PyServer::start_with(false, &["--stateless"]);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let args = gateway.client_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--modern");
    let out = run_python_client(&gateway.url("py"), &args);
    assert_eq!(out["protocol_version"], "2026-07-28");
    let steps = steps(&out);
    assert!(
        steps
            .iter()
            .any(|s| s == "tools/call ask_llm (retry with input responses)"),
        "{steps:?}"
    );
    assert_eq!(out["calls"]["echo"]["text"], "hello portcullis");
    assert!(
        out["session_id"].is_null(),
        "no session in 2026-07-28: {}",
        out["session_id"]
    );
}

/// A whole session over one HTTP version with the raw client: initialize,
/// initialized, tools/list, tools/call, DELETE, then the ended session is 404.
async fn raw_session(gateway: &GatewayProcess, version: HttpVersion) {
    let client = gateway.client();
    let init = client
        .send(
            version,
            mcp_post("/mcp/py", initialize_body("2025-11-25"), &[]),
        )
        .await;
    assert_eq!(init.status, 200, "{version:?} initialize: {:?}", init.body);
    let session = init
        .header("mcp-session-id")
        .unwrap_or_else(|| panic!("{version:?}: no session id"))
        .to_owned();
    assert_eq!(
        init.messages()[0]["result"]["protocolVersion"],
        "2025-11-25"
    );
    let with_session = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let note = client
        .send(
            version,
            mcp_post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                &with_session,
            ),
        )
        .await;
    assert_eq!(note.status, 202, "{version:?} initialized");
    let list = client
        .send(
            version,
            mcp_post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                &with_session,
            ),
        )
        .await;
    assert_eq!(list.status, 200);
    let tools = &list.messages()[0]["result"]["tools"];
    assert!(
        tools
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "echo")),
        "{version:?} tools/list: {tools}"
    );
    let call = client
        .send(
            version,
            mcp_post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"over the wire"}}}"#,
                &with_session,
            ),
        )
        .await;
    assert_eq!(call.status, 200);
    let result = call
        .messages()
        .into_iter()
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("{version:?}: no answer to the call"));
    assert_eq!(result["result"]["content"][0]["text"], "over the wire");
    let mut delete = http::Request::delete("/mcp/py");
    for (k, v) in with_session {
        delete = delete.header(k, v);
    }
    let ended = client
        .send(
            version,
            delete.body(bytes::Bytes::new()).expect("a request"),
        )
        .await;
    assert_eq!(ended.status, 200, "{version:?} DELETE");
    let after = client
        .send(
            version,
            mcp_post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
                &with_session,
            ),
        )
        .await;
    assert_eq!(
        after.status, 404,
        "{version:?}: the ended session is unknown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sessions_over_http1_http2_and_http3() {
    if !require_e2e("raw_sessions_over_http1_http2_and_http3") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    for version in [HttpVersion::H1, HttpVersion::H2, HttpVersion::H3] {
        raw_session(&gateway, version).await;
    }
    // HTTPS responses advertise HTTP/3 on the same port.
    let health = gateway
        .client()
        .send(
            HttpVersion::H2,
            http::Request::get("/healthz")
                .body(bytes::Bytes::new())
                .expect("a request"),
        )
        .await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.header("alt-svc"),
        Some(format!("h3=\":{}\"; ma=3600", gateway.port).as_str())
    );
}
