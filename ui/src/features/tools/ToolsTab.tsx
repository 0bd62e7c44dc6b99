import { Loader2, RefreshCw } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { commands, type IpcError, type ToolsOverview } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { cn } from "@/lib/utils";
import { effectsLabel, sourceLabel, toolsBySource } from "./toolsState";

/** Settings → Tools: every source with its state, and its tools with their permission. */
export function ToolsTab({ project }: { project: string | null }) {
  const [overview, setOverview] = useState<ToolsOverview | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [loading, setLoading] = useState(false);

  const refresh = useCallback(() => {
    setLoading(true);
    commands
      .toolsOverview(project)
      .then((result) => (result.status === "ok" ? setOverview(result.data) : setError(result.error)))
      .catch((caught: unknown) => setError(toIpcError(caught)))
      .finally(() => setLoading(false));
  }, [project]);

  useEffect(() => refresh(), [refresh]);

  return (
    <div className="space-y-3" data-testid="tools-tab">
      <div className="flex items-center gap-2 text-xs text-muted-foreground">
        <span data-testid="sandbox">Sandbox: {overview?.sandbox ?? "…"}</span>
        <Button className="ml-auto" size="sm" variant="outline" onClick={refresh} disabled={loading}>
          {loading ? <Loader2 className="animate-spin" /> : <RefreshCw />} Refresh
        </Button>
      </div>
      <p className="text-xs text-muted-foreground">
        Tools come from the built-ins, the tools/ folders, OpenAPI specs and MCP servers ([tools] in config.toml).
        Read-only tools run freely; anything that writes, runs code or reaches the network asks first.
      </p>
      {error && (
        <div className="text-destructive" role="alert">
          {error.message}
        </div>
      )}
      {overview &&
        toolsBySource(overview.sources, overview.tools).map(({ source, tools }) => {
          const label = sourceLabel(source);
          return (
            <section key={source.name} className="rounded-md border border-border p-2" data-testid="tool-source">
              <div className="flex items-center gap-2">
                <span className="font-medium">{source.name}</span>
                <span className={cn("text-xs", label.ok ? "text-muted-foreground" : "text-destructive")}>{label.text}</span>
              </div>
              {source.problems.map((problem) => (
                <div key={problem} className="mt-1 text-xs text-destructive">
                  skipped: {problem}
                </div>
              ))}
              <ul className="mt-2 space-y-1">
                {tools.map((tool) => (
                  <li key={tool.name} className="flex items-center gap-2 text-xs" data-testid="tool-row">
                    <span className="w-40 shrink-0 truncate font-mono" title={tool.name}>
                      {tool.name}
                    </span>
                    <Badge>{tool.permission}</Badge>
                    <span className="min-w-0 truncate text-muted-foreground" title={`${tool.description} — ${effectsLabel(tool.effects)}`}>
                      {tool.description}
                    </span>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
    </div>
  );
}
