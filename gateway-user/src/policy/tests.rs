//! Policy tests: default deny, role scoping, explicit denies, scopes,
//! list filtering and config errors.

use serde_json::json;

use super::*;
use crate::auth::{Principal, PrincipalKind};

const POLICY: &str = r#"
[roles.reader.upstreams.files]
tools = ["read_*", "list_dir"]
resources = ["file:///srv/docs/*"]
prompts = ["summarize"]
deny_tools = ["read_secret*"]

[roles.auditor.upstreams.files]
tools = ["read_secret_index"]
deny_resources = ["file:///srv/docs/private/*"]

[roles.ops.upstreams."*"]
tools = ["status"]
methods = ["logging/setLevel"]

[roles.scoped.upstreams.billing]
tools = ["*"]

[upstreams.billing]
required_scopes = ["mcp:billing"]
"#;

fn policy() -> Policy {
    let config: PolicyConfig = toml::from_str(POLICY).expect("test policy parses");
    Policy::from_config(&config).expect("test policy compiles")
}

fn who(roles: &[&str], scopes: &[&str]) -> Principal {
    Principal {
        subject: "agent-1".into(),
        kind: PrincipalKind::Jwt,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
    }
}

const DENY_RULE: Decision = Decision::Deny(DenyReason::NoMatchingRule);
const DENY_EXPLICIT: Decision = Decision::Deny(DenyReason::ExplicitDeny);
const DENY_UPSTREAM: Decision = Decision::Deny(DenyReason::NoAccessToUpstream);

#[test]
fn empty_policy_and_unknown_roles_deny_everything() {
    let empty = Policy::default();
    let reader = who(&["reader"], &[]);
    for action in [
        Action::CallTool("read_file"),
        Action::Method("initialize"),
        Action::ListTools,
    ] {
        assert_eq!(empty.authorize(&reader, "files", action), DENY_UPSTREAM);
    }
    let p = policy();
    let nobody = who(&[], &[]);
    assert_eq!(
        p.authorize(&nobody, "files", Action::Method("ping")),
        DENY_UPSTREAM
    );
    assert_eq!(
        p.authorize(&who(&["Reader"], &[]), "files", Action::ListTools),
        DENY_UPSTREAM
    );
    assert_eq!(
        p.authorize(&reader, "other", Action::CallTool("read_file")),
        DENY_UPSTREAM
    );
}

#[test]
fn tool_outside_the_role_is_denied() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    assert_eq!(
        p.authorize(&reader, "files", Action::CallTool("read_file")),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&reader, "files", Action::CallTool("list_dir")),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&reader, "files", Action::CallTool("write_file")),
        DENY_RULE
    );
    assert_eq!(
        p.authorize(&reader, "files", Action::CallTool("list_dirs")),
        DENY_RULE
    );
}

#[test]
fn resource_and_prompt_outside_the_role_are_denied() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    let read = |uri| p.authorize(&reader, "files", Action::ReadResource(uri));
    assert_eq!(read("file:///srv/docs/a/b.md"), Decision::Allow);
    assert_eq!(read("file:///etc/passwd"), DENY_RULE);
    assert_eq!(read("file:///srv/docsX"), DENY_RULE);
    assert_eq!(
        p.authorize(&reader, "files", Action::GetPrompt("summarize")),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&reader, "files", Action::GetPrompt("exfiltrate")),
        DENY_RULE
    );
}

#[test]
fn explicit_deny_beats_allow_within_and_across_roles() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    assert_eq!(
        p.authorize(&reader, "files", Action::CallTool("read_secret_keys")),
        DENY_EXPLICIT
    );
    // auditor allows read_secret_index, but reader's deny wins for a principal with both.
    let auditor = who(&["auditor"], &[]);
    assert_eq!(
        p.authorize(&auditor, "files", Action::CallTool("read_secret_index")),
        Decision::Allow
    );
    let both = who(&["reader", "auditor"], &[]);
    assert_eq!(
        p.authorize(&both, "files", Action::CallTool("read_secret_index")),
        DENY_EXPLICIT
    );
    // auditor's resource deny removes what reader allows.
    let uri = "file:///srv/docs/private/plan.md";
    assert_eq!(
        p.authorize(&reader, "files", Action::ReadResource(uri)),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&both, "files", Action::ReadResource(uri)),
        DENY_EXPLICIT
    );
}

#[test]
fn lifecycle_methods_need_some_access_and_others_need_a_rule() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    for m in ["initialize", "ping", "notifications/initialized"] {
        assert_eq!(
            p.authorize(&reader, "files", Action::Method(m)),
            Decision::Allow,
            "{m}"
        );
    }
    let denied = Decision::Deny(DenyReason::MethodNotAllowed);
    assert_eq!(
        p.authorize(&reader, "files", Action::Method("logging/setLevel")),
        denied
    );
    assert_eq!(
        p.authorize(&reader, "files", Action::Method("completion/complete")),
        denied
    );
    let ops = who(&["ops"], &[]);
    // The `*` upstream applies everywhere.
    assert_eq!(
        p.authorize(&ops, "anything", Action::Method("logging/setLevel")),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&ops, "files", Action::CallTool("status")),
        Decision::Allow
    );
    assert_eq!(
        p.authorize(&ops, "files", Action::CallTool("read_file")),
        DENY_RULE
    );
}

