import { Loader2, Plus, RefreshCw, Trash2 } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type IpcError, type Permission, type PermissionRule, type ToolsOverview } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { cn } from "@/lib/utils";
import { AddToolSource } from "./AddToolSource";
import { effectsLabel, sourceLabel, toolsBySource } from "./toolsState";

/** Settings → Tools: every source with its state, and its tools with their permission. */
/**
 * Settings → Tools: sources, tools and the permission each runs at, with
 * permission rules and sources added or removed — or, with a server's
 * workspace open (`server` names it), that workspace's tools, read-only
 * (its sources and rules are set on the server's machine).
 */
export function ToolsTab({ project, server = null }: { project: string | null; server?: string | null }) {
  const [overview, setOverview] = useState<ToolsOverview | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [loading, setLoading] = useState(false);
  const [rules, setRules] = useState<PermissionRule[]>([]);
  const [draft, setDraft] = useState<{ rule: string; permission: Permission }>({ rule: "", permission: "ask" });
  const [removing, setRemoving] = useState<string | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);

  const refresh = useCallback(() => {
    setLoading(true);
    if (server === null) void commands.toolPermissions().then((result) => (result.status === "ok" ? setRules(result.data) : setError(result.error)));
    commands
      .toolsOverview(project)
      .then((result) => (result.status === "ok" ? setOverview(result.data) : setError(result.error)))
      .catch((caught: unknown) => setError(toIpcError(caught)))
      .finally(() => setLoading(false));
  }, [project, server]);

  async function setRule(rule: string, permission: Permission | null) {
    const result = await commands.toolPermissionSet(rule, permission);
    if (result.status === "error") setError(result.error);
    else setError(null);
    refresh();
    return result.status === "ok";
  }

  async function removeSource(name: string) {
    setRemoving(null);
    const result = await commands.toolSourceRemove(name);
    if (result.status === "error") setError(result.error);
    else {
      setError(null);
      setRemoved(`removed ${name} and its tools from config.toml`);
    }
    refresh();
  }

  const ruleFor = (name: string) => rules.find((rule) => rule.rule === name)?.permission ?? "";

  useEffect(() => refresh(), [refresh]);

  return (
    <div className="space-y-3" data-testid="tools-tab">
      <div className="flex items-center gap-2 text-xs text-muted-foreground">
        <span data-testid="sandbox">Sandbox: {overview?.sandbox ?? "…"}</span>
        <Button className="ml-auto" size="sm" variant="outline" onClick={refresh} disabled={loading}>
          {loading ? <Loader2 className="animate-spin" /> : <RefreshCw />} Refresh
        </Button>
      </div>
      {server ? (
        <p className="text-xs text-muted-foreground" data-testid="tools-where">
          The tools of {server}, with the permission each runs at there. Its sources and permission rules are set on the
          server's machine (the workspace's config.toml), not from here.
        </p>
      ) : (
        <p className="text-xs text-muted-foreground">
          Tools come from the built-ins, the tools/ folders, OpenAPI specs and MCP servers ([tools] in config.toml).
          Read-only tools run freely; anything that writes, runs code or reaches the network asks first.
        </p>
      )}
      {error && (
        <div className="text-destructive" role="alert">
          {error.message}
        </div>
      )}
      {server === null && (
      <section className="rounded-md border border-border p-2" data-testid="permission-rules" aria-label="Permission rules">
        <div className="text-xs font-medium">Permission rules</div>
        <p className="text-[11px] text-muted-foreground">A tool name or glob (github.*) → allow, ask or deny; saved in config.toml [tools.permissions], in force for the next call. A flow's own rules apply after these.</p>
        <ul className="mt-1 space-y-1">
          {rules.map((rule) => (
            <li key={rule.rule} className="flex items-center gap-2 text-xs" data-testid="permission-rule" data-rule={rule.rule}>
              <span className="w-40 truncate font-mono" title={rule.rule}>{rule.rule}</span>
              <Badge>{rule.permission}</Badge>
              <Button size="icon" variant="ghost" className="size-6" aria-label={`Remove the rule for ${rule.rule}`} onClick={() => void setRule(rule.rule, null)}>
                <Trash2 className="size-3" />
              </Button>
            </li>
          ))}
        </ul>
        <form
          className="mt-2 flex items-center gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (!draft.rule.trim()) return;
            void setRule(draft.rule.trim(), draft.permission).then((ok) => ok && setDraft({ rule: "", permission: "ask" }));
          }}
        >
          <Input className="h-7 w-48 text-xs" placeholder="tool or glob (github.*)" aria-label="Rule" data-testid="permission-rule-input" value={draft.rule} onChange={(event) => setDraft({ ...draft, rule: event.target.value })} />
          <select
            className="h-7 rounded border border-border bg-background px-1 text-xs text-foreground"
            aria-label="Level of the new rule"
            value={draft.permission}
            onChange={(event) => setDraft({ ...draft, permission: event.target.value as Permission })}
          >
            <option value="allow">allow</option>
            <option value="ask">ask</option>
            <option value="deny">deny</option>
          </select>
          <Button type="submit" size="sm" variant="outline" className="h-7" data-testid="permission-rule-add" disabled={!draft.rule.trim()}>
            <Plus /> Add rule
          </Button>
        </form>
      </section>
      )}
      {server === null && (
        <AddToolSource
          onAdded={(message) => {
            setRemoved(message);
            refresh();
          }}
        />
      )}
      {removed && (
        <div className="text-xs" role="status" data-testid="tool-source-message">
          {removed}
        </div>
      )}
      {overview &&
        toolsBySource(overview.sources, overview.tools).map(({ source, tools }) => {
          const label = sourceLabel(source);
          const configured = overview.configured.find((entry) => entry.source === source.name);
          return (
            <section key={source.name} className="rounded-md border border-border p-2" data-testid="tool-source" data-source={source.name}>
              <div className="flex items-center gap-2">
                <span className="font-medium">{source.name}</span>
                <span className={cn("min-w-0 text-xs", label.ok ? "text-muted-foreground" : "text-destructive")}>{label.text}</span>
                {configured && removing !== configured.name && (
                  <Button size="sm" variant="ghost" className="ml-auto h-6" data-testid="tool-source-remove" aria-label={`Remove ${configured.name}`} onClick={() => setRemoving(configured.name)}>
                    <Trash2 className="size-3" /> Remove…
                  </Button>
                )}
              </div>
              {configured && (
                <div className="truncate font-mono text-[11px] text-muted-foreground" title={configured.target}>
                  {configured.target}
                </div>
              )}
              {configured && removing === configured.name && (
                <div className="mt-1 flex items-center gap-2 text-xs">
                  <span>Remove {configured.name} from config.toml{configured.kind === "mcp" ? " and stop the server" : ""}? Its tools go with it.</span>
                  <Button size="sm" variant="destructive" data-testid="tool-source-remove-confirm" onClick={() => void removeSource(configured.name)}>
                    Remove
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setRemoving(null)}>
                    Cancel
                  </Button>
                </div>
              )}
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
                    <select
                      disabled={server !== null}
                      className="h-6 rounded border border-border bg-background px-1 text-xs text-foreground"
                      aria-label={`Permission of ${tool.name}`}
                      data-testid="tool-permission"
                      data-tool={tool.name}
                      data-effective={tool.permission}
                      value={ruleFor(tool.name)}
                      onChange={(event) => void setRule(tool.name, event.target.value === "" ? null : (event.target.value as Permission))}
                    >
                      <option value="">{tool.permission} · default</option>
                      <option value="allow">allow</option>
                      <option value="ask">ask</option>
                      <option value="deny">deny</option>
                    </select>
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
