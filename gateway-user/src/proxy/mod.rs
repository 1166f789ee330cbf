//! The MCP proxy pipeline: one request from a listener (HTTP/1.1, HTTP/2 or
//! HTTP/3) through routing, Origin check, boundary validation, the session
//! rules and the upstream exchange, back to the client.
//!
//! Decisions come from [`crate::mcp`] (sans-IO); this module is the shell
//! that applies them.

mod content;
mod identity;
mod inspect;
mod relay;
mod respond;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header, request::Parts};
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

pub use content::{ContentStages, Exchange};
pub use identity::{Identity, IdentityError};
pub use inspect::{Direction, InspectError};
pub use relay::BoxError;

use crate::{
    config::{Config, GatewayConfig},
    limit::PerIpCounter,
    mcp::{
        self, ErrorCode, HeaderView, Incoming, ProtocolVersion, RequestId, RpcError, Session,
        SessionError, SessionId, SessionMode, SessionTable,
    },
    upstream::{Upstream, UpstreamError},
};

/// Response bodies, full or streamed.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// A request body as a listener read it.
#[derive(Debug)]
pub enum RequestBody {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// Larger than the limit: answered with 413 unread.
    TooLarge,
}

/// Where a request came from (the listener knows).
#[derive(Clone, Debug)]
pub struct Caller {
    /// Client IP.
    pub ip: IpAddr,
    /// Names of the verified client certificate, if one was presented.
    pub client_cert: Option<Arc<crate::auth::CertNames>>,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
struct Authenticated {
    ip: IpAddr,
    principal: Arc<crate::auth::Principal>,
    /// The key sessions are bound to: credential kind and subject.
    owner: String,
}

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayBuildError {
    /// An upstream could not be set up.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The tool-pin state could not be loaded.
    #[error("tool pins: {0}")]
    Pins(#[from] crate::pin::PinError),
    /// The scanner's rules could not be compiled.
    #[error("scanner rules: {0}")]
    Scan(crate::scan::ScanError),
    /// Authentication or policy could not be set up.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The state directory could not be created.
    #[error("state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The proxy: its configuration, upstreams and sessions.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    upstreams: HashMap<String, Upstream>,
    sessions: Mutex<SessionTable>,
    in_flight: PerIpCounter,
    rng: SystemRandom,
    content: Arc<ContentStages>,
    identity: Arc<Identity>,
    client_ca: Option<std::path::PathBuf>,
}

/// Unix seconds: the clock the sans-IO stages are given.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A header's value when it is visible ASCII.
fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether an `Accept` header admits `mime` (exactly, `type/*` or `*/*`).
fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    let (kind, _) = mime.split_once('/').unwrap_or((mime, ""));
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',').any(|item| {
                let item = item.split(';').next().unwrap_or("").trim();
                item == mime || item == "*/*" || item.strip_suffix("/*") == Some(kind)
            })
        })
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    header_str(headers, "content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

impl Gateway {
    /// Builds the gateway for `config`.
    pub fn new(config: &Config) -> Result<Self, GatewayBuildError> {
        let mut upstreams = HashMap::new();
        for upstream in &config.upstreams {
            upstreams.insert(upstream.name.clone(), Upstream::new(upstream)?);
        }
        let pin_file = match &config.gateway.state_dir {
            Some(dir) => {
                create_state_dir(dir)?;
                Some(crate::pin::PinStore::state_file(dir))
            }
            None => {
                tracing::warn!(
                    "no gateway.state_dir: tool pins are kept in memory and re-learned at every start"
                );
                None
            }
        };
        let upstream_content: Vec<_> = config
            .upstreams
            .iter()
            .map(|u| content::UpstreamContent {
                name: u.name.clone(),
                pin_mode: u.pin_mode,
                scan: u.scan,
            })
            .collect();
        let scanner = build_scanner(&config.gateway)?;
        if let Some(roles) = &config.gateway.dev_anonymous_roles {
            tracing::warn!(
                ?roles,
                "DEVELOPMENT MODE: requests without a credential are served as `anonymous` (loopback only)"
            );
        }
        let identity = Identity::new(
            &config.auth,
            &config.policy,
            config.gateway.state_dir.as_deref(),
            config.gateway.dev_anonymous_roles.clone(),
            config
                .upstreams
                .iter()
                .filter_map(|u| u.audience.clone().map(|a| (u.name.clone(), a)))
                .collect(),
        )?;
        let content = ContentStages::new(
            pin_file,
            &upstream_content,
            config.gateway.validation.clone(),
            Some(Arc::clone(identity.policy())),
            Arc::new(scanner),
        )?;
        Ok(Self {
            client_ca: config.auth.mtls.ca_file.clone(),
            identity: Arc::new(identity),
            content: Arc::new(content),
            config: config.gateway.clone(),
            upstreams,
            sessions: Mutex::new(SessionTable::new(config.gateway.sessions)),
            in_flight: PerIpCounter::new(config.gateway.max_requests_in_flight_per_ip),
            rng: SystemRandom::new(),
        })
    }

    /// The gateway's configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The CA file for client certificates (mTLS), if configured.
    pub fn client_ca(&self) -> Option<&std::path::Path> {
        self.client_ca.as_deref()
    }

    /// Answers one request.
    pub async fn handle(
        &self,
        parts: Parts,
        body: RequestBody,
        caller: Caller,
    ) -> Response<ProxyBody> {
        let Some(_slot) = self.in_flight.try_acquire(caller.ip) else {
            return respond::rpc_error(&RpcError::new(
                ErrorCode::Denied,
                429,
                "too many requests in flight from this address",
            ));
        };
        let path = parts.uri.path();
        if path == "/healthz" {
            return respond::json(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"));
        }
        if parts.method == Method::GET
            && let Some(response) = self.identity.metadata_response(path)
        {
            return response;
        }
        let Some(name) = path.strip_prefix("/mcp/") else {
            return respond::rpc_error(&RpcError::new(
                ErrorCode::InvalidRequest,
                404,
                "not found: MCP endpoints are /mcp/<upstream>",
            ));
        };
        let Some(upstream) = self.upstreams.get(name) else {
            return respond::rpc_error(&RpcError::new(
                ErrorCode::InvalidRequest,
                404,
                "unknown upstream",
            ));
        };
        if let Err(error) = self.check_origin(&parts.headers) {
            return respond::rpc_error(&error);
        }
        let principal = match self
            .identity
            .authenticate(&parts, caller.client_cert.as_deref(), upstream.name())
            .await
        {
            Ok(principal) => principal,
            Err(response) => return *response,
        };
        let caller = Authenticated {
            ip: caller.ip,
            owner: format!("{}:{}", principal.kind, principal.subject),
            principal,
        };
        let response = match parts.method {
            Method::POST => self.post(upstream, &parts, body, &caller).await,
            Method::GET => self.get(upstream, &parts, &caller).await,
            Method::DELETE => self.delete(upstream, &parts, &caller).await,
            _ => respond::method_not_allowed("GET, POST, DELETE"),
        };
        let mut response = response;
        let headers = response.headers_mut();
        headers.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// DNS-rebinding defence: a present `Origin` must be allowlisted.
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), RpcError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let allowed = origin
            .to_str()
            .is_ok_and(|o| self.config.allowed_origins.iter().any(|a| a == o));
        if allowed {
            Ok(())
        } else {
            Err(RpcError::new(ErrorCode::Denied, 403, "origin not allowed"))
        }
    }

    fn new_session_id(&self) -> Result<SessionId, RpcError> {
        let mut bytes = [0u8; 32];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| RpcError::new(ErrorCode::Internal, 500, "no randomness available"))?;
        Ok(SessionId::from_random(bytes))
    }

    fn lookup_session(
        &self,
        id: &str,
        upstream: &Upstream,
        caller: &Authenticated,
    ) -> Result<Session, RpcError> {
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| RpcError::new(ErrorCode::Internal, 500, "session table unavailable"))?;
        sessions
            .touch(id, upstream.name(), &caller.owner, now_secs())
            .map_err(|error| {
                if error == SessionError::OtherOwner {
                    tracing::warn!(
                        client.ip = %caller.ip,
                        principal = %caller.owner,
                        mcp.upstream = upstream.name(),
                        "session id presented by a principal that does not own it"
                    );
                }
                RpcError::new(ErrorCode::InvalidRequest, 404, "unknown or ended session")
            })
    }

    async fn post(
        &self,
        upstream: &Upstream,
        parts: &Parts,
        body: RequestBody,
        caller: &Authenticated,
    ) -> Response<ProxyBody> {
        match self.post_inner(upstream, parts, body, caller).await {
            Ok(response) => response,
            Err(error) => respond::rpc_error(&error),
        }
    }

    async fn post_inner(
        &self,
        upstream: &Upstream,
        parts: &Parts,
        body: RequestBody,
        caller: &Authenticated,
    ) -> Result<Response<ProxyBody>, RpcError> {
        let headers = &parts.headers;
        if !is_json_content_type(headers) {
            return Err(RpcError::new(
                ErrorCode::InvalidRequest,
                415,
                "Content-Type must be application/json",
            ));
        }
        if !(accepts(headers, "application/json") && accepts(headers, "text/event-stream")) {
            return Err(RpcError::new(
                ErrorCode::InvalidRequest,
                406,
                "Accept must list application/json and text/event-stream",
            ));
        }
        let bytes = match body {
            RequestBody::Complete(bytes) => bytes,
            RequestBody::TooLarge => {
                return Err(RpcError::new(
                    ErrorCode::InvalidRequest,
                    413,
                    format!("body larger than {} bytes", self.config.body.max_bytes),
                ));
            }
        };
        let incoming = mcp::parse_body(&bytes, &self.config.body)?;
        let view = HeaderView {
            protocol_version: header_str(headers, "mcp-protocol-version"),
            session_id: header_str(headers, "mcp-session-id"),
            mcp_method: header_str(headers, "mcp-method"),
            mcp_name: header_str(headers, "mcp-name"),
        };
        let plan = mcp::plan_post(&view, &incoming)?;
        let first_id = incoming.messages().iter().find_map(|m| m.id().cloned());
        for message in incoming.messages() {
            let Some(method) = message.method() else {
                // A client's answer to a server request: bound to the
                // session, which is bound to this principal.
                continue;
            };
            let action = crate::policy::Action::classify(method, message.value.get("params"))
                .map_err(|e| {
                    RpcError::new(ErrorCode::InvalidParams, 400, e.to_string())
                        .with_id(message.id().cloned())
                })?;
            if let Err(response) = self.identity.authorize(
                &caller.principal,
                upstream.name(),
                parts.uri.path(),
                action,
                message.id().cloned(),
            ) {
                return Ok(*response);
            }
        }
        if !matches!(plan.mode, SessionMode::Initialize { .. }) {
            for message in incoming.messages() {
                self.content.check_request(upstream.name(), message)?;
            }
        }
        let principal = Some(Arc::clone(&caller.principal));
        let exchange = Exchange::of(incoming.messages(), principal);
        match plan.mode {
            SessionMode::Initialize { .. } => {
                self.initialize(upstream, headers, bytes, first_id, caller)
                    .await
            }
            SessionMode::Session { id } => {
                let session = self
                    .lookup_session(&id, upstream, caller)
                    .map_err(|e| e.with_id(first_id.clone()))?;
                mcp::check_session_message(&view, &incoming, session.version)?;
                let response = self
                    .exchange(
                        Method::POST,
                        upstream,
                        headers,
                        session.upstream_session.as_deref(),
                        bytes,
                        &exchange,
                    )
                    .await?;
                if response.status() == StatusCode::NOT_FOUND {
                    // The upstream ended its session: end ours, so the
                    // client re-initializes.
                    self.end_session(&id);
                }
                Ok(response)
            }
            SessionMode::Stateless => {
                self.exchange(Method::POST, upstream, headers, None, bytes, &exchange)
                    .await
            }
        }
    }

    fn end_session(&self, id: &str) -> Option<Session> {
        self.sessions.lock().ok().and_then(|mut s| s.remove(id))
    }

    /// `initialize`: forwarded, its response read whole to learn the
    /// negotiated revision and the upstream's session id, then a gateway
    /// session replaces the upstream's in what the client sees.
    async fn initialize(
        &self,
        upstream: &Upstream,
        headers: &HeaderMap,
        bytes: Bytes,
        id: Option<RequestId>,
        caller: &Authenticated,
    ) -> Result<Response<ProxyBody>, RpcError> {
        let response = upstream
            .send(Method::POST, headers, None, bytes)
            .await
            .map_err(|e| respond::upstream_rpc_error(&e, id.clone()))?;
        let (parts, body) = response.into_parts();
        let limit = upstream.max_response_bytes();
        let body = relay::read_limited(body, limit, upstream.idle_stream_timeout())
            .await
            .map_err(|e| {
                RpcError::new(ErrorCode::Upstream, 502, e.to_string()).with_id(id.clone())
            })?;
        if !parts.status.is_success() {
            return Ok(self.upstream_failure_response(upstream, parts.status, &body, id));
        }
        let content_type = header_str(&parts.headers, "content-type").unwrap_or("");
        let is_sse = content_type.starts_with("text/event-stream");
        // Everything in the body is forwarded as sent, so everything in it
        // must parse and pass the stages; an event that does not refuses it.
        let unreadable = || {
            RpcError::new(
                ErrorCode::Upstream,
                502,
                "the upstream's initialize answer is not valid MCP",
            )
            .with_id(id.clone())
        };
        let messages: Vec<Value> = if is_sse {
            let events = relay::parse_sse_whole(&body, limit).ok_or_else(unreadable)?;
            let mut messages = Vec::new();
            for event in events.into_iter().filter(|e| !e.data.is_empty()) {
                if !matches!(event.event.as_deref(), None | Some("message")) {
                    return Err(unreadable());
                }
                messages.push(serde_json::from_str(&event.data).map_err(|_| unreadable())?);
            }
            messages
        } else {
            vec![serde_json::from_slice(&body).map_err(|_| unreadable())?]
        };
        for message in &messages {
            // The answer is forwarded as the upstream sent it, so any
            // rewrite a stage wants (a redaction, a block) refuses it whole.
            let verdict = inspect::inspect_upstream_message(
                &self.content,
                upstream.name(),
                &Exchange::default(),
                Direction::Json,
                &serde_json::to_vec(message).unwrap_or_default(),
            );
            match verdict {
                Ok(None) => {}
                Ok(Some(_)) => {
                    tracing::warn!(
                        mcp.upstream = upstream.name(),
                        "initialize answer refused by a content stage"
                    );
                    return Err(RpcError::new(
                        ErrorCode::Upstream,
                        502,
                        "the upstream's initialize answer was refused by content policy",
                    )
                    .with_id(id));
                }
                Err(reason) => {
                    return Err(
                        RpcError::new(ErrorCode::Upstream, 502, reason.to_string()).with_id(id)
                    );
                }
            }
        }
        let answer = messages.iter().find(|m| {
            id.as_ref()
                .is_some_and(|id| m.get("id") == Some(&id.to_json()))
        });
        let Some(answer) = answer else {
            return Err(RpcError::new(
                ErrorCode::Upstream,
                502,
                "upstream sent no answer to initialize",
            )
            .with_id(id));
        };
        if answer.get("error").is_some() {
            // A refused initialize opens no session.
            return Ok(respond::json(
                StatusCode::OK,
                Bytes::from(serde_json::to_vec(answer).unwrap_or_default()),
            ));
        }
        let negotiated = answer
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
            .and_then(ProtocolVersion::parse)
            .filter(|v| !v.is_stateless())
            .ok_or_else(|| {
                RpcError::new(
                    ErrorCode::Upstream,
                    502,
                    "upstream negotiated a protocol revision the gateway does not speak",
                )
                .with_id(id.clone())
            })?;
        let upstream_session = header_str(&parts.headers, "mcp-session-id").map(str::to_owned);
        let session_id = self.new_session_id()?;
        let session = Session {
            upstream: upstream.name().to_owned(),
            upstream_session,
            version: negotiated,
            owner: caller.owner.clone(),
            last_seen: now_secs(),
        };
        self.sessions
            .lock()
            .map_err(|_| RpcError::new(ErrorCode::Internal, 500, "session table unavailable"))?
            .insert(session_id.clone(), session)
            .map_err(|_| {
                RpcError::new(ErrorCode::Denied, 503, "too many sessions").with_id(id.clone())
            })?;
        tracing::info!(
            client.ip = %caller.ip,
            mcp.upstream = upstream.name(),
            mcp.protocol_version = %negotiated,
            "session opened"
        );
        // Answer in the form the upstream chose, with the gateway's id.
        let mut response = if is_sse {
            let mut response = Response::new(respond::full(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            response
        } else {
            respond::json(StatusCode::OK, body)
        };
        if let Ok(value) = HeaderValue::from_str(session_id.as_str()) {
            response.headers_mut().insert("mcp-session-id", value);
        }
        Ok(response)
    }

    /// A non-success status from the upstream: its JSON-RPC body passes if
    /// valid, otherwise a generic error with the same class of status.
    fn upstream_failure_response(
        &self,
        upstream: &Upstream,
        status: StatusCode,
        body: &[u8],
        id: Option<RequestId>,
    ) -> Response<ProxyBody> {
        let valid = matches!(
            mcp::parse_body(body, &self.config.body),
            Ok(Incoming::Single(ref m)) if m.id().is_some() || m.method().is_none()
        );
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_GATEWAY
        };
        if valid {
            // Its text reaches the model like any other: scanned first.
            let verdict = inspect::inspect_upstream_message(
                &self.content,
                upstream.name(),
                &Exchange::default(),
                Direction::Json,
                body,
            );
            match verdict {
                Ok(None) => return respond::json(status, Bytes::copy_from_slice(body)),
                Ok(Some(rewritten)) => return respond::json(status, Bytes::from(rewritten)),
                Err(reason) => {
                    tracing::warn!(mcp.upstream = upstream.name(), %reason, "refused an upstream error body");
                }
            }
        }
        respond::rpc_error(
            &RpcError::new(
                ErrorCode::Upstream,
                status.as_u16(),
                "the upstream refused the request",
            )
            .with_id(id),
        )
    }

    /// Forwards one message and relays the answer.
    async fn exchange(
        &self,
        method: Method,
        upstream: &Upstream,
        headers: &HeaderMap,
        upstream_session: Option<&str>,
        bytes: Bytes,
        exchange: &Exchange,
    ) -> Result<Response<ProxyBody>, RpcError> {
        let id = exchange.first_id();
        let response = upstream
            .send(method, headers, upstream_session, bytes)
            .await
            .map_err(|e| respond::upstream_rpc_error(&e, id.clone()))?;
        let (parts, body) = response.into_parts();
        let content_type = header_str(&parts.headers, "content-type")
            .unwrap_or("")
            .to_owned();
        if parts.status == StatusCode::ACCEPTED || parts.status == StatusCode::NO_CONTENT {
            return Ok(respond::empty(parts.status));
        }
        if parts.status == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(respond::method_not_allowed("POST"));
        }
        if !parts.status.is_success() {
            let body = relay::read_limited(
                body,
                upstream.max_response_bytes(),
                upstream.idle_stream_timeout(),
            )
            .await
            .unwrap_or_default();
            return Ok(self.upstream_failure_response(upstream, parts.status, &body, id));
        }
        if content_type.starts_with("text/event-stream") {
            let relay = relay::SseRelay::new(
                body,
                upstream.name(),
                Arc::clone(&self.content),
                exchange.clone(),
                upstream.max_response_bytes(),
                upstream.idle_stream_timeout(),
            );
            let mut response = Response::new(relay.boxed_unsync());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            return Ok(response);
        }
        if content_type.starts_with("application/json") {
            let body = relay::read_limited(
                body,
                upstream.max_response_bytes(),
                upstream.idle_stream_timeout(),
            )
            .await
            .map_err(|e| {
                RpcError::new(ErrorCode::Upstream, 502, e.to_string()).with_id(id.clone())
            })?;
            let verdict = inspect::inspect_upstream_message(
                &self.content,
                upstream.name(),
                exchange,
                Direction::Json,
                &body,
            );
            return match verdict {
                Ok(None) => Ok(respond::json(StatusCode::OK, body)),
                Ok(Some(rewritten)) => Ok(respond::json(StatusCode::OK, Bytes::from(rewritten))),
                Err(reason) => {
                    tracing::warn!(mcp.upstream = upstream.name(), %reason, "refused an upstream response");
                    Err(RpcError::new(
                        ErrorCode::Upstream,
                        502,
                        "the upstream sent an invalid response",
                    )
                    .with_id(id))
                }
            };
        }
        Err(RpcError::new(
            ErrorCode::Upstream,
            502,
            "the upstream answered with an unexpected content type",
        )
        .with_id(id))
    }

    /// What GET and DELETE share: they exist only in session revisions,
    /// are authorized like any message, and need the caller's own session.
    fn session_request(
        &self,
        upstream: &Upstream,
        parts: &Parts,
        caller: &Authenticated,
    ) -> Result<(String, Session), Box<Response<ProxyBody>>> {
        let headers = &parts.headers;
        let stateless = header_str(headers, "mcp-protocol-version")
            .and_then(ProtocolVersion::parse)
            .is_some_and(ProtocolVersion::is_stateless);
        if stateless {
            return Err(Box::new(respond::method_not_allowed("POST")));
        }
        self.identity.authorize(
            &caller.principal,
            upstream.name(),
            parts.uri.path(),
            crate::policy::Action::Method("ping"),
            None,
        )?;
        let rpc = |e: RpcError| Box::new(respond::rpc_error(&e));
        let id = header_str(headers, "mcp-session-id")
            .ok_or_else(|| rpc(RpcError::invalid("missing Mcp-Session-Id")))?;
        let session = self.lookup_session(id, upstream, caller).map_err(rpc)?;
        if let Some(declared) = header_str(headers, "mcp-protocol-version")
            && declared != session.version.as_str()
        {
            return Err(rpc(RpcError::invalid(
                "MCP-Protocol-Version does not match the session",
            )));
        }
        Ok((id.to_owned(), session))
    }

    /// GET opens the session's server-to-client stream (session revisions).
    async fn get(
        &self,
        upstream: &Upstream,
        parts: &Parts,
        caller: &Authenticated,
    ) -> Response<ProxyBody> {
        let headers = &parts.headers;
        if !accepts(headers, "text/event-stream") {
            return respond::rpc_error(&RpcError::new(
                ErrorCode::InvalidRequest,
                406,
                "Accept must list text/event-stream",
            ));
        }
        let session = match self.session_request(upstream, parts, caller) {
            Ok((_, session)) => session,
            Err(response) => return *response,
        };
        self.exchange(
            Method::GET,
            upstream,
            headers,
            session.upstream_session.as_deref(),
            Bytes::new(),
            &Exchange::default(),
        )
        .await
        .unwrap_or_else(|e| respond::rpc_error(&e))
    }

    /// DELETE ends a session, here and at the upstream.
    async fn delete(
        &self,
        upstream: &Upstream,
        parts: &Parts,
        caller: &Authenticated,
    ) -> Response<ProxyBody> {
        let headers = &parts.headers;
        let (id, session) = match self.session_request(upstream, parts, caller) {
            Ok(found) => found,
            Err(response) => return *response,
        };
        self.end_session(&id);
        if let Some(upstream_session) = session.upstream_session.as_deref()
            && let Err(error) = upstream
                .send(
                    Method::DELETE,
                    headers,
                    Some(upstream_session),
                    Bytes::new(),
                )
                .await
        {
            tracing::info!(mcp.upstream = upstream.name(), %error, "upstream session end failed");
        }
        tracing::info!(client.ip = %caller.ip, mcp.upstream = upstream.name(), "session ended");
        respond::empty(StatusCode::OK)
    }
}

