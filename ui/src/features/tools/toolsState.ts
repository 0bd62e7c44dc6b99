import type { Effects, SourceInfo, ToolRow } from "@/ipc/bindings";

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
