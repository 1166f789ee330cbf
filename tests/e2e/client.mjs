// An MCP client scenario for Portcullis's end-to-end tests, on the official
// TypeScript SDK: v1 (@modelcontextprotocol/sdk, the default) or v2
// (@modelcontextprotocol/client, `--sdk v2`, which also speaks 2026-07-28
// with `--modern`), over StreamableHTTPClientTransport.
//
//   node client.mjs URL [--header K:V]... [--insecure | --cacert PEM]
//                       [--sdk v1|v2] [--modern] [--profile auto|py|everything|demo]
//                       [--no-delete] [--timeout S]
//
// The same scenario and the same JSON output shape as client.py (see
// tests/e2e/README.md): one JSON object on stdout, exit 1 with
// {"ok": false, "error": ...} on failure. HTTP/1.1 only (Node's fetch).

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

// The two SDK lines differ in where things live and in how handlers are keyed.
async function loadSdk(line) {
  if (line === "v2") {
    const m = await import("@modelcontextprotocol/client");
    return {
      pkg: "@modelcontextprotocol/client",
      Client: m.Client,
      Transport: m.StreamableHTTPClientTransport,
      onRequest: (client, method, handler) => client.setRequestHandler(method, handler),
      onNotification: (client, method, handler) => client.setNotificationHandler(method, handler),
      callTool: (client, params, options) => client.callTool(params, options),
      protocolVersion: (client) => client.getNegotiatedProtocolVersion(),
    };
  }
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const types = await import("@modelcontextprotocol/sdk/types.js");
  const schemas = {
    "sampling/createMessage": types.CreateMessageRequestSchema,
    "elicitation/create": types.ElicitRequestSchema,
    "notifications/message": types.LoggingMessageNotificationSchema,
  };
  return {
    pkg: "@modelcontextprotocol/sdk",
    Client,
    Transport: StreamableHTTPClientTransport,
    onRequest: (client, method, handler) => client.setRequestHandler(schemas[method], handler),
    onNotification: (client, method, handler) => client.setNotificationHandler(schemas[method], handler),
    callTool: (client, params, options) => client.callTool(params, undefined, options),
    protocolVersion: (_client, transport) => transport.protocolVersion,
  };
}

const SAMPLING_REPLY = "portcullis-e2e sampled reply";

const PROFILES = {
  py: {
    echo: ["echo", { text: "hello portcullis" }],
    add: ["add", { a: 2, b: 3 }],
    structured: ["weather", { city: "Oslo" }],
    progress: ["slow_count", { steps: 3 }],
    sampling: ["ask_llm", { question: "What is 2+2?" }],
    elicitation: ["confirm", { question: "Proceed?" }],
  },
  everything: {
    echo: ["echo", { message: "hello portcullis" }],
    add: ["get-sum", { a: 2, b: 3 }],
    structured: ["get-structured-content", { location: "Chicago" }],
    progress: ["trigger-long-running-operation", { duration: 0.3, steps: 3 }],
    sampling: ["trigger-sampling-request", { prompt: "What is 2+2?", maxTokens: 16 }],
    elicitation: ["trigger-elicitation-request", {}],
  },
  demo: {
    echo: ["echo", { text: "hello portcullis" }],
    add: ["add", { a: 2, b: 3 }],
  },
};

