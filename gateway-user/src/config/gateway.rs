//! The `[gateway]` section and the `[[upstream]]` table: listeners, TLS,
//! boundary limits and the MCP servers the gateway fronts.

use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;

use crate::{
    mcp::{BodyLimits, SessionLimits},
    pin::PinMode,
    validate::ValidationLimits,
};

/// The `[gateway]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Whether to start the userspace gateway at all.
    pub enabled: bool,
    /// TCP (TLS) and UDP (QUIC) address, one port for both.
    pub listen: SocketAddr,
    /// Also serve HTTP/3 over QUIC on the same port.
    pub http3: bool,
    /// Plain-HTTP address for development; loopback only, off unless set.
    pub plain_http_listen: Option<SocketAddr>,
    /// Origins allowed to call the gateway from a browser. A request with an
    /// `Origin` not listed gets 403; requests without one pass this check.
    pub allowed_origins: Vec<String>,
    /// Seconds to drain in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// Largest request head (all headers), in bytes.
    pub max_header_bytes: usize,
    /// Concurrent connections one client IP may hold.
    pub max_connections_per_ip: usize,
    /// Requests one client IP may have in flight.
    pub max_requests_in_flight_per_ip: usize,
    /// Seconds a TLS handshake may take.
    pub handshake_timeout_secs: u64,
    /// TLS.
    pub tls: TlsConfig,
    /// JSON-RPC body limits.
    pub body: BodyLimits,
    /// Session table limits.
    pub sessions: SessionLimits,
    /// Where durable state lives: tool pins, API keys, the embedded
    /// issuer's signing key. Created (mode 0700) if missing.
    pub state_dir: Option<PathBuf>,
    /// DEVELOPMENT ONLY: requests without a credential are served as
    /// `anonymous` with these roles (policy still applies). Refused unless
    /// every listener is on loopback.
    pub dev_anonymous_roles: Option<Vec<String>>,
    /// Bounds on JSON Schema validation of tool arguments and results.
    pub validation: ValidationLimits,
    /// An operator rules file for the injection scanner, added to the
    /// built-in rules (same format as `gateway-user/rules/builtin.toml`).
    pub scan_rules: Option<PathBuf>,
    /// Hosts that markdown images in tool output may load from; images
    /// elsewhere are findings.
    pub scan_image_hosts: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            http3: true,
            plain_http_listen: None,
            allowed_origins: Vec::new(),
            shutdown_grace_secs: 10,
            max_header_bytes: 16 << 10,
            max_connections_per_ip: 256,
            max_requests_in_flight_per_ip: 256,
            handshake_timeout_secs: 10,
            tls: TlsConfig::default(),
            body: BodyLimits::default(),
            sessions: SessionLimits::default(),
            state_dir: Some(PathBuf::from("/var/lib/portcullis")),
            dev_anonymous_roles: None,
            validation: ValidationLimits::default(),
            scan_rules: None,
            scan_image_hosts: Vec::new(),
        }
    }
}

/// `[gateway.tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. With neither this nor `key`, a self-signed
    /// development certificate is generated at start.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// Also accept TLS 1.2 on TCP (QUIC is always TLS 1.3).
    pub allow_tls12: bool,
}

/// One `[[upstream]]`: an MCP server reached over Streamable HTTP.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Route name: clients use `/mcp/<name>`.
    pub name: String,
    /// The server's MCP endpoint, `http://` or `https://`.
    pub url: String,
    /// Milliseconds to establish a connection.
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Milliseconds until the upstream's response headers.
    #[serde(default = "default_request_ms")]
    pub request_timeout_ms: u64,
    /// Milliseconds a response stream may stay silent.
    #[serde(default = "default_idle_ms")]
    pub idle_stream_timeout_ms: u64,
    /// Largest JSON response (or SSE event) accepted from it, in bytes.
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    /// `enforce` (default): changed, renamed or new tools are held back
    /// until approved; `warn`: they pass, and the change is recorded.
    #[serde(default)]
    pub pin_mode: PinMode,
    /// The `aud` tokens for this route must carry (RFC 8707), instead of
    /// `auth.resource`; also the `resource` of its metadata document.
    #[serde(default)]
    pub audience: Option<String>,
    /// What the injection scanner does per finding severity (`block`,
    /// `redact` or `flag`); default: flag low, redact medium, block high
    /// and critical.
    #[serde(default)]
    pub scan: crate::scan::ScanPolicy,
}

