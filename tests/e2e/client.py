"""An MCP client scenario for Portcullis's end-to-end tests, on the official
Python SDK (`mcp` 2.x, `ClientSession` over `streamable_http_client`).

    python client.py URL [--header K:V]... [--insecure | --cacert PEM] [--http2]
                         [--profile auto|py|everything|demo] [--no-delete]

Runs initialize, tools/list, tools/call (echo, add), resources/list+read,
prompts/list+get, a tool with progress notifications, a sampling round trip,
an elicitation round trip, a tool with structuredContent, then ends the
session with DELETE. Which tools it calls depends on the server (`--profile`,
detected from tools/list by default). Prints ONE JSON object on stdout (shape
in tests/e2e/README.md); exits 1 with `{"ok": false, "error": ...}` on failure.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import traceback
from importlib.metadata import version
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.client.streamable_http import streamable_http_client

SAMPLING_REPLY = "portcullis-e2e sampled reply"

# Tool names and arguments per server kind: (tool, arguments) or None.
PROFILES: dict[str, dict[str, tuple[str, dict[str, Any]] | None]] = {
    "py": {
        "echo": ("echo", {"text": "hello portcullis"}),
        "add": ("add", {"a": 2, "b": 3}),
        "progress": ("slow_count", {"steps": 3}),
        "sampling": ("ask_llm", {"question": "What is 2+2?"}),
        "elicitation": ("confirm", {"question": "Proceed?"}),
        "structured": ("weather", {"city": "Oslo"}),
    },
    "everything": {
        "echo": ("echo", {"message": "hello portcullis"}),
        "add": ("get-sum", {"a": 2, "b": 3}),
        "progress": ("trigger-long-running-operation", {"duration": 0.3, "steps": 3}),
        "sampling": ("trigger-sampling-request", {"prompt": "What is 2+2?", "maxTokens": 16}),
        "elicitation": ("trigger-elicitation-request", {}),
        "structured": ("get-structured-content", {"location": "Chicago"}),
    },
    "demo": {
        "echo": ("echo", {"text": "hello portcullis"}),
        "add": ("add", {"a": 2, "b": 3}),
        "progress": None,
        "sampling": None,
        "elicitation": None,
        "structured": None,
    },
}


def detect_profile(tool_names: list[str]) -> str:
    if "slow_count" in tool_names:
        return "py"
    if "get-sum" in tool_names:
        return "everything"
    return "demo"


def fill(schema: dict[str, Any]) -> Any:
    """A value satisfying a (flat, elicitation-style) JSON Schema property."""
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "oneOf" in schema:
        return schema["oneOf"][0].get("const")
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        items = schema.get("items", {})
        return [fill(items.get("anyOf", [items])[0] if "anyOf" in items else items)]
    fmt = schema.get("format")
    return {
        "email": "e2e@example.invalid",
        "uri": "https://example.invalid/",
        "date": "2000-01-01",
        "date-time": "2000-01-01T00:00:00Z",
    }.get(fmt, "e2e")


def text_of(content: list[Any]) -> str:
    return "\n".join(c.text for c in content if isinstance(c, types.TextContent))


def dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


class Observed:
    """What the scenario saw; becomes the JSON output."""

    def __init__(self) -> None:
        self.out: dict[str, Any] = {
            "ok": False,
            "client": "python",
            "sdk": f"mcp {version('mcp')}",
            "steps": [],
            "http": [],
            "progress": [],
            "sampling_requests": [],
            "elicitation_requests": [],
            "logs": [],
            "skipped": [],
            "input_required_rounds": 0,
        }
        self.sampling: Any = None
        self.elicitation: Any = None

    def step(self, name: str) -> None:
        self.out["steps"].append(name)


async def run(args: argparse.Namespace, obs: Observed) -> None:
    out = obs.out
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}

    async def on_response(response: httpx2.Response) -> None:
        out["http"].append(
            {
                "method": response.request.method,
                "status": response.status_code,
                "content_type": response.headers.get("content-type", ""),
                "http_version": response.http_version,
                "session_id": response.headers.get("mcp-session-id"),
            }
        )

    verify: ssl.SSLContext | bool = True
    if args.insecure:
        verify = False
    elif args.cacert:
        verify = ssl.create_default_context(cafile=args.cacert)

    async def sampling(ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        first = params.messages[0].content if params.messages else None
        asked = first.text if isinstance(first, types.TextContent) else ""
        out["sampling_requests"].append({"max_tokens": params.max_tokens, "text": asked})
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLING_REPLY),
            model="portcullis-e2e-model",
            stop_reason="endTurn",
        )

    async def elicitation(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        schema = getattr(params, "requested_schema", None) or {}
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        content = {name: fill(prop) for name, prop in props.items()}
        out["elicitation_requests"].append({"message": params.message, "fields": sorted(props)})
        return types.ElicitResult(action="accept", content=content)

    async def logging(params: types.LoggingMessageNotificationParams) -> None:
        out["logs"].append({"level": params.level, "data": params.data})

    obs.sampling = sampling
    obs.elicitation = elicitation

    http_client = httpx2.AsyncClient(
        headers=headers,
        verify=verify,
        http2=args.http2,
        timeout=httpx2.Timeout(30.0, read=60.0),
        event_hooks={"response": [on_response]},
    )
    async with http_client:
        async with streamable_http_client(
            args.url, http_client=http_client, terminate_on_close=not args.no_delete
        ) as (read, write):
            async with ClientSession(
                read,
                write,
                read_timeout_seconds=30.0,
                sampling_callback=sampling,
                elicitation_callback=elicitation,
                logging_callback=logging,
                client_info=types.Implementation(name="portcullis-e2e-python", version="1.0.0"),
            ) as session:
                await scenario(session, args, obs)
            # Leaving streamable_http_client sends DELETE (unless --no-delete).
    deletes = [h for h in out["http"] if h["method"] == "DELETE"]
    out["delete_status"] = deletes[-1]["status"] if deletes else None
    out["ok"] = True


async def scenario(session: ClientSession, args: argparse.Namespace, obs: Observed) -> None:
    out = obs.out
    if args.modern:
        # 2026-07-28: stateless, `server/discover` instead of the initialize handshake.
        init = await session.discover()
        obs.step("server/discover")
        out["protocol_version"] = session.protocol_version
        info = session.server_info
    else:
        init = await session.initialize()
        obs.step("initialize")
        out["protocol_version"] = init.protocol_version
        info = init.server_info
    out["server_info"] = {"name": info.name, "version": info.version} if info else None
    out["capabilities"] = sorted(k for k, v in dump(init.capabilities).items() if v is not None)
    out["session_id"] = next((h["session_id"] for h in out["http"] if h["session_id"]), None)

    tools = await session.list_tools()
    obs.step("tools/list")
    names = [t.name for t in tools.tools]
    out["tools"] = names
    out["tool_descriptions"] = {t.name: t.description for t in tools.tools}
    profile_name = args.profile if args.profile != "auto" else detect_profile(names)
    out["profile"] = profile_name
    profile = PROFILES[profile_name]

    calls: dict[str, Any] = {}
    out["calls"] = calls
    for kind in ("echo", "add", "structured", "progress", "sampling", "elicitation"):
        spec = profile[kind]
        if spec is None:
            continue
        tool, arguments = spec
        if tool not in names:
            raise RuntimeError(f"server does not list tool {tool!r} (has {names})")

        async def progress(p: float, total: float | None, message: str | None) -> None:
            out["progress"].append({"progress": p, "total": total, "message": message})

        result = await session.call_tool(
            tool,
            arguments,
            progress_callback=progress if kind == "progress" else None,
            allow_input_required=True,
        )
        obs.step(f"tools/call {tool}")
        result = await answer_input_required(session, obs, tool, arguments, result)
        calls[kind] = {
            "tool": tool,
            "is_error": bool(result.is_error),
            "text": text_of(result.content),
            "structured": result.structured_content,
        }
        if result.is_error:
            raise RuntimeError(f"tool {tool} returned an error: {text_of(result.content)}")

    if init.capabilities.resources is not None:
        resources = await session.list_resources()
        obs.step("resources/list")
        out["resources"] = [str(r.uri) for r in resources.resources]
        if resources.resources:
            uri = str(resources.resources[0].uri)
            read = await session.read_resource(uri)
            obs.step("resources/read")
            texts = [c.text for c in read.contents if isinstance(c, types.TextResourceContents)]
            out["resource_read"] = {"uri": uri, "contents": len(read.contents), "text": "\n".join(texts)}

    if init.capabilities.prompts is not None:
        prompts = await session.list_prompts()
        obs.step("prompts/list")
        out["prompts"] = [p.name for p in prompts.prompts]
        if prompts.prompts:
            # Prefer a prompt without required arguments; fill required ones otherwise.
            prompts_sorted = sorted(
                prompts.prompts, key=lambda p: sum(1 for a in (p.arguments or []) if a.required)
            )
            prompt = prompts_sorted[0]
            arguments = {a.name: "print('hi')" for a in (prompt.arguments or []) if a.required}
            got = await session.get_prompt(prompt.name, arguments)
            obs.step("prompts/get")
            out["prompt_get"] = {
                "name": prompt.name,
                "messages": [
                    {"role": m.role, "text": m.content.text if isinstance(m.content, types.TextContent) else None}
                    for m in got.messages
                ],
            }

    if args.modern:
        out["skipped"].append("ping")  # not a 2026-07-28 method
    else:
        await session.send_ping()
        obs.step("ping")


async def answer_input_required(
    session: ClientSession, obs: Observed, tool: str, arguments: dict[str, Any], result: Any
) -> types.CallToolResult:
    """2026-07-28 multi-round trip: answer an InputRequiredResult's requests
    with the same callbacks the legacy back-channel uses, then retry."""
    for _ in range(5):
        if not isinstance(result, types.InputRequiredResult):
            return result
        obs.out["input_required_rounds"] += 1
        responses: dict[str, Any] = {}
        for key, request in (result.input_requests or {}).items():
            if request.method == "sampling/createMessage":
                responses[key] = await obs.sampling(None, request.params)
            elif request.method == "elicitation/create":
                responses[key] = await obs.elicitation(None, request.params)
            else:
                raise RuntimeError(f"unexpected input request {request.method}")
        result = await session.call_tool(
            tool,
            arguments,
            input_responses=responses,
            request_state=result.request_state,
            allow_input_required=True,
        )
        obs.step(f"tools/call {tool} (retry with input responses)")
    raise RuntimeError(f"{tool}: still input-required after 5 rounds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[], help="extra HTTP header K:V (repeatable)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    parser.add_argument("--cacert", help="PEM file of the CA (or self-signed cert) to trust")
    parser.add_argument("--http2", action="store_true", help="offer HTTP/2 (ALPN h2) over TLS")
    parser.add_argument("--profile", default="auto", choices=["auto", *PROFILES])
    parser.add_argument("--modern", action="store_true", help="speak 2026-07-28 (server/discover, stateless)")
    parser.add_argument("--no-delete", action="store_true", help="do not end the session with DELETE")
    parser.add_argument("--timeout", type=float, default=60.0, help="whole-scenario deadline, seconds")
    args = parser.parse_args()
    for h in args.header:
        if ":" not in h:
            parser.error(f"--header wants K:V, got {h!r}")

    obs = Observed()

    async def bounded() -> None:
        with anyio.fail_after(args.timeout):
            await run(args, obs)

    try:
        anyio.run(bounded)
    except BaseException as exc:  # noqa: BLE001 - report every failure as JSON
        obs.out["ok"] = False
        obs.out["error"] = describe(exc)
        print(json.dumps(obs.out))
        print(f"client.py: scenario failed: {obs.out['error']}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 1
    print(json.dumps(obs.out))
    return 0


def describe(exc: BaseException) -> str:
    """Flattens exception groups (anyio task groups) into one line."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    if isinstance(exc, TimeoutError):
        return "scenario timed out"
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    sys.exit(main())
