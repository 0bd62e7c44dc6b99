import { Loader2, Plus } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { EMPTY_SOURCE, newToolSource, sourceDraftProblem, type SourceDraft } from "./toolsState";

const field = "h-7 text-xs";

const TARGET: Record<SourceDraft["kind"], { label: string; placeholder: string }> = {
  openapi: { label: "Spec", placeholder: "/path/to/openapi.yaml or https://…/openapi.json" },
  "mcp-command": { label: "Command", placeholder: "npx -y @modelcontextprotocol/server-filesystem /data" },
  "mcp-url": { label: "URL", placeholder: "https://…/mcp" },
};

/**
 * Settings → Tools → Add: an OpenAPI spec or an MCP server, checked before it
 * is saved (the spec read and its operations made into tools; the server
 * started and its tools listed), by the same runtime call as the CLI's.
 */
export function AddToolSource({ onAdded }: { onAdded: (message: string) => void }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<SourceDraft>(EMPTY_SOURCE);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const problem = sourceDraftProblem(draft);
  const set = (change: Partial<SourceDraft>) => setDraft((current) => ({ ...current, ...change }));

  async function add() {
    if (problem) return;
    setBusy(true);
    setError(null);
    try {
      const result = await commands.toolSourceAdd(newToolSource(draft));
      if (result.status === "error") setError(result.error.message);
      else {
        onAdded(`added ${draft.name}: ${result.data.length} tool${result.data.length === 1 ? "" : "s"} (${result.data.join(", ")})`);
        setDraft(EMPTY_SOURCE);
        setOpen(false);
      }
    } catch (caught) {
      setError(toIpcError(caught).message);
    } finally {
      setBusy(false);
    }
  }

  if (!open) {
    return (
      <Button size="sm" variant="outline" data-testid="tool-source-add-open" onClick={() => setOpen(true)}>
        <Plus /> Add an OpenAPI spec or MCP server
      </Button>
    );
  }
  const target = TARGET[draft.kind];
  return (
    <form
      className="space-y-2 rounded-md border border-border p-2"
      aria-label="Add a tool source"
      data-testid="tool-source-add"
      onSubmit={(event) => {
        event.preventDefault();
        void add();
      }}
    >
      <div className="grid grid-cols-[7rem_1fr] items-center gap-x-2 gap-y-1 text-xs">
        <label htmlFor="source-kind">Kind</label>
        <select
          id="source-kind"
          data-testid="tool-source-kind"
          className="h-7 rounded border border-border bg-background px-1 text-xs text-foreground"
          value={draft.kind}
          onChange={(event) => set({ kind: event.target.value as SourceDraft["kind"] })}
        >
          <option value="openapi">OpenAPI 3 spec: one tool per operation</option>
          <option value="mcp-command">MCP server, started as a program (stdio)</option>
          <option value="mcp-url">MCP server at a URL (streamable HTTP)</option>
        </select>
        <label htmlFor="source-name">Name</label>
        <Input id="source-name" className={field} data-testid="tool-source-name" placeholder="prefix of its tools: NAME.tool" value={draft.name} onChange={(event) => set({ name: event.target.value })} />
        <label htmlFor="source-target">{target.label}</label>
        <Input id="source-target" className={field} data-testid="tool-source-target" placeholder={target.placeholder} value={draft.target} onChange={(event) => set({ target: event.target.value })} />
        {draft.kind === "openapi" && (
          <>
            <label htmlFor="source-base">Base URL</label>
            <Input id="source-base" className={field} placeholder="default: the spec's first server" value={draft.baseUrl} onChange={(event) => set({ baseUrl: event.target.value })} />
          </>
        )}
        {draft.kind !== "mcp-command" && (
          <>
            <label htmlFor="source-bearer">Bearer (vault name)</label>
            <Input id="source-bearer" className={field} placeholder="none: no authentication" value={draft.bearer} onChange={(event) => set({ bearer: event.target.value })} />
          </>
        )}
        {draft.kind === "mcp-command" && (
          <>
            <label htmlFor="source-env" className="self-start pt-1">
              Environment
            </label>
            <textarea
              id="source-env"
              className="min-h-12 rounded border border-border bg-background p-1 font-mono text-xs"
              placeholder={"KEY=VALUE, one per line\nTOKEN=vault:SECRET_NAME for a vault secret"}
              value={draft.env}
              onChange={(event) => set({ env: event.target.value })}
            />
          </>
        )}
      </div>
      <div className="flex items-center gap-2">
        <Button size="sm" type="submit" data-testid="tool-source-add-submit" disabled={problem !== null || busy}>
          {busy ? <Loader2 className="animate-spin" /> : <Plus />} {busy ? (draft.kind === "openapi" ? "Reading the spec…" : "Starting the server…") : "Check and add"}
        </Button>
        <Button size="sm" type="button" variant="ghost" onClick={() => setOpen(false)}>
          Close
        </Button>
        {problem && <span className="text-xs text-muted-foreground">{problem}</span>}
      </div>
      {error && (
        <div className="text-xs text-destructive" role="alert" data-testid="tool-source-error">
          {error}
        </div>
      )}
    </form>
  );
}
