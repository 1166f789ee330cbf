//! RFC 9728 protected-resource metadata and the `WWW-Authenticate`
//! challenges that point clients at it.

use serde::Serialize;

/// The well-known path prefix (RFC 9728 §3).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/oauth-protected-resource";

/// The metadata document for one protected resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceMetadata {
    /// The resource identifier (the URI tokens must name in `aud`).
    pub resource: String,
    /// Issuers whose tokens are accepted.
    pub authorization_servers: Vec<String>,
    /// Scopes the resource understands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// Always `["header"]`: tokens in the query or body are refused.
    pub bearer_methods_supported: Vec<String>,
}

impl ResourceMetadata {
    /// The document for `resource`.
    pub fn new(
        resource: impl Into<String>,
        authorization_servers: Vec<String>,
        scopes_supported: Vec<String>,
    ) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers,
            scopes_supported,
            bearer_methods_supported: vec!["header".into()],
        }
    }

    /// The document as JSON bytes (the response body).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The metadata path for a resource path (RFC 9728 §3.1): the well-known
/// prefix, then the resource's path. `"/"` or `""` gives the bare prefix;
/// `"/mcp/files"` gives `/.well-known/oauth-protected-resource/mcp/files`.
pub fn metadata_path(resource_path: &str) -> String {
    let trimmed = resource_path.trim_end_matches('/');
    if trimmed.is_empty() {
        WELL_KNOWN_PREFIX.to_owned()
    } else if trimmed.starts_with('/') {
        format!("{WELL_KNOWN_PREFIX}{trimmed}")
    } else {
        format!("{WELL_KNOWN_PREFIX}/{trimmed}")
    }
}

/// The inverse, for routing: which resource path a metadata request is
/// for (`Some("/")` for the bare prefix), or `None` if `request_path` is
/// not a metadata path.
pub fn resource_path_of(request_path: &str) -> Option<&str> {
    let rest = request_path.strip_prefix(WELL_KNOWN_PREFIX)?;
    match rest {
        "" | "/" => Some("/"),
        r if r.starts_with('/') => Some(r),
        _ => None,
    }
}

/// The absolute metadata URL: `origin` (`https://host:port`, no path) plus
/// [`metadata_path`].
pub fn metadata_url(origin: &str, resource_path: &str) -> String {
    format!(
        "{}{}",
        origin.trim_end_matches('/'),
        metadata_path(resource_path)
    )
}

/// A quoted-string (RFC 9110 §5.6.4) with `"` and `\` escaped and control
/// characters dropped, so configured values cannot split the header.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The 401 challenge: `Bearer resource_metadata="…", scope="…"`, plus
/// `error="invalid_token"` when a token was presented and refused.
pub fn www_authenticate_unauthorized(
    metadata_url: &str,
    scopes: &[&str],
    token_presented: bool,
) -> String {
    let mut header = format!("Bearer resource_metadata={}", quoted(metadata_url));
    if !scopes.is_empty() {
        header.push_str(", scope=");
        header.push_str(&quoted(&scopes.join(" ")));
    }
    if token_presented {
        header.push_str(", error=\"invalid_token\"");
    }
    header
}

/// The 400 challenge for a malformed request (a token in the query string,
/// two Authorization headers): RFC 6750 `invalid_request`.
pub fn www_authenticate_invalid_request(metadata_url: &str) -> String {
    format!(
        "Bearer error=\"invalid_request\", resource_metadata={}",
        quoted(metadata_url)
    )
}

/// The 403 challenge for a valid token without the scopes needed.
pub fn www_authenticate_insufficient_scope(metadata_url: &str, required: &[&str]) -> String {
    format!(
        "Bearer error=\"insufficient_scope\", scope={}, resource_metadata={}",
        quoted(&required.join(" ")),
        quoted(metadata_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_servers_scopes_and_header_only() {
        let doc = ResourceMetadata::new(
            "https://gw.example.test/mcp/files",
            vec!["https://idp.example.test".into()],
            vec!["mcp:read".into()],
        );
        let json: serde_json::Value =
            serde_json::from_slice(&doc.to_json()).expect("document is JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://gw.example.test/mcp/files",
                "authorization_servers": ["https://idp.example.test"],
                "scopes_supported": ["mcp:read"],
                "bearer_methods_supported": ["header"],
            })
        );
    }

    #[test]
    fn per_path_metadata_paths_round_trip() {
        assert_eq!(metadata_path("/"), WELL_KNOWN_PREFIX);
        assert_eq!(
            metadata_path("/mcp/files"),
            "/.well-known/oauth-protected-resource/mcp/files"
        );
        assert_eq!(
            metadata_url("https://gw.example.test:8443/", "/mcp/files"),
            "https://gw.example.test:8443/.well-known/oauth-protected-resource/mcp/files"
        );
        assert_eq!(resource_path_of(WELL_KNOWN_PREFIX), Some("/"));
        assert_eq!(
            resource_path_of("/.well-known/oauth-protected-resource/mcp/files"),
            Some("/mcp/files")
        );
        assert_eq!(
            resource_path_of("/.well-known/oauth-protected-resourcex"),
            None
        );
        assert_eq!(resource_path_of("/mcp/files"), None);
    }

    #[test]
    fn challenges_have_the_rfc_shape() {
        let url = "https://gw.example.test/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            www_authenticate_unauthorized(url, &["mcp:read", "mcp:call"], false),
            format!(r#"Bearer resource_metadata="{url}", scope="mcp:read mcp:call""#)
        );
        assert_eq!(
            www_authenticate_unauthorized(url, &[], true),
            format!(r#"Bearer resource_metadata="{url}", error="invalid_token""#)
        );
        assert_eq!(
            www_authenticate_insufficient_scope(url, &["mcp:admin"]),
            format!(
                r#"Bearer error="insufficient_scope", scope="mcp:admin", resource_metadata="{url}""#
            )
        );
    }

    #[test]
    fn invalid_request_challenge() {
        assert_eq!(
            www_authenticate_invalid_request("https://gw.example.test/m"),
            r#"Bearer error="invalid_request", resource_metadata="https://gw.example.test/m""#
        );
    }

    #[test]
    fn configured_values_cannot_break_out_of_the_quotes() {
        let header = www_authenticate_unauthorized("https://x/\"a\\b\r\nSet-Cookie: y", &[], false);
        assert_eq!(
            header,
            r#"Bearer resource_metadata="https://x/\"a\\bSet-Cookie: y""#
        );
    }
}