/// The scanner: built-in rules, plus the operator's rules file if any.
fn build_scanner(config: &GatewayConfig) -> Result<crate::scan::Scanner, GatewayBuildError> {
    let mut builder =
        crate::scan::Scanner::builder().image_allowlist(config.scan_image_hosts.clone());
    let extra;
    if let Some(path) = &config.scan_rules {
        extra = std::fs::read_to_string(path).map_err(|source| GatewayBuildError::StateDir {
            path: path.clone(),
            source,
        })?;
        builder = builder.extra_rules(&path.display().to_string(), &extra);
    }
    builder.build().map_err(GatewayBuildError::Scan)
}

/// Creates the state directory (mode 0700) if it does not exist.
fn create_state_dir(dir: &std::path::Path) -> Result<(), GatewayBuildError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| GatewayBuildError::StateDir {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn accept_matching() {
        let h = headers(&[("accept", "application/json, text/event-stream;q=0.9")]);
        assert!(accepts(&h, "application/json") && accepts(&h, "text/event-stream"));
        assert!(accepts(&headers(&[("accept", "*/*")]), "text/event-stream"));
        assert!(!accepts(
            &headers(&[("accept", "application/json")]),
            "text/event-stream"
        ));
        assert!(!accepts(&HeaderMap::new(), "application/json"));
    }

    #[test]
    fn content_type_matching() {
        assert!(is_json_content_type(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(!is_json_content_type(&headers(&[(
            "content-type",
            "text/plain"
        )])));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
