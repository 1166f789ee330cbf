//! Finding the credential in a request: the `Authorization: Bearer` header
//! and nowhere else.

/// Largest `Authorization` header value accepted, in bytes.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024 + 64;

/// Query parameter names that carry credentials. A request with any of them
/// is refused even if it also has a header (RFC 6750 §2: one method only;
/// and a URL with a token in it ends up in logs and histories).
const QUERY_CREDENTIAL_NAMES: &[&str] = &[
    "access_token",
    "token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "bearer",
    "jwt",
    "auth",
    "authorization",
];

/// A request whose credential cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No `Authorization` header.
    #[error("no credential: send `Authorization: Bearer <token>`")]
    Missing,
    /// A credential in the URL query string.
    #[error(
        "credentials in the query string are not accepted; send `Authorization: Bearer <token>`"
    )]
    TokenInQuery,
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    Duplicate,
    /// Another scheme than Bearer (Basic, Digest, …).
    #[error("only the Bearer authorization scheme is accepted")]
    UnsupportedScheme,
    /// Not `Bearer <token68>` within the size limit.
    #[error("malformed Authorization header")]
    Malformed,
}

/// The credential a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A JWT access token.
    Jwt(&'a str),
    /// A gateway API key (`pcl_…`).
    ApiKey(&'a str),
}

impl Credential<'_> {
    /// The raw bearer string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Jwt(s) | Self::ApiKey(s) => s,
        }
    }
}

/// Takes the credential from the request's `Authorization` header values
/// (all of them, in order) and refuses one in the `query` string.
pub fn extract_credential<'a>(
    authorization: &[&'a [u8]],
    query: Option<&str>,
) -> Result<Credential<'a>, ExtractError> {
    if let Some(query) = query
        && query_has_credential(query)
    {
        return Err(ExtractError::TokenInQuery);
    }
    match authorization {
        [] => Err(ExtractError::Missing),
        [value] => parse_bearer(value),
        _ => Err(ExtractError::Duplicate),
    }
}

/// [`extract_credential`] for a single optional header value.
pub fn extract_single<'a>(
    authorization: Option<&'a [u8]>,
    query: Option<&str>,
) -> Result<Credential<'a>, ExtractError> {
    extract_credential(authorization.as_slice(), query)
}

fn query_has_credential(query: &str) -> bool {
    query.split(['&', ';']).any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        let name = percent_decode_lossy(name).to_ascii_lowercase();
        QUERY_CREDENTIAL_NAMES.contains(&name.trim())
    })
}

/// Enough percent-decoding to see through `access%5Ftoken`; bad escapes
/// stay as they are.
fn percent_decode_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_bearer(value: &[u8]) -> Result<Credential<'_>, ExtractError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(ExtractError::Malformed);
    }
    let value = std::str::from_utf8(value).map_err(|_| ExtractError::Malformed)?;
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or(if value.eq_ignore_ascii_case("bearer") {
            ExtractError::Malformed
        } else {
            ExtractError::UnsupportedScheme
        })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ExtractError::UnsupportedScheme);
    }
    let token = rest.trim_start_matches(' ');
    // token68 (RFC 9110 §11.2): one run of these, then optional `=` padding.
    let body = token.trim_end_matches('=');
    let token68 = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    if body.is_empty() || !body.chars().all(token68) {
        return Err(ExtractError::Malformed);
    }
    if token.starts_with("pcl_") {
        Ok(Credential::ApiKey(token))
    } else {
        Ok(Credential::Jwt(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(h: &str, q: Option<&str>) -> Result<Credential<'static>, ExtractError> {
        let h: &'static str = Box::leak(h.to_owned().into_boxed_str());
        extract_single(Some(h.as_bytes()), q)
    }

    #[test]
    fn bearer_header_gives_the_token() {
        assert_eq!(one("Bearer a.b.c", None), Ok(Credential::Jwt("a.b.c")));
        assert_eq!(
            one("bearer   a.b.c", Some("x=1")),
            Ok(Credential::Jwt("a.b.c"))
        );
        assert_eq!(
            one("Bearer pcl_00ff_abc", None),
            Ok(Credential::ApiKey("pcl_00ff_abc"))
        );
    }

    #[test]
    fn missing_token_is_refused() {
        assert_eq!(extract_single(None, None), Err(ExtractError::Missing));
        assert_eq!(
            extract_single(None, Some("page=2")),
            Err(ExtractError::Missing)
        );
    }

    #[test]
    fn token_in_query_string_is_refused_even_with_a_header() {
        for q in [
            "access_token=a.b.c",
            "x=1&access_token=a.b.c",
            "ACCESS_TOKEN=x",
            "access%5Ftoken=x",
            "api_key=pcl_1_2",
            "token",
        ] {
            assert_eq!(
                extract_single(None, Some(q)),
                Err(ExtractError::TokenInQuery),
                "{q}"
            );
            assert_eq!(
                one("Bearer a.b.c", Some(q)),
                Err(ExtractError::TokenInQuery),
                "{q}"
            );
        }
        assert!(
            ExtractError::TokenInQuery
                .to_string()
                .contains("query string"),
            "the error says what is wrong"
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(
            one("Basic dXNlcjpwYXNz", None),
            Err(ExtractError::UnsupportedScheme)
        );
        assert_eq!(one("Token abc", None), Err(ExtractError::UnsupportedScheme));
        assert_eq!(one("Bearer", None), Err(ExtractError::Malformed));
        assert_eq!(one("Bearer ", None), Err(ExtractError::Malformed));
        assert_eq!(one("Bearer a b", None), Err(ExtractError::Malformed));
        assert_eq!(one("Bearer a\"b", None), Err(ExtractError::Malformed));
        assert_eq!(one("Bearer ====", None), Err(ExtractError::Malformed));
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES));
        assert_eq!(one(&huge, None), Err(ExtractError::Malformed));
        assert_eq!(
            extract_single(Some(b"Bearer \xff\xfe"), None),
            Err(ExtractError::Malformed)
        );
        let a: &[u8] = b"Bearer a.b.c";
        assert_eq!(
            extract_credential(&[a, a], None),
            Err(ExtractError::Duplicate)
        );
    }
}
