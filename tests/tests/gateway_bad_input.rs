//! Bad input at the gateway's boundary: each case gets the right HTTP status
//! and JSON-RPC error, and nothing reaches the upstream (counted on the
//! upstream's side).

use bytes::Bytes;
use portcullis_tests::{
    e2e::{PyServer, require_e2e},
    gateway::{GatewayProcess, HttpVersion, RawClient, RawResponse, initialize_body, mcp_post},
};

struct Case {
    name: &'static str,
    request: http::Request<Bytes>,
    status: u16,
    /// The JSON-RPC error code, where the answer has a JSON-RPC body.
    code: Option<i64>,
}

fn post(path: &str, body: impl Into<Bytes>, headers: &[(&str, &str)]) -> http::Request<Bytes> {
    mcp_post(path, body, headers)
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
const CALL: &str = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}"#;

fn cases(session: &str) -> Vec<Case> {
    let s = [
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let stateless = |method: &'static str, name: &'static str| {
        post(
            "/mcp/py",
            CALL,
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", method),
                ("mcp-name", name),
            ],
        )
    };
    let raw = |content_type: &str, accept: &str, body: &'static str| {
        http::Request::post("/mcp/py")
            .header("content-type", content_type)
            .header("accept", accept)
            .header("mcp-session-id", session)
            .body(Bytes::from_static(body.as_bytes()))
            .expect("a request")
    };
    vec![
        Case {
            name: "oversized body",
            // Just over the 64 KiB limit: small enough that the client
            // finishes writing before the gateway answers and closes.
            request: post("/mcp/py", vec![b' '; (64 << 10) + 1024], &s),
            status: 413,
            code: Some(-32600),
        },
        Case {
            name: "deep nesting",
            request: post(
                "/mcp/py",
                format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"a":{}{}}}}}"#,
                    "[".repeat(100),
                    "]".repeat(100)
                ),
                &s,
            ),
            status: 400,
            code: Some(-32700),
        },
        Case {
            name: "invalid UTF-8",
            request: post(
                "/mcp/py",
                &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}"[..],
                &s,
            ),
            status: 400,
            code: Some(-32700),
        },
        Case {
            name: "not JSON",
            request: post("/mcp/py", "{not json", &s),
            status: 400,
            code: Some(-32700),
        },
        Case {
            name: "wrong content type",
            request: raw("text/plain", "application/json, text/event-stream", LIST),
            status: 415,
            code: Some(-32600),
        },
        Case {
            name: "Accept without text/event-stream",
            request: raw("application/json", "application/json", LIST),
            status: 406,
            code: Some(-32600),
        },
        Case {
            name: "bad JSON-RPC version",
            request: post(
                "/mcp/py",
                r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#,
                &s,
            ),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "null id",
            request: post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
                &s,
            ),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "params not an object",
            request: post(
                "/mcp/py",
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}"#,
                &s,
            ),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "batch in a 2025-11-25 session",
            request: post("/mcp/py", format!("[{LIST},{LIST}]"), &s),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "unknown protocol version header",
            request: post(
                "/mcp/py",
                LIST,
                &[
                    ("mcp-session-id", session),
                    ("mcp-protocol-version", "1999-01-01"),
                ],
            ),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "protocol header not the session's",
            request: post(
                "/mcp/py",
                LIST,
                &[
                    ("mcp-session-id", session),
                    ("mcp-protocol-version", "2025-06-18"),
                ],
            ),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "2026-07-28 Mcp-Method does not match the body",
            request: stateless("tools/list", "echo"),
            status: 400,
            code: Some(-32001),
        },
        Case {
            name: "2026-07-28 Mcp-Name does not match the body",
            request: stateless("tools/call", "rm-rf"),
            status: 400,
            code: Some(-32001),
        },
        Case {
            name: "foreign Origin",
            request: post(
                "/mcp/py",
                LIST,
                &[s[0], s[1], ("origin", "https://evil.example")],
            ),
            status: 403,
            code: Some(-32002),
        },
        Case {
            name: "missing session",
            request: post("/mcp/py", LIST, &[("mcp-protocol-version", "2025-11-25")]),
            status: 400,
            code: Some(-32600),
        },
        Case {
            name: "unknown session",
            request: post(
                "/mcp/py",
                LIST,
                &[
                    ("mcp-session-id", "0000"),
                    ("mcp-protocol-version", "2025-11-25"),
                ],
            ),
            status: 404,
            code: Some(-32600),
        },
        Case {
            name: "unknown upstream",
            request: post("/mcp/nope", LIST, &s),
            status: 404,
            code: Some(-32600),
        },
        Case {
            name: "path outside /mcp/",
            request: post("/admin", LIST, &s),
            status: 404,
            code: Some(-32600),
        },
        Case {
            name: "PUT on the MCP endpoint",
            request: http::Request::put("/mcp/py")
                .body(Bytes::new())
                .expect("a request"),
            status: 405,
            code: Some(-32600),
        },
        Case {
            name: "GET stream in 2026-07-28",
            request: http::Request::get("/mcp/py")
                .header("accept", "text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .body(Bytes::new())
                .expect("a request"),
            status: 405,
            code: Some(-32600),
        },
        Case {
            name: "GET stream for an unknown session",
            request: http::Request::get("/mcp/py")
                .header("accept", "text/event-stream")
                .header("mcp-session-id", "ffff")
                .body(Bytes::new())
                .expect("a request"),
            status: 404,
            code: Some(-32600),
        },
        Case {
            name: "DELETE without a session",
            request: http::Request::delete("/mcp/py")
                .body(Bytes::new())
                .expect("a request"),
            status: 400,
            code: Some(-32600),
        },
    ]
}

