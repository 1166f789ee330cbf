//! Authentication and authorization at the gateway, attacked from outside:
//! a real `portcullis run`, a real Python SDK server behind it, and a raw
//! client sending exactly the credential each case needs. Every refusal is
//! checked for its status, its challenge (or JSON-RPC error), and — counted
//! on the upstream's side — that nothing reached the upstream. Each table
//! also has a case that must succeed, so it cannot pass vacuously.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use bytes::Bytes;
use portcullis_tests::{
    e2e::{PyServer, require_e2e, run_python_client, try_python_client},
    gateway::{
        GatewayProcess, HttpVersion, RawClient, RawResponse, initialize_body, mcp_post,
        portcullis_cli,
    },
    idp::{JwksServer, TestKey, b64, claims, hs256, jwks, now},
};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.portcullis.test";
const RESOURCE: &str = "https://gw.portcullis.test/mcp";
const ORIGIN: &str = "https://gw.portcullis.test";
const PROTOCOL: &str = "2025-11-25";
const VERSIONS: [HttpVersion; 3] = [HttpVersion::H1, HttpVersion::H2, HttpVersion::H3];

/// The test policy with a scope-guarded second route to the same upstream.
const POLICY: &str = r#"
[policy.roles.tester.upstreams."*"]
tools = ["*"]
resources = ["*"]
prompts = ["*"]
methods = ["*"]

[policy.upstreams.scoped]
required_scopes = ["mcp:scoped"]
"#;

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-authtest-{what}-{}-{}",
            std::process::id(),
            portcullis_tests::e2e::free_port()
        ));
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a refused request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// 401, a challenge naming the metadata, no `error`.
    Missing,
    /// 401 `error="invalid_token"`.
    InvalidToken,
    /// 400 `error="invalid_request"`.
    InvalidRequest,
    /// 403 `error="insufficient_scope"` naming the scope.
    InsufficientScope(&'static str),
}

/// `https://gw.portcullis.test/.well-known/oauth-protected-resource/mcp/<route>`.
fn metadata_url(origin: &str, route: &str) -> String {
    format!("{origin}/.well-known/oauth-protected-resource/mcp/{route}")
}

fn challenge(response: &RawResponse) -> String {
    let values: Vec<_> = response
        .headers
        .get_all("www-authenticate")
        .iter()
        .collect();
    assert_eq!(values.len(), 1, "one WWW-Authenticate header: {values:?}");
    values[0]
        .to_str()
        .expect("a visible-ASCII challenge")
        .to_owned()
}

fn assert_refused(what: &str, response: &RawResponse, refusal: Refusal, metadata: &str) {
    let (status, error) = match refusal {
        Refusal::Missing => (401, None),
        Refusal::InvalidToken => (401, Some("invalid_token")),
        Refusal::InvalidRequest => (400, Some("invalid_request")),
        Refusal::InsufficientScope(_) => (403, Some("insufficient_scope")),
    };
    assert_eq!(
        response.status, status,
        "{what}: status (body {:?})",
        response.body
    );
    let challenge = challenge(response);
    assert!(
        challenge.starts_with("Bearer "),
        "{what}: a Bearer challenge: {challenge}"
    );
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{what}: the challenge points at {metadata}: {challenge}"
    );
    match error {
        Some(error) => assert!(
            challenge.contains(&format!("error=\"{error}\"")),
            "{what}: error={error} in {challenge}"
        ),
        None => assert!(
            !challenge.contains("error="),
            "{what}: no error without a token: {challenge}"
        ),
    }
    if let Refusal::InsufficientScope(scope) = refusal {
        assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{what}: names the scope {scope}: {challenge}"
        );
    }
    assert_eq!(
        response.rpc_error_code(),
        Some(-32002),
        "{what}: a JSON-RPC error body: {:?}",
        response.body
    );
}

/// `initialize` on `/mcp/<route>` with these `Authorization` values.
fn init_request(route: &str, authorization: &[&str]) -> http::Request<Bytes> {
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|v| ("authorization", *v))
        .collect();
    mcp_post(
        &format!("/mcp/{route}"),
        initialize_body(PROTOCOL),
        &headers,
    )
}

/// A request inside a session, with `authorization`.
fn session_request(session: &str, authorization: &str, body: &str) -> http::Request<Bytes> {
    mcp_post(
        "/mcp/py",
        body.to_owned(),
        &[
            ("authorization", authorization),
            ("mcp-session-id", session),
            ("mcp-protocol-version", PROTOCOL),
        ],
    )
}

/// Opens a session on `/mcp/py` as `authorization`; returns its id.
async fn open_session(client: &RawClient, authorization: &str) -> String {
    let response = client
        .send(HttpVersion::H2, init_request("py", &[authorization]))
        .await;
    assert_eq!(response.status, 200, "initialize: {:?}", response.body);
    response
        .header("mcp-session-id")
        .expect("a session id")
        .to_owned()
}