function usage(message) {
  process.stderr.write(
    `client.mjs: ${message}\nusage: node client.mjs URL [--header K:V]... [--insecure | --cacert PEM] [--sdk v1|v2] [--modern] [--profile P] [--no-delete] [--timeout S]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = { url: null, headers: {}, insecure: false, cacert: null, profile: "auto", noDelete: false, timeout: 60, sdk: "v1", modern: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === "--header") {
      const h = next();
      const at = h.indexOf(":");
      if (at <= 0) usage(`--header wants K:V, got ${JSON.stringify(h)}`);
      args.headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
    } else if (a === "--insecure") args.insecure = true;
    else if (a === "--cacert") args.cacert = next();
    else if (a === "--profile") args.profile = next();
    else if (a === "--no-delete") args.noDelete = true;
    else if (a === "--sdk") args.sdk = next();
    else if (a === "--modern") args.modern = true;
    else if (a === "--timeout") args.timeout = Number(next());
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else if (args.url === null) args.url = a;
    else usage(`unexpected argument ${a}`);
  }
  if (args.url === null) usage("URL is required");
  if (args.profile !== "auto" && !(args.profile in PROFILES)) usage(`unknown profile ${args.profile}`);
  if (args.sdk !== "v1" && args.sdk !== "v2") usage(`--sdk wants v1 or v2, got ${args.sdk}`);
  if (args.modern && args.sdk !== "v2") usage("--modern needs --sdk v2 (the v1 SDK speaks 2025-11-25 at most)");
  return args;
}

function detectProfile(names) {
  if (names.includes("slow_count")) return "py";
  if (names.includes("get-sum")) return "everything";
  return "demo";
}

function fill(schema) {
  if ("default" in schema) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.oneOf)) return schema.oneOf[0].const;
  switch (schema.type) {
    case "boolean":
      return true;
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "array": {
      const items = schema.items ?? {};
      return [fill(Array.isArray(items.anyOf) ? items.anyOf[0] : items)];
    }
    default:
      return (
        { email: "e2e@example.invalid", uri: "https://example.invalid/", date: "2000-01-01", "date-time": "2000-01-01T00:00:00Z" }[
          schema.format
        ] ?? "e2e"
      );
  }
}

const textOf = (content) => (content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");

async function scenario(args, out, sdk) {
  // Record every HTTP exchange the SDK makes, like client.py's response hook.
  const recordingFetch = async (url, init) => {
    const response = await fetch(url, init);
    out.http.push({
      method: (init?.method ?? "GET").toUpperCase(),
      status: response.status,
      content_type: response.headers.get("content-type") ?? "",
      http_version: "HTTP/1.1",
      session_id: response.headers.get("mcp-session-id"),
    });
    return response;
  };
  const transport = new sdk.Transport(new URL(args.url), {
    requestInit: { headers: args.headers },
    fetch: recordingFetch,
  });
  const clientOptions = { capabilities: { sampling: {}, elicitation: { form: {} } } };
  if (args.modern) clientOptions.versionNegotiation = { mode: { pin: "2026-07-28" } };
  const client = new sdk.Client({ name: "portcullis-e2e-typescript", version: "1.0.0" }, clientOptions);
  sdk.onRequest(client, "sampling/createMessage", async (request) => {
    const first = request.params.messages[0]?.content;
    out.sampling_requests.push({ max_tokens: request.params.maxTokens, text: first?.type === "text" ? first.text : "" });
    return { role: "assistant", content: { type: "text", text: SAMPLING_REPLY }, model: "portcullis-e2e-model", stopReason: "endTurn" };
  });
  sdk.onRequest(client, "elicitation/create", async (request) => {
    const props = request.params.requestedSchema?.properties ?? {};
    const content = Object.fromEntries(Object.entries(props).map(([name, prop]) => [name, fill(prop)]));
    out.elicitation_requests.push({ message: request.params.message, fields: Object.keys(props).sort() });
    return { action: "accept", content };
  });
  sdk.onNotification(client, "notifications/message", async (n) => {
    out.logs.push({ level: n.params.level, data: n.params.data });
  });

  await client.connect(transport);
  out.steps.push(args.modern ? "server/discover" : "initialize");
  out.protocol_version = sdk.protocolVersion(client, transport) ?? null;
  const info = client.getServerVersion();
  out.server_info = { name: info?.name, version: info?.version };
  const caps = client.getServerCapabilities() ?? {};
  out.capabilities = Object.keys(caps).filter((k) => caps[k] != null).sort();
  out.session_id = transport.sessionId ?? null;

  const tools = await client.listTools();
  out.steps.push("tools/list");
  const names = tools.tools.map((t) => t.name);
  out.tools = names;
  out.tool_descriptions = Object.fromEntries(tools.tools.map((t) => [t.name, t.description ?? null]));
  const profileName = args.profile === "auto" ? detectProfile(names) : args.profile;
  out.profile = profileName;
  const profile = PROFILES[profileName];

  out.calls = {};
  for (const kind of ["echo", "add", "structured", "progress", "sampling", "elicitation"]) {
    const spec = profile[kind];
    if (!spec) continue;
    const [tool, toolArgs] = spec;
    if (!names.includes(tool)) throw new Error(`server does not list tool ${tool} (has ${names.join(", ")})`);
    const options = { timeout: 30000 };
    if (kind === "progress") {
      options.onprogress = (p) => out.progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null });
    }
    const result = await sdk.callTool(client, { name: tool, arguments: toolArgs }, options);
    out.steps.push(`tools/call ${tool}`);
    out.calls[kind] = { tool, is_error: Boolean(result.isError), text: textOf(result.content), structured: result.structuredContent ?? null };
    if (result.isError) throw new Error(`tool ${tool} returned an error: ${textOf(result.content)}`);
  }

  if (caps.resources) {
    const resources = await client.listResources();
    out.steps.push("resources/list");
    out.resources = resources.resources.map((r) => r.uri);
    if (resources.resources.length > 0) {
      const uri = resources.resources[0].uri;
      const read = await client.readResource({ uri });
      out.steps.push("resources/read");
      const text = read.contents.filter((c) => typeof c.text === "string").map((c) => c.text).join("\n");
      out.resource_read = { uri, contents: read.contents.length, text };
    }
  }

  if (caps.prompts) {
    const prompts = await client.listPrompts();
    out.steps.push("prompts/list");
    out.prompts = prompts.prompts.map((p) => p.name);
    if (prompts.prompts.length > 0) {
      const required = (p) => (p.arguments ?? []).filter((a) => a.required);
      const prompt = [...prompts.prompts].sort((x, y) => required(x).length - required(y).length)[0];
      const promptArgs = Object.fromEntries(required(prompt).map((a) => [a.name, "print('hi')"]));
      const got = await client.getPrompt({ name: prompt.name, arguments: promptArgs });
      out.steps.push("prompts/get");
      out.prompt_get = {
        name: prompt.name,
        messages: got.messages.map((m) => ({ role: m.role, text: m.content?.type === "text" ? m.content.text : null })),
      };
    }
  }

  if (args.modern) {
    out.skipped.push("ping"); // not a 2026-07-28 method
  } else {
    await client.ping();
    out.steps.push("ping");
  }

  if (!args.noDelete && transport.sessionId) {
    await transport.terminateSession();
  }
  await client.close();
  const deletes = out.http.filter((h) => h.method === "DELETE");
  out.delete_status = deletes.length > 0 ? deletes[deletes.length - 1].status : null;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.insecure) {
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  } else if (args.cacert && process.env.NODE_EXTRA_CA_CERTS !== args.cacert) {
    // Node reads extra CAs only at start-up: run again with them.
    const child = spawnSync(process.execPath, process.argv.slice(1), {
      stdio: "inherit",
      env: { ...process.env, NODE_EXTRA_CA_CERTS: args.cacert },
    });
    process.exit(child.status ?? 1);
  }
  const sdk = await loadSdk(args.sdk);
  const sdkPackage = new URL(`./node_modules/${sdk.pkg}/package.json`, import.meta.url);
  const out = {
    ok: false,
    client: "typescript",
    sdk: `${sdk.pkg} ${JSON.parse(readFileSync(sdkPackage, "utf8")).version}`,
    steps: [],
    http: [],
    progress: [],
    sampling_requests: [],
    elicitation_requests: [],
    logs: [],
    skipped: [],
  };
  let timer;
  try {
    await Promise.race([
      scenario(args, out, sdk),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("scenario timed out")), args.timeout * 1000);
      }),
    ]);
    out.ok = true;
  } catch (err) {
    // fetch puts the real reason (TLS, refused connection) in `cause`.
    const cause = err?.cause ? ` (${[err.cause.code, err.cause.message].filter(Boolean).join(": ")})` : "";
    out.error = `${err?.name ?? "Error"}: ${err?.message ?? String(err)}${cause}`;
    process.stdout.write(JSON.stringify(out) + "\n");
    process.stderr.write(`client.mjs: scenario failed: ${out.error}\n${err?.stack ?? ""}\n`);
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

await main();