async fn open_session(client: &RawClient) -> String {
    let init = client
        .send(
            HttpVersion::H2,
            mcp_post("/mcp/py", initialize_body("2025-11-25"), &[]),
        )
        .await;
    assert_eq!(init.status, 200, "initialize: {:?}", init.body);
    init.header("mcp-session-id")
        .expect("a session id")
        .to_owned()
}

fn check(case: &Case, version: HttpVersion, response: &RawResponse) {
    assert_eq!(
        response.status, case.status,
        "{} over {version:?}: body {:?}",
        case.name, response.body
    );
    assert_eq!(
        response.rpc_error_code(),
        case.code,
        "{} over {version:?}: body {:?}",
        case.name,
        response.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_never_reaches_the_upstream() {
    if !require_e2e("bad_input_is_refused_and_never_reaches_the_upstream") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(
        &[("py", upstream.url())],
        "max_header_bytes = 8192\n[gateway.body]\nmax_bytes = 65536\nmax_depth = 32\n",
    );
    let client = gateway.client();
    let session = open_session(&client).await;
    let seen = upstream.requests_seen();
    for version in [HttpVersion::H1, HttpVersion::H2, HttpVersion::H3] {
        for case in cases(&session) {
            let response = client.send(version, case.request.clone()).await;
            check(&case, version, &response);
            assert_eq!(
                upstream.requests_seen(),
                seen,
                "{} over {version:?} reached the upstream",
                case.name
            );
        }
    }
    // The session still works after all that.
    let ok = client
        .send(
            HttpVersion::H2,
            mcp_post(
                "/mcp/py",
                LIST,
                &[
                    ("mcp-session-id", &session),
                    ("mcp-protocol-version", "2025-11-25"),
                ],
            ),
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(upstream.requests_seen(), seen + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused() {
    if !require_e2e("oversized_headers_are_refused") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "max_header_bytes = 8192\n");
    let client = gateway.client();
    let seen = upstream.requests_seen();
    let huge = "x".repeat(16 << 10);
    let request = mcp_post("/mcp/py", LIST, &[("x-padding", huge.as_str())]);
    let response = client.send(HttpVersion::H1, request).await;
    assert_eq!(response.status, 431, "HTTP/1.1 header limit");
    assert_eq!(upstream.requests_seen(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_a_json_rpc_error_not_a_hang() {
    if !require_e2e("unreachable_upstream_is_a_json_rpc_error_not_a_hang") {
        return;
    }
    let closed = portcullis_tests::e2e::free_port();
    let gateway = GatewayProcess::start(&[("gone", format!("http://127.0.0.1:{closed}/mcp"))], "");
    let response = gateway
        .client()
        .send(
            HttpVersion::H2,
            mcp_post("/mcp/gone", initialize_body("2025-11-25"), &[]),
        )
        .await;
    assert_eq!(response.status, 502);
    assert_eq!(response.rpc_error_code(), Some(-32000));
    assert_eq!(
        response.messages()[0]["id"],
        0,
        "the error answers the request"
    );
}