/// The first JSON-RPC message of a response.
fn message(response: &RawResponse) -> Value {
    response
        .messages()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no JSON-RPC message in {:?}", response.body))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// One case of the credential table.
struct Case {
    name: &'static str,
    route: &'static str,
    /// The path's query string, if any.
    query: Option<String>,
    authorization: Vec<String>,
    refusal: Refusal,
}

fn case(name: &'static str, authorization: Vec<String>, refusal: Refusal) -> Case {
    Case {
        name,
        route: "py",
        query: None,
        authorization,
        refusal,
    }
}

fn jwt_cases(trusted: &TestKey, attacker: &TestKey, embedded_token: &str) -> Vec<Case> {
    let good = claims(ISSUER, RESOURCE, "alice", &["tester"]);
    let with = |changes: Value| {
        let mut c = good.clone();
        for (k, v) in changes.as_object().expect("an object") {
            if v.is_null() {
                c.as_object_mut().expect("claims").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        trusted.sign(&c)
    };
    let valid = trusted.sign(&good);
    let now = now();
    let mut sig = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        valid.rsplit('.').next().expect("a signature segment"),
    )
    .expect("base64url signature");
    sig[10] ^= 0x01;
    let (signed_part, _) = valid.rsplit_once('.').expect("three segments");
    let tampered_signature = format!("{signed_part}.{}", b64(&sig));
    let mut admin = good.clone();
    admin["roles"] = json!(["admin"]);
    admin["sub"] = json!("root");
    let (header_part, _) = valid.split_once('.').expect("three segments");
    let valid_sig = valid.rsplit('.').next().expect("a signature segment");
    let tampered_payload = format!("{header_part}.{}.{valid_sig}", b64(admin.to_string()));
    let none_header = json!({"alg": "none", "typ": "JWT"});
    let none_header_b64 = b64(none_header.to_string());
    let good_b64 = b64(good.to_string());
    let hs_header = json!({"alg": "HS256", "typ": "JWT", "kid": trusted.kid});
    let embedded_jwk_header = json!({
        "alg": "EdDSA", "typ": "JWT", "kid": trusted.kid, "jwk": attacker.jwk(),
    });
    let b = |t: &str| vec![bearer(t)];
    vec![
        case("no Authorization header", vec![], Refusal::Missing),
        case("not a JWT", b("abc.def.ghi"), Refusal::InvalidToken),
        case(
            "Basic scheme",
            vec!["Basic YWxpY2U6c2VjcmV0".into()],
            Refusal::InvalidToken,
        ),
        case(
            "Bearer with a space inside the token",
            vec!["Bearer abc def".into()],
            Refusal::InvalidRequest,
        ),
        case(
            "alg none, no signature",
            b(&format!("{none_header_b64}.{good_b64}.")),
            Refusal::InvalidToken,
        ),
        case(
            "alg none with the trusted key's signature",
            b(&format!("{none_header_b64}.{good_b64}.{valid_sig}")),
            Refusal::InvalidToken,
        ),
        case(
            "HS256 keyed with the public key bytes",
            b(&hs256(&hs_header, &good, trusted.public())),
            Refusal::InvalidToken,
        ),
        case(
            "HS256 keyed with the JWK text",
            b(&hs256(
                &hs_header,
                &good,
                trusted.jwk().to_string().as_bytes(),
            )),
            Refusal::InvalidToken,
        ),
        case(
            "tampered signature",
            b(&tampered_signature),
            Refusal::InvalidToken,
        ),
        case(
            "tampered payload (roles, sub) with the original signature",
            b(&tampered_payload),
            Refusal::InvalidToken,
        ),
        case(
            "expired",
            b(&with(
                json!({"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200}),
            )),
            Refusal::InvalidToken,
        ),
        case(
            "not yet valid (nbf)",
            b(&with(json!({"nbf": now + 3600, "exp": now + 7200}))),
            Refusal::InvalidToken,
        ),
        case(
            "issued in the future (iat)",
            b(&with(json!({"iat": now + 3600, "exp": now + 7200}))),
            Refusal::InvalidToken,
        ),
        case(
            "no exp",
            b(&with(json!({"exp": null}))),
            Refusal::InvalidToken,
        ),
        case(
            "wrong iss",
            b(&with(json!({"iss": "https://evil.portcullis.test"}))),
            Refusal::InvalidToken,
        ),
        case(
            "wrong aud",
            b(&with(json!({"aud": "https://other.portcullis.test/mcp"}))),
            Refusal::InvalidToken,
        ),
        case(
            "unknown kid",
            b(&attacker.sign(&good)),
            Refusal::InvalidToken,
        ),
        case(
            "a critical header extension",
            b(&trusted.sign_with_header(
                &json!({"alg": "EdDSA", "typ": "JWT", "kid": trusted.kid, "crit": ["exp"]}),
                &good,
            )),
            Refusal::InvalidToken,
        ),
        case(
            "not a JWT type (an ID-token-like JOSE object)",
            b(&trusted.sign_with_header(
                &json!({"alg": "EdDSA", "typ": "dpop+jwt", "kid": trusted.kid}),
                &good,
            )),
            Refusal::InvalidToken,
        ),
        case(
            "trusted kid, signed by an attacker key embedded as `jwk`",
            b(&attacker.sign_with_header(&embedded_jwk_header, &good)),
            Refusal::InvalidToken,
        ),
        case(
            "a token from another issuer (the embedded one)",
            b(embedded_token),
            Refusal::InvalidToken,
        ),
        Case {
            query: Some(format!("access_token={valid}")),
            ..case("token in the query string", vec![], Refusal::InvalidRequest)
        },
        Case {
            query: Some(format!("access%5Ftoken={valid}")),
            ..case(
                "percent-encoded token name in the query, and a header",
                b(&valid),
                Refusal::InvalidRequest,
            )
        },
        case(
            "two Authorization headers",
            vec![bearer(&valid), bearer(&valid)],
            Refusal::InvalidRequest,
        ),
        Case {
            route: "scoped",
            ..case(
                "valid token without the route's scope",
                b(&valid),
                Refusal::InsufficientScope("mcp:scoped"),
            )
        },
    ]
}

fn jwks_file_sections(jwks_file: &Path) -> String {
    format!(
        "\n[auth]\nissuer = \"{ISSUER}\"\nresource = \"{RESOURCE}\"\njwks_file = \"{}\"\nscopes_supported = [\"mcp:scoped\"]\n{POLICY}",
        jwks_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_misplaced_jwts_are_refused_before_the_upstream() {
    if !require_e2e("forged_and_misplaced_jwts_are_refused_before_the_upstream") {
        return;
    }
    let dir = TempDir::new("jwt");
    let trusted = TestKey::generate("key-a");
    let attacker = TestKey::generate("key-x");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks(&[&trusted])).expect("writing the JWKS");
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start_with(
        &[("py", upstream.url()), ("scoped", upstream.url())],
        "",
        &jwks_file_sections(&jwks_file),
    );
    let client = gateway.anonymous_client();
    let valid = trusted.sign(&claims(ISSUER, RESOURCE, "alice", &["tester"]));
    let mut scoped_claims = claims(ISSUER, RESOURCE, "alice", &["tester"]);
    scoped_claims["scope"] = json!("mcp:scoped mcp:other");
    let scoped = trusted.sign(&scoped_claims);

    for version in VERSIONS {
        // The positive cases: a valid token opens a session on each route.
        for (route, token) in [("py", &valid), ("scoped", &scoped)] {
            let seen = upstream.requests_seen();
            let response = client
                .send(version, init_request(route, &[&bearer(token)]))
                .await;
            assert_eq!(
                response.status, 200,
                "valid token on {route} over {version:?}: {:?}",
                response.body
            );
            assert!(response.header("mcp-session-id").is_some());
            assert_eq!(
                upstream.requests_seen(),
                seen + 1,
                "it reached the upstream"
            );
        }
        for case in jwt_cases(&trusted, &attacker, &gateway.token) {
            let what = format!("{} over {version:?}", case.name);
            let seen = upstream.requests_seen();
            let auth: Vec<&str> = case.authorization.iter().map(String::as_str).collect();
            let mut request = init_request(case.route, &auth);
            if let Some(query) = &case.query {
                *request.uri_mut() = format!("/mcp/{}?{query}", case.route)
                    .parse()
                    .expect("a path and query");
            }
            let response = client.send(version, request).await;
            assert_refused(
                &what,
                &response,
                case.refusal,
                &metadata_url(ORIGIN, case.route),
            );
            assert_eq!(
                upstream.requests_seen(),
                seen,
                "{what}: reached the upstream"
            );
        }
    }
    // The metadata the challenges point at, served without a token.
    let meta = client
        .send(
            HttpVersion::H2,
            http::Request::get("/.well-known/oauth-protected-resource/mcp/py")
                .body(Bytes::new())
                .expect("a request"),
        )
        .await;
    assert_eq!(meta.status, 200, "metadata: {:?}", meta.body);
    let doc: Value = serde_json::from_slice(&meta.body).expect("JSON metadata");
    assert_eq!(doc["resource"], format!("{ORIGIN}/mcp/py"));
    assert_eq!(doc["authorization_servers"], json!([ISSUER]));
    assert_eq!(doc["scopes_supported"], json!(["mcp:scoped"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_public_and_matches_the_challenge() {
    if !require_e2e("protected_resource_metadata_is_public_and_matches_the_challenge") {
        return;
    }
    let upstream = PyServer::start(false);
    // The embedded issuer's defaults: resource https://127.0.0.1:8443/mcp.
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let origin = "https://127.0.0.1:8443";
    let client = gateway.anonymous_client();
    let seen = upstream.requests_seen();
    let get = |path: &str| {
        http::Request::get(path)
            .body(Bytes::new())
            .expect("a request")
    };
    for version in VERSIONS {
        let response = client
            .send(version, get("/.well-known/oauth-protected-resource"))
            .await;
        assert_eq!(response.status, 200, "{version:?}: {:?}", response.body);
        assert!(
            response
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "JSON content type"
        );
        let doc: Value = serde_json::from_slice(&response.body).expect("JSON metadata");
        assert_eq!(doc["resource"], format!("{origin}/mcp"));
        assert_eq!(doc["authorization_servers"], json!([origin]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));

        // The 401's resource_metadata URL, fetched from the gateway, is
        // the document for exactly that endpoint.
        let refused = client.send(version, init_request("py", &[])).await;
        assert_refused(
            "no token",
            &refused,
            Refusal::Missing,
            &metadata_url(origin, "py"),
        );
        let challenge = challenge(&refused);
        let url = challenge
            .split("resource_metadata=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a resource_metadata URL");
        let path = url.strip_prefix(origin).expect("on the gateway's origin");
        let response = client.send(version, get(path)).await;
        assert_eq!(response.status, 200, "{path}: {:?}", response.body);
        let doc: Value = serde_json::from_slice(&response.body).expect("JSON metadata");
        assert_eq!(doc["resource"], format!("{origin}/mcp/py"));
        assert_eq!(doc["authorization_servers"], json!([origin]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    // Not a metadata path: nothing is served there without a token.
    let other = client
        .send(
            HttpVersion::H2,
            get("/.well-known/oauth-protected-resourcex"),
        )
        .await;
    assert_eq!(other.status, 404, "{:?}", other.body);
    assert_eq!(
        upstream.requests_seen(),
        seen,
        "metadata never reaches the upstream"
    );
}

/// `portcullis keys create` as JSON: (id, key).
fn create_key(state: &Path, label: &str, role: &str) -> (String, String) {
    let out = portcullis_cli(&[
        "keys",
        "create",
        "--state-dir",
        state.to_str().expect("UTF-8 path"),
        "--label",
        label,
        "--role",
        role,
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("keys create --json");
    (
        v["id"].as_str().expect("an id").to_owned(),
        v["key"].as_str().expect("a key").to_owned(),
    )
}

/// `portcullis keys rotate ID --grace G` as JSON: the new key.
fn rotate_key(state: &Path, id: &str, grace: &str) -> String {
    let out = portcullis_cli(&[
        "keys",
        "rotate",
        id,
        "--grace",
        grace,
        "--state-dir",
        state.to_str().expect("UTF-8 path"),
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("keys rotate --json");
    v["key"].as_str().expect("a key").to_owned()
}

/// The gateway re-reads the API key store at most once a second.
fn wait_for_key_reload() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_embedded_tokens_authenticate_and_dead_keys_do_not() {
    if !require_e2e("api_keys_and_embedded_tokens_authenticate_and_dead_keys_do_not") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let state = gateway.state_dir.clone();
    let client = gateway.anonymous_client();
    let meta = metadata_url("https://127.0.0.1:8443", "py");
    let (_, live) = create_key(&state, "agent-live", "tester");
    let (revoked_id, revoked) = create_key(&state, "agent-revoked", "tester");
    let (short_id, short_old) = create_key(&state, "agent-short", "tester");
    let (long_id, long_old) = create_key(&state, "agent-long", "tester");
    let long_new = rotate_key(&state, &long_id, "1h");
    let out = portcullis_cli(&[
        "keys",
        "create",
        "--state-dir",
        state.to_str().expect("UTF-8 path"),
        "--label",
        "agent-expiring",
        "--role",
        "tester",
        "--ttl",
        "1s",
        "--json",
    ]);
    let expiring: Value = serde_json::from_str(out.trim()).expect("keys create --json");
    let expiring = expiring["key"].as_str().expect("a key").to_owned();
    wait_for_key_reload();

    let (client, upstream, meta) = (&client, &upstream, &meta);
    let accepted = |what: &'static str, credential: String| async move {
        let seen = upstream.requests_seen();
        let response = client
            .send(HttpVersion::H2, init_request("py", &[&bearer(&credential)]))
            .await;
        assert_eq!(response.status, 200, "{what}: {:?}", response.body);
        assert_eq!(
            upstream.requests_seen(),
            seen + 1,
            "{what}: reached the upstream"
        );
    };
    let refused = |what: &'static str, credential: String| async move {
        let seen = upstream.requests_seen();
        let response = client
            .send(HttpVersion::H2, init_request("py", &[&bearer(&credential)]))
            .await;
        assert_refused(what, &response, Refusal::InvalidToken, meta);
        assert_eq!(
            upstream.requests_seen(),
            seen,
            "{what}: reached the upstream"
        );
    };

    accepted("embedded-issuer token", gateway.token.clone()).await;
    accepted("live API key", live.clone()).await;
    accepted("about-to-be-revoked API key", revoked.clone()).await;
    accepted("old key within its rotation grace", long_old.clone()).await;
    accepted("its replacement", long_new.clone()).await;

    // A real key id with another secret; a well-formed key nobody issued.
    let (prefix, _) = live.rsplit_once('_').expect("pcl_<id>_<secret>");
    refused(
        "known id, wrong secret",
        format!("{prefix}_{}", b64([7u8; 32])),
    )
    .await;
    refused(
        "unknown API key",
        format!("pcl_0000000000000000_{}", b64([7u8; 32])),
    )
    .await;
    refused("embedded-issuer token, tampered", {
        let mut t = gateway.token.clone();
        t.pop();
        t.push(if gateway.token.ends_with('A') {
            'Q'
        } else {
            'A'
        });
        t
    })
    .await;

    portcullis_cli(&[
        "keys",
        "revoke",
        &revoked_id,
        "--state-dir",
        state.to_str().expect("UTF-8 path"),
    ]);
    let short_new = rotate_key(&state, &short_id, "1s");
    // Past the one-second grace, and past the gateway's store re-read.
    std::thread::sleep(Duration::from_millis(2500));
    refused("revoked API key", revoked).await;
    refused("old API key after its rotation grace", short_old).await;
    refused("API key past its ttl", expiring).await;
    accepted("the rotated key's replacement", short_new).await;
    accepted("other keys are unaffected", live.clone()).await;

    let listed = portcullis_cli(&[
        "keys",
        "list",
        "--state-dir",
        state.to_str().expect("UTF-8 path"),
        "--json",
    ]);
    let listed: Value = serde_json::from_str(listed.trim()).expect("keys list --json");
    let status_of = |id: &str| {
        listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["id"] == id)
            .map(|k| k["status"].clone())
    };
    assert_eq!(status_of(&revoked_id), Some(json!("revoked")), "{listed}");
    assert!(
        !listed.to_string().contains(prefix),
        "keys list shows no secrets (nor whole keys)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_principal_that_opened_it() {
    if !require_e2e("a_session_belongs_to_the_principal_that_opened_it") {
        return;
    }
    let dir = TempDir::new("replay");
    let key = TestKey::generate("key-a");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks(&[&key])).expect("writing the JWKS");
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start_with(
        &[("py", upstream.url()), ("scoped", upstream.url())],
        "",
        &jwks_file_sections(&jwks_file),
    );
    let (_, api_alice) = create_key(&gateway.state_dir, "alice", "tester");
    wait_for_key_reload();
    let alice = bearer(&key.sign(&claims(ISSUER, RESOURCE, "alice", &["tester"])));
    let mallory = bearer(&key.sign(&claims(ISSUER, RESOURCE, "mallory", &["tester"])));
    let api_alice = bearer(&api_alice);
    let client = gateway.anonymous_client();
    let session = open_session(&client, &alice).await;
    const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

    for version in VERSIONS {
        for (who, authorization) in [
            ("another subject", &mallory),
            ("an API key with the same name as the subject", &api_alice),
        ] {
            let seen = upstream.requests_seen();
            let what = format!("{who} over {version:?}");
            let replay = client
                .send(version, session_request(&session, authorization, LIST))
                .await;
            assert_eq!(replay.status, 404, "{what}: {:?}", replay.body);
            assert_eq!(replay.rpc_error_code(), Some(-32600), "{what}");
            let stream = client
                .send(
                    version,
                    http::Request::get("/mcp/py")
                        .header("accept", "text/event-stream")
                        .header("authorization", authorization.as_str())
                        .header("mcp-session-id", session.as_str())
                        .body(Bytes::new())
                        .expect("a request"),
                )
                .await;
            assert_eq!(stream.status, 404, "{what}: GET stream");
            let delete = client
                .send(
                    version,
                    http::Request::delete("/mcp/py")
                        .header("authorization", authorization.as_str())
                        .header("mcp-session-id", session.as_str())
                        .body(Bytes::new())
                        .expect("a request"),
                )
                .await;
            assert_eq!(delete.status, 404, "{what}: DELETE");
            assert_eq!(
                upstream.requests_seen(),
                seen,
                "{what}: reached the upstream"
            );
        }
        // A session id is not a credential: without one, or with a forged
        // one, the owner's session id gets nothing.
        let mut forged = claims(ISSUER, RESOURCE, "alice", &["tester"]);
        forged["exp"] = json!(now() - 3600);
        for (what, authorization, refusal) in [
            ("no credential", None, Refusal::Missing),
            (
                "an expired token of the owner",
                Some(bearer(&key.sign(&forged))),
                Refusal::InvalidToken,
            ),
            (
                "the owner's subject signed by another key",
                Some(bearer(&TestKey::generate("key-a").sign(&claims(
                    ISSUER,
                    RESOURCE,
                    "alice",
                    &["tester"],
                )))),
                Refusal::InvalidToken,
            ),
        ] {
            let seen = upstream.requests_seen();
            let mut headers = vec![
                ("mcp-session-id", session.as_str()),
                ("mcp-protocol-version", PROTOCOL),
            ];
            if let Some(a) = &authorization {
                headers.push(("authorization", a.as_str()));
            }
            let response = client
                .send(version, mcp_post("/mcp/py", LIST, &headers))
                .await;
            let what = format!("session id with {what} over {version:?}");
            assert_refused(&what, &response, refusal, &metadata_url(ORIGIN, "py"));
            assert_eq!(
                upstream.requests_seen(),
                seen,
                "{what}: reached the upstream"
            );
        }
        // The owner's session is untouched by all that.
        let seen = upstream.requests_seen();
        let own = client
            .send(version, session_request(&session, &alice, LIST))
            .await;
        assert_eq!(own.status, 200, "owner over {version:?}: {:?}", own.body);
        assert!(message(&own)["result"]["tools"].is_array());
        assert_eq!(upstream.requests_seen(), seen + 1);
    }
}

/// The policy for the role tests: `echoer` may use echo and no resource,
/// `reader` may use add and the greeting; `stranger` has nothing.
const ROLE_POLICY: &str = r#"
[policy.roles.echoer.upstreams.py]
tools = ["echo"]
resources = ["portcullis://nothing/*"]

[policy.roles.reader.upstreams.py]
tools = ["add"]
resources = ["portcullis://greeting"]

[policy.roles.other.upstreams.elsewhere]
tools = ["*"]
"#;

fn issue(gateway: &GatewayProcess, sub: &str, role: &str) -> String {
    bearer(
        portcullis_cli(&[
            "token",
            "issue",
            "--state-dir",
            gateway.state_dir.to_str().expect("UTF-8 path"),
            "--sub",
            sub,
            "--role",
            role,
            "--ttl",
            "1h",
        ])
        .trim(),
    )
}

fn names(message: &Value, list: &str, field: &str) -> Vec<String> {
    message["result"][list]
        .as_array()
        .unwrap_or_else(|| panic!("a {list} list: {message}"))
        .iter()
        .filter_map(|t| t[field].as_str().map(str::to_owned))
        .collect()
}

fn assert_denied_by_policy(what: &str, response: &RawResponse, id: i64) {
    assert_eq!(response.status, 200, "{what}: {:?}", response.body);
    let m = message(response);
    assert_eq!(m["error"]["code"], -32002, "{what}: {m}");
    assert_eq!(m["error"]["message"], "denied by policy", "{what}: {m}");
    assert_eq!(m["id"], id, "{what}: answers the request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_tools_and_resources_and_filter_lists() {
    if !require_e2e("roles_limit_tools_and_resources_and_filter_lists") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start_with(
        &[("py", upstream.url()), ("elsewhere", upstream.url())],
        "",
        ROLE_POLICY,
    );
    let client = gateway.anonymous_client();
    let echoer = issue(&gateway, "eve", "echoer");
    let reader = issue(&gateway, "rita", "reader");
    let stranger = issue(&gateway, "sam", "other");

    // No grant on this upstream at all: not even initialize passes.
    let seen = upstream.requests_seen();
    let response = client
        .send(HttpVersion::H2, init_request("py", &[&stranger]))
        .await;
    assert_denied_by_policy("initialize without access", &response, 0);
    assert!(response.header("mcp-session-id").is_none());
    assert_eq!(upstream.requests_seen(), seen);

    let e = open_session(&client, &echoer).await;
    let r = open_session(&client, &reader).await;
    let send = |session: &str, who: &str, body: String| {
        let request = session_request(session, who, &body);
        let client = client.clone();
        async move { client.send(HttpVersion::H2, request).await }
    };

    // Lists are filtered to what the role may use (and the full lists
    // have more: the filter removed something).
    let tools = message(
        &send(
            &e,
            &echoer,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.into(),
        )
        .await,
    );
    assert_eq!(names(&tools, "tools", "name"), ["echo"], "echoer's tools");
    let tools = message(
        &send(
            &r,
            &reader,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.into(),
        )
        .await,
    );
    assert_eq!(names(&tools, "tools", "name"), ["add"], "reader's tools");
    let resources = message(
        &send(
            &e,
            &echoer,
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#.into(),
        )
        .await,
    );
    assert!(
        names(&resources, "resources", "uri").is_empty(),
        "echoer sees no resource: {resources}"
    );
    let resources = message(
        &send(
            &r,
            &reader,
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/list"}"#.into(),
        )
        .await,
    );
    assert_eq!(
        names(&resources, "resources", "uri"),
        ["portcullis://greeting"],
        "reader sees the greeting"
    );

    let call = |id: i64, tool: &str, args: Value| {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}})
            .to_string()
    };
    let read = |id: i64, uri: &str| {
        json!({"jsonrpc":"2.0","id":id,"method":"resources/read","params":{"uri":uri}}).to_string()
    };
    // Outside the role: denied, and never forwarded.
    for (what, session, who, body, id) in [
        (
            "echoer calls add",
            &e,
            &echoer,
            call(3, "add", json!({"a":1,"b":2})),
            3,
        ),
        (
            "reader calls echo",
            &r,
            &reader,
            call(4, "echo", json!({"text":"x"})),
            4,
        ),
        (
            "echoer calls a tool that does not exist",
            &e,
            &echoer,
            call(5, "rm_rf", json!({})),
            5,
        ),
        (
            "echoer reads the greeting",
            &e,
            &echoer,
            read(6, "portcullis://greeting"),
            6,
        ),
        (
            "reader reads another resource",
            &r,
            &reader,
            read(7, "portcullis://secret"),
            7,
        ),
        (
            "echoer sends a method outside its role",
            &e,
            &echoer,
            r#"{"jsonrpc":"2.0","id":8,"method":"completion/complete","params":{}}"#.into(),
            8,
        ),
    ] {
        let seen = upstream.requests_seen();
        let response = send(session, who, body).await;
        assert_denied_by_policy(what, &response, id);
        assert_eq!(
            upstream.requests_seen(),
            seen,
            "{what}: reached the upstream"
        );
    }
    // Inside the role: forwarded and answered.
    let seen = upstream.requests_seen();
    let echoed = message(&send(&e, &echoer, call(9, "echo", json!({"text":"hi"}))).await);
    assert_eq!(echoed["result"]["content"][0]["text"], "hi", "{echoed}");
    let added = message(&send(&r, &reader, call(10, "add", json!({"a":2,"b":3}))).await);
    assert_eq!(added["result"]["content"][0]["text"], "5", "{added}");
    let greeting = message(&send(&r, &reader, read(11, "portcullis://greeting")).await);
    assert_eq!(
        greeting["result"]["contents"][0]["text"], "Hello from the Portcullis e2e server",
        "{greeting}"
    );
    assert_eq!(upstream.requests_seen(), seen + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_never_reach_the_upstream() {
    if !require_e2e("client_credentials_never_reach_the_upstream") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let (_, key) = create_key(&gateway.state_dir, "agent", "tester");
    wait_for_key_reload();
    let client = gateway.anonymous_client();
    const COOKIE: &str = "session=fake-cookie-value; theme=dark";
    for (what, credential) in [("JWT", gateway.bearer()), ("API key", bearer(&key))] {
        let init = client
            .send(
                HttpVersion::H2,
                mcp_post(
                    "/mcp/py",
                    initialize_body(PROTOCOL),
                    &[
                        ("authorization", credential.as_str()),
                        ("cookie", COOKIE),
                        ("proxy-authorization", "Basic cHJveHk6c2VjcmV0"),
                        ("x-forwarded-for", "203.0.113.9"),
                    ],
                ),
            )
            .await;
        assert_eq!(init.status, 200, "{what}: {:?}", init.body);
        let session = init
            .header("mcp-session-id")
            .expect("a session id")
            .to_owned();
        let check = |step: &str| {
            let stats = upstream.stats();
            let headers = stats["last_headers"]
                .as_object()
                .unwrap_or_else(|| panic!("last_headers in {stats}"));
            assert!(
                headers.contains_key("content-type"),
                "{what} {step}: the upstream saw this request: {stats}"
            );
            for name in [
                "authorization",
                "cookie",
                "proxy-authorization",
                "x-forwarded-for",
            ] {
                assert!(
                    !headers.contains_key(name),
                    "{what} {step}: {name} reached the upstream: {stats}"
                );
            }
            let text = serde_json::to_string(headers).expect("JSON");
            assert!(!text.contains("fake-cookie-value"), "{what} {step}: {text}");
            assert!(
                !text.contains(credential.trim_start_matches("Bearer ")),
                "{what} {step}: the credential reached the upstream"
            );
            assert!(
                !text.contains(&session),
                "{what} {step}: the gateway's session id"
            );
            headers
                .get("mcp-session-id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        assert_eq!(check("initialize"), None, "initialize carries no session");
        let list = client
            .send(
                HttpVersion::H2,
                mcp_post(
                    "/mcp/py",
                    r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                    &[
                        ("authorization", credential.as_str()),
                        ("cookie", COOKIE),
                        ("mcp-session-id", session.as_str()),
                        ("mcp-protocol-version", PROTOCOL),
                    ],
                ),
            )
            .await;
        assert_eq!(list.status, 200, "{what}: {:?}", list.body);
        let upstream_session = check("tools/list").expect("the upstream's own session id");
        assert_ne!(upstream_session, session, "{what}: ids are not shared");
    }
}

/// A token for the HTTPS-JWKS gateway, unique per call (`jti`), so the
/// gateway's token cache cannot answer for it.
fn fresh_token(key: &TestKey, n: u32) -> String {
    let mut c = claims(ISSUER, RESOURCE, "alice", &["tester"]);
    c["jti"] = json!(format!("t{n}"));
    bearer(&key.sign(&c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_over_https_follows_key_rotation_and_rate_limits_refreshes() {
    if !require_e2e("jwks_over_https_follows_key_rotation_and_rate_limits_refreshes") {
        return;
    }
    /// Least seconds between refreshes caused by unknown `kid`s.
    const INTERVAL_SECS: u64 = 5;
    let dir = TempDir::new("jwks-https");
    let key_a = TestKey::generate("key-a");
    let key_b = TestKey::generate("key-b");
    let key_c = TestKey::generate("key-c");
    let server = JwksServer::start(jwks(&[&key_a]), &dir.path().join("idp"));
    let upstream = PyServer::start(false);
    let sections = |url: &str, ca: &Path| {
        format!(
            "\n[auth]\nissuer = \"{ISSUER}\"\nresource = \"{RESOURCE}\"\njwks_url = \"{url}\"\njwks_ca_file = \"{}\"\njwks_min_refresh_interval_secs = {INTERVAL_SECS}\n{POLICY}",
            ca.display()
        )
    };
    let gateway = GatewayProcess::start_with(
        &[("py", upstream.url())],
        "",
        &sections(&server.url(), &server.cert),
    );
    let client = gateway.anonymous_client();
    let meta = metadata_url(ORIGIN, "py");
    let accepted = |what: &'static str, authorization: String| {
        let client = client.clone();
        let upstream = &upstream;
        async move {
            let seen = upstream.requests_seen();
            let response = client
                .send(HttpVersion::H2, init_request("py", &[&authorization]))
                .await;
            assert_eq!(response.status, 200, "{what}: {:?}", response.body);
            assert_eq!(upstream.requests_seen(), seen + 1, "{what}");
        }
    };
    let refused = |what: &'static str, authorization: String| {
        let client = client.clone();
        let upstream = &upstream;
        let meta = meta.clone();
        async move {
            let seen = upstream.requests_seen();
            let response = client
                .send(HttpVersion::H2, init_request("py", &[&authorization]))
                .await;
            assert_refused(what, &response, Refusal::InvalidToken, &meta);
            assert_eq!(
                upstream.requests_seen(),
                seen,
                "{what}: reached the upstream"
            );
        }
    };

    assert_eq!(server.hits(), 0, "keys are fetched on first use");
    accepted("key A", fresh_token(&key_a, 1)).await;
    assert_eq!(server.hits(), 1, "the first token fetched the JWKS once");
    accepted("key A again", fresh_token(&key_a, 2)).await;
    assert_eq!(server.hits(), 1, "a known kid needs no fetch");

    // The issuer rotates to key B. Once the refresh interval since the
    // first fetch has passed, B's unknown kid causes exactly one fetch.
    server.set(jwks(&[&key_b]));
    std::thread::sleep(Duration::from_millis(INTERVAL_SECS * 1000 + 500));
    accepted("key B after rotation", fresh_token(&key_b, 3)).await;
    assert_eq!(server.hits(), 2, "B's unknown kid caused one refresh");
    accepted("key B again", fresh_token(&key_b, 4)).await;
    assert_eq!(server.hits(), 2);

    // Within the interval, more unknown kids are refused without fetching:
    // random kids cannot make the gateway hammer the issuer.
    refused("unpublished key C", fresh_token(&key_c, 5)).await;
    refused("retired key A", fresh_token(&key_a, 6)).await;
    refused("unpublished key C again", fresh_token(&key_c, 7)).await;
    assert_eq!(server.hits(), 2, "no refresh within the interval");

    // A gateway that does not trust the JWKS server's certificate gets no
    // keys, and refuses every token (fail secure).
    let other = JwksServer::start(jwks(&[&key_a]), &dir.path().join("other-idp"));
    let distrusting = GatewayProcess::start_with(
        &[("py", upstream.url())],
        "",
        &sections(&server.url(), &other.cert),
    );
    let seen = upstream.requests_seen();
    let response = distrusting
        .anonymous_client()
        .send(
            HttpVersion::H2,
            init_request("py", &[&fresh_token(&key_b, 8)]),
        )
        .await;
    assert_refused(
        "JWKS server not trusted",
        &response,
        Refusal::InvalidToken,
        &meta,
    );
    assert_eq!(upstream.requests_seen(), seen);
    assert_eq!(
        server.hits(),
        2,
        "the TLS handshake failed before any request"
    );
}

#[test]
fn python_sdk_client_with_an_api_key() {
    if !require_e2e("python_sdk_client_with_an_api_key") {
        return;
    }
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start(&[("py", upstream.url())], "");
    let (_, key) = create_key(&gateway.state_dir, "sdk-agent", "tester");
    wait_for_key_reload();
    let cert = gateway.cert.to_str().expect("UTF-8 path").to_owned();
    let header = format!("Authorization:Bearer {key}");
    let out = run_python_client(
        &gateway.url("py"),
        &["--cacert", &cert, "--header", &header],
    );
    let steps: Vec<&str> = out["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for step in [
        "initialize",
        "tools/list",
        "tools/call echo",
        "resources/read",
    ] {
        assert!(steps.contains(&step), "missing step {step}: {steps:?}");
    }
    assert_eq!(out["calls"]["echo"]["text"], "hello portcullis");

    // The same client with a key nobody issued gets nowhere.
    let seen = upstream.requests_seen();
    let bogus = format!(
        "Authorization:Bearer pcl_0000000000000000_{}",
        b64([9u8; 32])
    );
    let run = try_python_client(
        &gateway.url("py"),
        &["--cacert", &cert, "--header", &bogus, "--timeout", "20"],
    );
    let ok = run
        .json
        .as_ref()
        .and_then(|j| j.get("ok"))
        .and_then(Value::as_bool);
    assert_ne!(ok, Some(true), "a bogus key must fail: {:?}", run.json);
    assert_eq!(
        upstream.requests_seen(),
        seen,
        "the bogus key reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_issuer_key_rotation_keeps_old_tokens_and_accepts_new_ones() {
    if !require_e2e("embedded_issuer_key_rotation_keeps_old_tokens_and_accepts_new_ones") {
        return;
    }
    /// Least seconds between refreshes caused by unknown `kid`s.
    const INTERVAL_SECS: u64 = 2;
    let upstream = PyServer::start(false);
    let gateway = GatewayProcess::start_with(
        &[("py", upstream.url())],
        "",
        &format!("\n[auth]\njwks_min_refresh_interval_secs = {INTERVAL_SECS}\n"),
    );
    let client = gateway.anonymous_client();
    let accepted = |what: &'static str, authorization: String| {
        let client = client.clone();
        let upstream = &upstream;
        async move {
            let seen = upstream.requests_seen();
            let response = client
                .send(HttpVersion::H2, init_request("py", &[&authorization]))
                .await;
            assert_eq!(response.status, 200, "{what}: {:?}", response.body);
            assert_eq!(upstream.requests_seen(), seen + 1, "{what}");
        }
    };
    let kid = |token: &str| {
        let header = token.split('.').next().expect("a header segment");
        let header =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .expect("base64url header");
        let header: Value = serde_json::from_slice(&header).expect("a JSON header");
        header["kid"].as_str().expect("a kid").to_owned()
    };
    let unused_old = issue(&gateway, "tester-2", "tester");
    accepted("a token of the first key", gateway.bearer()).await;

    portcullis_cli(&[
        "token",
        "rotate-key",
        "--state-dir",
        gateway.state_dir.to_str().expect("UTF-8 path"),
    ]);
    let new = issue(&gateway, "tester-3", "tester");
    assert_ne!(
        kid(new.trim_start_matches("Bearer ")),
        kid(&gateway.token),
        "rotate-key made a new signing key"
    );
    // Past the refresh interval: the new kid makes the gateway re-read the
    // issuer's keys, which still publish the retired one.
    std::thread::sleep(Duration::from_millis(INTERVAL_SECS * 1000 + 500));
    accepted("a token of the new key", new).await;
    accepted("an unused token of the retired key", unused_old).await;
}
