//! Tool pinning through the gateway (issue 5): the first tools/list pins
//! each tool's definition; when an upstream behind the same name later
//! changes a definition (a "rug pull"), the changed tool is held back —
//! absent from tools/list and refused on tools/call — until an operator
//! looks at `portcullis tools diff` and runs `portcullis tools approve`.
//! Arguments are validated against the pinned inputSchema before they leave
//! the gateway.

use std::path::{Path, PathBuf};

use portcullis_tests::{
    e2e::{PyServer, require_e2e},
    gateway::{
        GatewayProcess, HttpVersion, RawClient, RawResponse, initialize_body, mcp_post,
        portcullis_cli,
    },
};
use serde_json::{Value, json};

const PROTOCOL: &str = "2025-11-25";

/// A state directory shared by two gateways, removed on drop.
struct StateDir(PathBuf);

impl StateDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-pins-{}-{}",
            std::process::id(),
            portcullis_tests::e2e::free_port()
        ));
        std::fs::create_dir_all(&dir).expect("creating the state dir");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A session on `/mcp/py`.
struct Session {
    client: RawClient,
    id: String,
}

impl Session {
    async fn open(gateway: &GatewayProcess) -> Self {
        let client = gateway.client();
        let init = client
            .send(
                HttpVersion::H2,
                mcp_post("/mcp/py", initialize_body(PROTOCOL), &[]),
            )
            .await;
        assert_eq!(init.status, 200, "initialize: {:?}", init.body);
        let id = init
            .header("mcp-session-id")
            .expect("a session id")
            .to_owned();
        Self { client, id }
    }

    async fn send(&self, body: Value) -> RawResponse {
        self.client
            .send(
                HttpVersion::H2,
                mcp_post(
                    "/mcp/py",
                    body.to_string(),
                    &[
                        ("mcp-session-id", self.id.as_str()),
                        ("mcp-protocol-version", PROTOCOL),
                    ],
                ),
            )
            .await
    }

    /// The first JSON-RPC message answering `body`.
    async fn rpc(&self, body: Value) -> Value {
        let response = self.send(body).await;
        assert_eq!(response.status, 200, "{:?}", response.body);
        response
            .messages()
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no JSON-RPC message in {:?}", response.body))
    }

    async fn tools(&self) -> Vec<Value> {
        let m = self
            .rpc(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
            .await;
        m["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("a tools list: {m}"))
            .clone()
    }

    async fn call(&self, id: i64, tool: &str, arguments: Value) -> Value {
        self.rpc(json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }))
        .await
    }
}

/// Upstream `py` at `url`, with the injection scanner only flagging, so
/// that pinning alone decides what is listed and callable here (the
/// scanner's own blocking is tested in gateway_content.rs).
fn pins_only_upstream(url: &str) -> String {
    format!(
        "\n[[upstream]]\nname = \"py\"\nurl = \"{url}\"\n[upstream.scan]\nlow = \"flag\"\nmedium = \"flag\"\nhigh = \"flag\"\ncritical = \"flag\"\n"
    )
}

fn names(tools: &[Value]) -> Vec<&str> {
    tools.iter().filter_map(|t| t["name"].as_str()).collect()
}

