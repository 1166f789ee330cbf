//! `portcullis-demo-upstream`: a small, fast MCP server on the official Rust
//! SDK (`rmcp`), serving Streamable HTTP at `/mcp`. `cargo xtask run` starts
//! it behind the gateway, and the proxy benchmark measures against it (the
//! Node.js reference server saturates too early to measure a proxy with).
//!
//! ```text
//! portcullis-demo-upstream --listen 127.0.0.1:8932 [--stateful]
//! ```
//!
//! Tools: `echo {text}` and `add {a, b}`. By default it answers statelessly
//! with `application/json` bodies (no session, no SSE), the fastest mode;
//! `--stateful` turns on the SDK's sessions and SSE responses.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rmcp::{
    handler::server::wrapper::Parameters,
    schemars, tool, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde::Deserialize;
use tokio::net::TcpListener;
use tower_service::Service;

/// The one path the server answers on; anything else is a 404.
const MCP_PATH: &str = "/mcp";

/// The demo server; it keeps no state between calls.
#[derive(Debug, Clone, Copy)]
struct Demo;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AddArgs {
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
}

#[tool_router(server_handler)]
impl Demo {
    #[tool(description = "Echoes the given text back.")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    #[tool(description = "Adds two integers.")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<String, String> {
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| "the sum overflows a 64-bit integer".to_owned())
    }
}

struct Args {
    listen: SocketAddr,
    stateful: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut stateful = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                let addr = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
                listen = Some(addr);
            }
            "--stateful" => stateful = true,
            "-h" | "--help" => {
                return Err(
                    "usage: portcullis-demo-upstream --listen ADDR:PORT [--stateful]".into(),
                );
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen ADDR:PORT is required")?,
        stateful,
    })
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("portcullis-demo-upstream: {message}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(args).await {
        eprintln!("portcullis-demo-upstream: {e}");
        std::process::exit(1);
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(args.stateful)
        .with_json_response(!args.stateful)
        .with_sse_keep_alive(None);
    let service = StreamableHttpService::new(
        || Ok(Demo),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let listener = TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    eprintln!(
        "portcullis-demo-upstream listening on http://{local}/mcp ({})",
        if args.stateful {
            "stateful"
        } else {
            "stateless, JSON responses"
        }
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("portcullis-demo-upstream: accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let routed = service_fn(move |req: Request<Incoming>| {
                let mut mcp = service.clone();
                async move {
                    if req.uri().path() != MCP_PATH {
                        return Ok::<_, Infallible>(not_found());
                    }
                    mcp.call(req).await
                }
            });
            // A client that goes away mid-request is not the server's problem.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), routed)
                .await;
        });
    }
}

fn not_found() -> Response<BoxBody<Bytes, Infallible>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")).boxed());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
