import { Bot, Loader2, Plus, Upload, X } from "lucide-react";
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input, Textarea } from "@/components/ui/input";
import { commands, type AgentPin, type AgentVersion_Serialize as AgentVersion, type ProjectSummary, type ToolRow } from "@/ipc/bindings";
import type { ModelChoice } from "@/features/settings/settingsState";
import { useEscape } from "@/features/layout/useEscape";
import { blankAgent, formFrom, formProblems, pinsOf, specFrom, versionsOf, type AgentForm } from "./agentForm";

function Field({ label, problem, children }: { label: string; problem?: string; children: ReactNode }) {
  return (
    <label className="flex flex-col gap-1 text-xs text-muted-foreground">
      {label}
      {children}
      {problem && (
        <span className="text-destructive" data-testid="agent-problem">
          {problem}
        </span>
      )}
    </label>
  );
}

const selectClass = "h-8 rounded border border-border bg-background px-1 text-xs text-foreground";

/**
 * The agent editor: the published agents, a form to publish a new version
 * (prompt, model, tools with their permission, context, memory, step limit),
 * and the flows that pin each version, movable to the newest.
 */
export function AgentsPanel({
  projects,
  models,
  onClose,
  server = null,
}: {
  projects: ProjectSummary[];
  models: ModelChoice[];
  onClose: () => void;
  /** A server's workspace open: its agents and tools, and whether the
   * role may publish and re-pin (`edit`). */
  server?: { label: string; canEdit: boolean; role: string } | null;
}) {
  const mayEdit = server?.canEdit ?? true;
  // The panel is remounted for another workspace: whether it is a server's is enough here.
  const onServer = server !== null;
  const readOnly = mayEdit ? undefined : `Your role (${server?.role ?? ""}) in ${server?.label ?? ""} cannot publish or re-pin agents`;
  const [agents, setAgents] = useState<AgentVersion[]>([]);
  const [pins, setPins] = useState<AgentPin[]>([]);
  const [tools, setTools] = useState<ToolRow[]>([]);
  const [form, setForm] = useState<AgentForm>(blankAgent);
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; error?: boolean } | null>(null);
  const [touched, setTouched] = useState(false);

  const refresh = useCallback(async () => {
    const [listed, pinned] = await Promise.all(onServer ? [commands.workspaceAgents(), commands.workspaceAgentPins()] : [commands.agents(), commands.agentPins()]);
    if (listed.status === "ok") setAgents(listed.data);
    else setMessage({ text: listed.error.message, error: true });
    if (pinned.status === "ok") setPins(pinned.data);
    else setMessage({ text: pinned.error.message, error: true });
    return listed.status === "ok" ? listed.data : [];
  }, [onServer]);

  useEffect(() => {
    void refresh();
    if (onServer) {
      void commands.workspaceTools().then((result) => {
        if (result.status === "ok") setTools(result.data.tools);
        else setMessage({ text: result.error.message, error: true });
      });
    } else {
      void commands.toolsOverview(null).then((result) => {
        if (result.status === "ok") setTools(result.data.tools);
      });
    }
  }, [refresh, onServer]);

  useEscape(onClose);

  const names = useMemo(() => [...new Set(agents.map((agent) => agent.name))].sort(), [agents]);
  const problems = formProblems(form, agents);
  const valid = Object.keys(problems).length === 0;
  const set = <K extends keyof AgentForm>(key: K, value: AgentForm[K]) => setForm((current) => ({ ...current, [key]: value }));

  function pick(name: string) {
    const newest = versionsOf(agents, name).at(-1);
    if (!newest) return;
    setSelected(name);
    setForm(formFrom(newest, agents));
    setTouched(false);
    setMessage(null);
  }

  async function publish() {
    setTouched(true);
    if (!valid) return;
    setBusy(true);
    const result = onServer ? await commands.workspaceAgentPublish(specFrom(form)) : await commands.agentPublish(specFrom(form));
    setBusy(false);
    if (result.status === "error") {
      setMessage({ text: result.error.message, error: true });
      return;
    }
    setMessage({ text: `Published ${result.data.name}@${result.data.version}. Flows pin versions: move them below when they should use it.` });
    const listed = await refresh();
    setSelected(result.data.name);
    const newest = versionsOf(listed, result.data.name).at(-1);
    if (newest) setForm(formFrom(newest, listed));
    setTouched(false);
  }

  async function repin(flow: string, agent: string, version: string) {
    const result = onServer ? await commands.workspaceAgentRepin(flow, agent, version) : await commands.agentRepin(flow, agent, version);
    if (result.status === "error") setMessage({ text: result.error.message, error: true });
    else setMessage({ text: `Flow ${flow} now uses ${agent}@${version} (a new version of the flow was saved).` });
    await refresh();
  }

  const published = selected ? versionsOf(agents, selected) : [];
  const newest = published.at(-1);
  const flowPins = selected ? pinsOf(pins, agents, selected) : [];

  return (
    <div className="absolute inset-0 z-10 flex flex-col bg-background" data-testid="agents-panel" role="dialog" aria-label="Agents">
      <div className="flex items-center gap-2 border-b border-border px-4 py-2">
        <Bot className="size-4 text-muted-foreground" />
        <h2 className="text-sm font-semibold">Agents</h2>
        <span className="text-xs text-muted-foreground" data-testid="agents-where">
          {server ? `of ${server.label} · ` : ""}published versions never change; flows pin one
        </span>
        <Button size="icon" variant="ghost" className="ml-auto" aria-label="Close agents" onClick={onClose}>
          <X />
        </Button>
      </div>
      <div className="grid min-h-0 flex-1 grid-cols-[12rem_1fr]">
        <nav className="overflow-y-auto border-r border-border p-2" aria-label="Published agents">
          <Button
            size="sm"
            variant="outline"
            className="mb-2 w-full"
            data-testid="agent-new"
            onClick={() => {
              setSelected(null);
              setForm(blankAgent);
              setTouched(false);
              setMessage(null);
            }}
          >
            <Plus /> New agent
          </Button>
          <ul className="space-y-1">
            {names.map((name) => (
              <li key={name}>
                <button
                  type="button"
                  data-testid="agent-item"
                  data-name={name}
                  aria-current={selected === name}
                  className={`w-full rounded px-2 py-1 text-left text-sm ${selected === name ? "bg-primary/15" : "hover:bg-card"}`}
                  onClick={() => pick(name)}
                >
                  {name} <span className="text-[11px] text-muted-foreground">{versionsOf(agents, name).at(-1)?.version}</span>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div className="min-h-0 overflow-y-auto p-4">
          <form
            className="grid max-w-3xl grid-cols-2 gap-3"
            onSubmit={(event) => {
              event.preventDefault();
              void publish();
            }}
          >
            <Field label="Name" problem={touched ? problems.name : undefined}>
              <Input className="h-8 text-xs" data-testid="agent-name" value={form.name} onChange={(event) => set("name", event.target.value)} />
            </Field>
            <Field label="Version (semver; the next free one is proposed)" problem={problems.version}>
              <Input className="h-8 text-xs" data-testid="agent-version" value={form.version} onChange={(event) => set("version", event.target.value)} />
            </Field>
            <div className="col-span-2">
              <Field label="Description">
                <Input className="h-8 text-xs" data-testid="agent-description" value={form.description} onChange={(event) => set("description", event.target.value)} />
              </Field>
            </div>
            <div className="col-span-2">
              <Field label="System prompt" problem={touched ? problems.system : undefined}>
                <Textarea className="min-h-24 text-xs" data-testid="agent-system" value={form.system} onChange={(event) => set("system", event.target.value)} />
              </Field>
            </div>
            <Field label="Model">
              <select className={selectClass} data-testid="agent-model" value={form.model} onChange={(event) => set("model", event.target.value)}>
                {models.map((choice) => (
                  <option key={choice.value ?? ""} value={choice.value ?? ""}>
                    {choice.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Context: a project searched before each task">
              <select className={selectClass} data-testid="agent-context" value={form.contextProject} onChange={(event) => set("contextProject", event.target.value)}>
                <option value="">none</option>
                {projects.map((project) => (
                  <option key={project.name} value={project.name}>
                    {project.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Step limit (model calls at most)" problem={touched ? problems.maxSteps : undefined}>
              <Input className="h-8 text-xs" type="number" min={1} max={50} data-testid="agent-steps" value={form.maxSteps} onChange={(event) => set("maxSteps", event.target.value)} />
            </Field>
            <label className="flex items-center gap-2 self-end pb-2 text-xs text-muted-foreground">
              <input type="checkbox" data-testid="agent-memory" checked={form.memory} onChange={(event) => set("memory", event.target.checked)} />
              Memory: remembers its past tasks and answers
            </label>
            <fieldset className="col-span-2 rounded-md border border-border p-2">
              <legend className="px-1 text-xs text-muted-foreground">Tools it may call (the permission is config.toml's; change it in Settings → Tools)</legend>
              <div className="grid max-h-56 grid-cols-2 gap-1 overflow-y-auto">
                {tools.map((tool) => (
                  <label key={tool.name} className="flex items-center gap-2 text-xs" title={tool.description}>
                    <input
                      type="checkbox"
                      data-testid="agent-tool"
                      data-tool={tool.name}
                      checked={form.tools.includes(tool.name)}
                      onChange={(event) =>
                        set("tools", event.target.checked ? [...form.tools, tool.name] : form.tools.filter((name) => name !== tool.name))
                      }
                    />
                    <span className="truncate font-mono">{tool.name}</span>
                    <Badge className={tool.permission === "deny" ? "text-destructive" : tool.permission === "ask" ? "text-amber-800 dark:text-amber-300" : ""}>{tool.permission}</Badge>
                  </label>
                ))}
              </div>
            </fieldset>
            <div className="col-span-2 flex items-center gap-2">
              <Button type="submit" size="sm" data-testid="agent-publish" disabled={busy || !mayEdit} title={readOnly}>
                {busy ? <Loader2 className="animate-spin" /> : <Upload />} Publish {form.name && `${form.name}@${form.version}`}
              </Button>
              {message && (
                <span className={`text-xs ${message.error ? "text-destructive" : "text-muted-foreground"}`} role={message.error ? "alert" : "status"} data-testid="agent-message">
                  {message.text}
                </span>
              )}
            </div>
          </form>
          {selected && (
            <section className="mt-6 max-w-3xl space-y-3">
              <div>
                <h3 className="text-xs font-semibold uppercase text-muted-foreground">Published versions</h3>
                <div className="mt-1 flex flex-wrap gap-1" data-testid="agent-versions">
                  {published.map((agent) => (
                    <Badge key={agent.version}>{agent.version}</Badge>
                  ))}
                </div>
              </div>
              <div>
                <h3 className="text-xs font-semibold uppercase text-muted-foreground">Flows using {selected}</h3>
                {flowPins.length === 0 && <p className="text-xs text-muted-foreground">No flow in the flows folder uses it yet: add an Agent node and pick {selected}@{newest?.version}.</p>}
                <ul className="mt-1 space-y-1">
                  {flowPins.map((pin) => (
                    <li key={`${pin.flow}/${pin.node}`} className="flex items-center gap-2 text-xs" data-testid="agent-pin" data-flow={pin.flow}>
                      <span className="font-mono">{pin.flow}</span>
                      <span className="text-muted-foreground">node {pin.node}</span>
                      <Badge>{pin.version ?? "no version"}</Badge>
                      {pin.behind && newest && (
                        <Button size="sm" variant="outline" className="h-6 text-xs" data-testid="agent-repin" disabled={!mayEdit} title={readOnly} onClick={() => void repin(pin.flow, pin.agent, newest.version)}>
                          Move to {newest.version}
                        </Button>
                      )}
                    </li>
                  ))}
                </ul>
              </div>
            </section>
          )}
        </div>
      </div>
    </div>
  );
}