fn description<'a>(tools: &'a [Value], name: &str) -> Option<&'a str> {
    tools
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["description"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_tool_is_held_back_until_an_operator_approves_it() {
    if !require_e2e("a_changed_tool_is_held_back_until_an_operator_approves_it") {
        return;
    }
    let state = StateDir::new();

    // Day one: a clean upstream; listing pins its tools.
    {
        let clean = PyServer::start(false);
        let gateway = GatewayProcess::start_in(
            Some(state.path()),
            &[],
            "",
            &pins_only_upstream(&clean.url()),
        );
        let session = Session::open(&gateway).await;
        let tools = session.tools().await;
        assert!(names(&tools).contains(&"echo"), "{tools:?}");
        assert_eq!(
            description(&tools, "echo"),
            Some("Echoes the given text back.")
        );
        let echoed = session.call(2, "echo", json!({"text": "day one"})).await;
        assert_eq!(
            echoed["result"]["content"][0]["text"], "day one",
            "{echoed}"
        );
    }
    let listed = portcullis_cli(&[
        "tools",
        "list",
        "--state-dir",
        state.arg(),
        "--upstream",
        "py",
    ]);
    assert!(listed.contains("0 pending"), "{listed}");
    assert!(listed.contains("echo"), "{listed}");

    // Day two: the same upstream name now serves a poisoned echo.
    let poisoned = PyServer::start(true);
    let gateway = GatewayProcess::start_in(
        Some(state.path()),
        &[],
        "",
        &pins_only_upstream(&poisoned.url()),
    );
    let session = Session::open(&gateway).await;
    let tools = session.tools().await;
    assert!(
        !names(&tools).contains(&"echo"),
        "the changed echo is held back: {tools:?}"
    );
    assert!(
        names(&tools).contains(&"add"),
        "unchanged tools stay: {tools:?}"
    );
    assert!(
        !serde_json::to_string(&tools)
            .expect("JSON")
            .contains("IMPORTANT"),
        "the poisoned description never reaches the client"
    );
    let seen = poisoned.requests_seen();
    let refused = session.call(3, "echo", json!({"text": "x"})).await;
    assert_eq!(refused["error"]["code"], -32002, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("denied by policy")),
        "{refused}"
    );
    assert_eq!(refused["id"], 3);
    assert_eq!(
        poisoned.requests_seen(),
        seen,
        "the held tool's call never reached the upstream"
    );
    // Unchanged tools are still forwarded (the poisoned server's results
    // may then be blocked by the content scanner; that is another stage).
    let seen = poisoned.requests_seen();
    let added = session.call(4, "add", json!({"a": 2, "b": 3})).await;
    assert!(added.get("result").is_some(), "add is callable: {added}");
    assert_eq!(
        poisoned.requests_seen(),
        seen + 1,
        "add reached the upstream"
    );

    // The operator sees what changed, field by field.
    let diff = portcullis_cli(&[
        "tools",
        "diff",
        "--state-dir",
        state.arg(),
        "--upstream",
        "py",
    ]);
    assert!(diff.contains("`echo`"), "{diff}");
    assert!(diff.contains("field description"), "{diff}");
    assert!(diff.contains("- Echoes the given text back."), "{diff}");
    assert!(diff.contains("<IMPORTANT>"), "{diff}");
    assert!(!diff.contains("`add`"), "only echo changed: {diff}");

    // …and approves it; the gateway picks the approval up on its next list.
    let approved = portcullis_cli(&[
        "tools",
        "approve",
        "--state-dir",
        state.arg(),
        "--upstream",
        "py",
        "--tool",
        "echo",
    ]);
    assert!(approved.contains("approved"), "{approved}");
    assert!(approved.contains("`echo`"), "{approved}");
    let tools = session.tools().await;
    assert!(
        names(&tools).contains(&"echo"),
        "approved echo is back: {tools:?}"
    );
    assert!(
        description(&tools, "echo").is_some_and(|d| d.contains("<IMPORTANT>")),
        "the approved definition is the new one: {tools:?}"
    );
    let seen = poisoned.requests_seen();
    let called = session.call(5, "echo", json!({"text": "day two"})).await;
    assert!(called.get("result").is_some(), "echo is callable: {called}");
    assert_eq!(
        poisoned.requests_seen(),
        seen + 1,
        "the call reached the upstream"
    );
    let diff = portcullis_cli(&[
        "tools",
        "diff",
        "--state-dir",
        state.arg(),
        "--upstream",
        "py",
    ]);
    assert!(diff.contains("no pending changes"), "{diff}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_outside_the_pinned_input_schema_never_reach_the_upstream() {
    if !require_e2e("arguments_outside_the_pinned_input_schema_never_reach_the_upstream") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let session = Session::open(&gateway).await;
    let tools = session.tools().await;
    let echo = tools
        .iter()
        .find(|t| t["name"] == "echo")
        .expect("echo is listed");
    assert_eq!(
        echo["inputSchema"]["properties"]["text"]["type"], "string",
        "{echo}"
    );

    let cases = [
        ("echo: text is a number", "echo", json!({"text": 42})),
        ("echo: text missing", "echo", json!({})),
        ("echo: text is null", "echo", json!({"text": null})),
        ("echo: arguments not an object", "echo", json!(["text"])),
        ("add: a is a string", "add", json!({"a": "1", "b": 2})),
        ("add: b is a float", "add", json!({"a": 1, "b": 2.5})),
    ];
    for (n, (what, tool, arguments)) in (10..).zip(cases) {
        let seen = upstream.requests_seen();
        let m = session.call(n, tool, arguments).await;
        assert_eq!(m["error"]["code"], -32602, "{what}: {m}");
        assert!(
            m["error"]["message"]
                .as_str()
                .is_some_and(|s| s.starts_with("invalid arguments")),
            "{what}: {m}"
        );
        assert_eq!(m["id"], n, "{what}: answers the request");
        assert_eq!(
            upstream.requests_seen(),
            seen,
            "{what}: reached the upstream"
        );
    }
    // Valid arguments pass (the table above is not refusing everything).
    let seen = upstream.requests_seen();
    let m = session.call(20, "echo", json!({"text": "ok"})).await;
    assert_eq!(m["result"]["content"][0]["text"], "ok", "{m}");
    let m = session.call(21, "add", json!({"a": 1, "b": 2})).await;
    assert_eq!(m["result"]["content"][0]["text"], "3", "{m}");
    assert_eq!(upstream.requests_seen(), seen + 2);
}