#[test]
fn missing_required_scope_is_insufficient_scope() {
    let p = policy();
    let no_scope = who(&["scoped"], &["mcp:other"]);
    assert_eq!(
        p.authorize(&no_scope, "billing", Action::CallTool("charge")),
        Decision::InsufficientScope(vec!["mcp:billing".into()])
    );
    let scoped = who(&["scoped"], &["mcp:billing"]);
    assert_eq!(
        p.authorize(&scoped, "billing", Action::CallTool("charge")),
        Decision::Allow
    );
    assert_eq!(p.required_scopes("billing"), ["mcp:billing".to_string()]);
    assert!(p.required_scopes("files").is_empty());
}

#[test]
fn list_responses_are_filtered() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    let mut tools = json!({"tools": [
        {"name": "read_file", "inputSchema": {}},
        {"name": "write_file"},
        {"name": "read_secret_keys"},
        {"title": "no name"},
        "not an object",
        {"name": "list_dir"},
    ], "nextCursor": "c1"});
    assert_eq!(p.filter_tools_list(&reader, "files", &mut tools), Ok(4));
    assert_eq!(
        tools,
        json!({"tools": [{"name": "read_file", "inputSchema": {}}, {"name": "list_dir"}], "nextCursor": "c1"})
    );

    let mut resources = json!({"resources": [
        {"uri": "file:///srv/docs/a.md"}, {"uri": "file:///etc/shadow"}
    ]});
    assert_eq!(
        p.filter_resources_list(&reader, "files", &mut resources),
        Ok(1)
    );
    assert_eq!(
        resources["resources"],
        json!([{"uri": "file:///srv/docs/a.md"}])
    );

    let mut templates = json!({"resourceTemplates": [
        {"uriTemplate": "file:///srv/docs/{name}"}, {"uriTemplate": "file:///{path}"}
    ]});
    assert_eq!(
        p.filter_resource_templates_list(&reader, "files", &mut templates),
        Ok(1)
    );
    assert_eq!(
        templates["resourceTemplates"],
        json!([{"uriTemplate": "file:///srv/docs/{name}"}])
    );

    let mut prompts = json!({"prompts": [{"name": "summarize"}, {"name": "jailbreak"}]});
    assert_eq!(p.filter_prompts_list(&reader, "files", &mut prompts), Ok(1));
    assert_eq!(prompts["prompts"], json!([{"name": "summarize"}]));
}

#[test]
fn lists_are_empty_without_access_or_scope() {
    let p = policy();
    let mut tools = json!({"tools": [{"name": "read_file"}, {"name": "charge"}]});
    assert_eq!(
        p.filter_tools_list(&who(&["reader"], &[]), "billing", &mut tools),
        Ok(2)
    );
    assert_eq!(tools["tools"], json!([]));
    let mut tools = json!({"tools": [{"name": "charge"}]});
    assert_eq!(
        p.filter_tools_list(&who(&["scoped"], &[]), "billing", &mut tools),
        Ok(1)
    );
}

#[test]
fn malformed_list_results_are_errors() {
    let p = policy();
    let reader = who(&["reader"], &[]);
    let mut bad = json!({"tools": {"name": "read_file"}});
    assert_eq!(
        p.filter_tools_list(&reader, "files", &mut bad),
        Err(FilterError("tools"))
    );
    let mut bad = json!(["read_file"]);
    assert_eq!(
        p.filter_prompts_list(&reader, "files", &mut bad),
        Err(FilterError("prompts"))
    );
}

#[test]
fn messages_are_classified_and_targetless_calls_refused() {
    let params = json!({"name": "read_file", "arguments": {}});
    assert_eq!(
        Action::classify("tools/call", Some(&params)),
        Ok(Action::CallTool("read_file"))
    );
    let uri = json!({"uri": "file:///srv/docs/a"});
    assert_eq!(
        Action::classify("resources/subscribe", Some(&uri)),
        Ok(Action::ReadResource("file:///srv/docs/a"))
    );
    assert_eq!(Action::classify("tools/list", None), Ok(Action::ListTools));
    assert_eq!(Action::classify("ping", None), Ok(Action::Method("ping")));
    let err = Action::classify("tools/call", Some(&json!({"name": 7}))).expect_err("no name");
    assert_eq!(err.to_string(), "`tools/call` needs a string `params.name`");
    assert!(Action::classify("prompts/get", None).is_err());
}

#[test]
fn denial_text_never_says_not_found() {
    assert_eq!(DENIED_BY_POLICY, "denied by policy");
}

#[test]
fn bad_policy_config_is_refused_with_the_field() {
    let unknown: Result<PolicyConfig, _> =
        toml::from_str("[roles.reader.upstreams.files]\ntool = [\"read_file\"]");
    let err = unknown.expect_err("unknown field must fail").to_string();
    assert!(err.contains("unknown field `tool`"), "{err}");

    let bad_glob: PolicyConfig =
        toml::from_str("[roles.reader.upstreams.files]\ntools = [\"ok\", \"\"]").expect("parses");
    let err = Policy::from_config(&bad_glob).expect_err("empty glob must fail");
    assert_eq!(err.field, "policy.roles.reader.upstreams.files.tools[1]");
    assert_eq!(err.message, "empty pattern");

    let bad_role: PolicyConfig =
        toml::from_str("[roles.\"two words\".upstreams.files]\ntools = [\"x\"]").expect("parses");
    let err = Policy::from_config(&bad_role).expect_err("bad role name");
    assert_eq!(err.field, "policy.roles.two words");
}
