use std::fs;

use clap::Parser;
use serde_json::{Value, json};

use super::*;
use crate::cli::{Cli, Command};

fn parse(args: &[&str]) -> Result<ToolsArgs, clap::Error> {
    let argv = std::iter::once("portcullis").chain(args.iter().copied());
    match Cli::try_parse_from(argv)?.command {
        Command::Tools(t) => Ok(t),
        other => panic!("parsed as another command: {other:?}"),
    }
}

fn tool(name: &str, description: &str) -> Value {
    json!({"name": name, "description": description, "inputSchema": {"type": "object"}})
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("portcullis-cli-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn approve_needs_an_upstream_and_exactly_one_selector() {
    for bad in [
        &["tools", "approve", "--upstream", "up"][..],
        &[
            "tools",
            "approve",
            "--upstream",
            "up",
            "--tool",
            "a",
            "--all",
        ],
        &["tools", "approve", "--all"],
        &["tools", "frobnicate"],
        &["tools", "list", "--bogus"],
    ] {
        let err = parse(bad).expect_err("must be refused");
        assert_ne!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{bad:?}");
    }
    let ok = parse(&[
        "tools",
        "approve",
        "--upstream",
        "up",
        "--tool",
        "a",
        "--state-dir",
        "/tmp/x",
    ])
    .expect("valid");
    assert_eq!(ok.state_dir, PathBuf::from("/tmp/x"));
    match ok.command {
        ToolsCommand::Approve(a) => assert_eq!(
            (a.upstream.as_str(), a.tool.as_deref(), a.all),
            ("up", Some("a"), false)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn state_dir_defaults_to_var_lib() {
    // The environment may set PORTCULLIS_STATE_DIR; only check the default when it does not.
    if std::env::var_os("PORTCULLIS_STATE_DIR").is_none() {
        let a = parse(&["tools", "list"]).expect("valid");
        assert_eq!(a.state_dir, PathBuf::from("/var/lib/portcullis"));
    }
}

#[test]
fn list_diff_approve_against_a_state_file() {
    let dir = TempDir::new("flow");
    let path = PinStore::state_file(&dir.0);
    let mut gateway = PinStore::new();
    gateway.observe_tools_list("up", &[tool("search", "Search.")], 10);
    gateway.observe_tools_list(
        "up",
        &[
            tool("search", "Search \u{1b}[31m more."),
            tool("exec", "Run."),
        ],
        20,
    );
    gateway.save(&path).expect("save");

    let store = PinStore::load(&path).expect("load");
    let text = list(&store, None, false).expect("list");
    assert!(text.contains("upstream up: 1 pinned, 2 pending"), "{text}");
    assert!(text.contains("held") && text.contains("new"), "{text}");
    let err = list(&store, Some("nope"), false).expect_err("unknown upstream");
    assert!(
        err.to_string()
            .contains("no pinned tools for upstream `nope`")
    );

    let text = diff(&store, Some("up"), Some("search"), false).expect("diff");
    assert!(
        text.contains("changed tool `search`") && text.contains("field description"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "terminal escapes are escaped: {text}"
    );
    let rows: Value =
        serde_json::from_str(&diff(&store, None, None, true).expect("json")).expect("valid json");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));

    let one = ApproveArgs {
        upstream: "up".into(),
        tool: Some("exec".into()),
        all: false,
    };
    assert!(
        approve(&path, &one, false)
            .expect("approve")
            .contains("approved new tool `exec`")
    );
    let again = approve(&path, &one, false).expect_err("already approved");
    assert!(
        format!("{again:#}").contains("has no pending change"),
        "{again:#}"
    );
    let all = ApproveArgs {
        upstream: "up".into(),
        tool: None,
        all: true,
    };
    assert!(
        approve(&path, &all, false)
            .expect("approve")
            .contains("approved changed tool `search`")
    );
    assert_eq!(
        approve(&path, &all, false).expect("approve"),
        "nothing to approve\n"
    );

    let mut reloaded = gateway.clone();
    reloaded.reload(&path).expect("reload");
    assert!(reloaded.is_callable("up", "exec") && reloaded.is_callable("up", "search"));
}

#[test]
fn missing_or_corrupt_state_is_an_error() {
    let dir = TempDir::new("missing");
    let path = PinStore::state_file(&dir.0);
    let all = ApproveArgs {
        upstream: "up".into(),
        tool: None,
        all: true,
    };
    let err = approve(&path, &all, false).expect_err("missing");
    assert!(err.to_string().contains("no pin state file"), "{err}");
    assert!(!path.exists(), "approve must not create a state file");
    assert!(load(&path).is_err());
    fs::write(&path, "garbage").expect("write");
    let err = approve(&path, &all, false).expect_err("corrupt");
    assert!(format!("{err:#}").contains("corrupt"), "{err:#}");
    assert_eq!(fs::read_to_string(&path).expect("read"), "garbage");
}