fn default_connect_ms() -> u64 {
    2_000
}
fn default_request_ms() -> u64 {
    30_000
}
fn default_idle_ms() -> u64 {
    300_000
}
fn default_max_response() -> usize {
    8 << 20
}

/// Why a gateway section is invalid: `(field, message)`.
pub(crate) fn validate(
    gateway: &GatewayConfig,
    upstreams: &[UpstreamConfig],
) -> Result<(), (String, String)> {
    let err = |f: &str, m: &str| Err((f.to_owned(), m.to_owned()));
    if let Some(plain) = gateway.plain_http_listen
        && !plain.ip().is_loopback()
    {
        return err(
            "gateway.plain_http_listen",
            "plain HTTP is only allowed on a loopback address",
        );
    }
    if gateway.dev_anonymous_roles.is_some()
        && !(gateway.listen.ip().is_loopback()
            && gateway
                .plain_http_listen
                .is_none_or(|p| p.ip().is_loopback()))
    {
        return err(
            "gateway.dev_anonymous_roles",
            "development mode (unauthenticated callers) is only allowed when every listener is on loopback",
        );
    }
    if gateway.tls.cert.is_some() != gateway.tls.key.is_some() {
        return err("gateway.tls", "set both `cert` and `key`, or neither");
    }
    for (field, value) in [
        ("gateway.max_header_bytes", gateway.max_header_bytes),
        (
            "gateway.max_connections_per_ip",
            gateway.max_connections_per_ip,
        ),
        (
            "gateway.max_requests_in_flight_per_ip",
            gateway.max_requests_in_flight_per_ip,
        ),
        ("gateway.body.max_bytes", gateway.body.max_bytes),
        ("gateway.body.max_depth", gateway.body.max_depth),
        ("gateway.body.max_batch", gateway.body.max_batch),
        (
            "gateway.sessions.max_sessions",
            gateway.sessions.max_sessions,
        ),
    ] {
        if value == 0 {
            return err(field, "must be at least 1");
        }
    }
    if gateway.max_header_bytes < 1024 {
        return err("gateway.max_header_bytes", "must be at least 1024");
    }
    for origin in &gateway.allowed_origins {
        if !(origin.starts_with("https://") || origin.starts_with("http://"))
            || origin.ends_with('/')
        {
            return err(
                "gateway.allowed_origins",
                "each origin is scheme://host[:port], without a path",
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, upstream) in upstreams.iter().enumerate() {
        let field = |f: &str| format!("upstream[{i}].{f}");
        let valid_name = !upstream.name.is_empty()
            && upstream.name.len() <= 64
            && upstream
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return Err((
                field("name"),
                "must be 1-64 of a-z, 0-9, '-', '_'".to_owned(),
            ));
        }
        if !names.insert(upstream.name.as_str()) {
            return Err((
                field("name"),
                format!("`{}` is declared twice", upstream.name),
            ));
        }
        match upstream.url.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http") | Some("https"))
                    && uri.host().is_some() => {}
            _ => {
                return Err((
                    field("url"),
                    "must be an absolute http:// or https:// URL".to_owned(),
                ));
            }
        }
        for (f, v) in [
            ("connect_timeout_ms", upstream.connect_timeout_ms),
            ("request_timeout_ms", upstream.request_timeout_ms),
            ("idle_stream_timeout_ms", upstream.idle_stream_timeout_ms),
        ] {
            if v == 0 {
                return Err((field(f), "must be at least 1".to_owned()));
            }
        }
        if let Some(audience) = &upstream.audience
            && (!audience.starts_with("https://") || audience.len() <= "https://".len())
        {
            return Err((field("audience"), "must be an https:// URI".to_owned()));
        }
        if upstream.max_response_bytes == 0 {
            return Err((field("max_response_bytes"), "must be at least 1".to_owned()));
        }
    }
    Ok(())
}
