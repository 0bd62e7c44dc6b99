import type { Effects, NewToolSource_Deserialize, SourceInfo, ToolRow } from "@/ipc/bindings";

/** A source's state in a few words, and whether it is healthy. */
export function sourceLabel(source: SourceInfo): { text: string; ok: boolean } {
  switch (source.state.state) {
    case "ready":
      return { text: `ready · ${source.tools.length} tool${source.tools.length === 1 ? "" : "s"}`, ok: true };
    case "starting":
      return { text: "starting…", ok: true };
    case "stopped":
      return { text: "stopped", ok: false };
    case "failed":
      return { text: `failed: ${source.state.message}`, ok: false };
    case "restarting":
      return { text: `restarting: ${source.state.message}`, ok: false };
  }
}

/** "writes files, runs code" — what an approval dialog warns about. */
export function effectsLabel(effects: Effects): string {
  const parts = [
    effects.writes ? "writes files" : null,
    effects.runsCode ? "runs code" : null,
    effects.network ? "reaches the network" : null,
  ].filter((part): part is string => part !== null);
  return parts.length === 0 ? "reads only" : parts.join(", ");
}

/** Tools grouped by source, sources in listing order. */
export function toolsBySource(sources: SourceInfo[], tools: ToolRow[]): Array<{ source: SourceInfo; tools: ToolRow[] }> {
  return sources.map((source) => ({
    source,
    tools: tools.filter((tool) => tool.source === source.name),
  }));
}

/** A tool source being added in Settings → Tools. */
export interface SourceDraft {
  kind: "openapi" | "mcp-command" | "mcp-url";
  name: string;
  /** The spec (file or URL), the command line, or the server's URL. */
  target: string;
  baseUrl: string;
  bearer: string;
  /** KEY=VALUE or KEY=vault:SECRET lines. */
  env: string;
}

export const EMPTY_SOURCE: SourceDraft = { kind: "openapi", name: "", target: "", baseUrl: "", bearer: "", env: "" };

/** What the form still lacks, or null when it can be sent. */
export function sourceDraftProblem(draft: SourceDraft): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(draft.name)) return "Name: letters, digits, “-” and “_” (its tools are NAME.tool)";
  if (!draft.target.trim()) {
    return draft.kind === "openapi" ? "Spec: a file path or an http(s) URL" : draft.kind === "mcp-url" ? "URL: the server's streamable-HTTP address" : "Command: the program and its arguments";
  }
  if (draft.kind === "mcp-url" && !/^https?:\/\//.test(draft.target.trim())) return "URL: http(s)://…";
  const badEnv = draft.env
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line && !/^[^=\s]+=/.test(line));
  if (draft.kind === "mcp-command" && badEnv) return `Environment: “${badEnv}” is not KEY=VALUE`;
  return null;
}

/** The form as the `tool_source_add` command takes it. */
export function newToolSource(draft: SourceDraft): NewToolSource_Deserialize {
  const name = draft.name.trim();
  const bearer = draft.bearer.trim() || null;
  if (draft.kind === "openapi") return { kind: "openapi", name, spec: draft.target.trim(), base_url: draft.baseUrl.trim() || null, bearer };
  if (draft.kind === "mcp-url") return { kind: "mcp", name, command: null, url: draft.target.trim(), env: [], bearer };
  return {
    kind: "mcp",
    name,
    command: draft.target.trim(),
    url: null,
    env: draft.env.split("\n").map((line) => line.trim()).filter(Boolean),
    bearer: null,
  };
}
