import { Trash2 } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import type { Problem } from "@/ipc/bindings";
import { kindInfo, type FlowNode } from "./flowGraph";
import { NodeForm, type FormContext } from "./NodeForm";
import { formFor, type JsonSchema } from "./nodeForm";

/** Settings of a node as JSON: everything but id, title, output and position. */
function settings(node: FlowNode): string {
  const rest: Record<string, unknown> = { ...node };
  for (const key of ["id", "title", "output", "position"]) delete rest[key];
  return JSON.stringify(rest, null, 2);
}

const INPUT = "rounded border border-border bg-background px-1.5 py-0.5 font-mono text-foreground disabled:opacity-60";

/** One of the settings every node has: committed on blur or Enter. */
function Shared({ label, value, testId, list, readOnly, onCommit }: { label: string; value: string; testId: string; list?: string; readOnly: boolean; onCommit: (text: string) => string | null }) {
  const [text, setText] = useState(value);
  const [seen, setSeen] = useState(value);
  const [error, setError] = useState<string | null>(null);
  if (seen !== value) {
    setSeen(value);
    setText(value);
    setError(null);
  }
  const commit = () => {
    if (text !== value) setError(onCommit(text));
  };
  return (
    <label className="flex flex-col gap-0.5">
      <span className="text-muted-foreground">{label}</span>
      <input
        data-testid={testId}
        className={INPUT}
        value={text}
        list={list}
        aria-invalid={error !== null}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => event.key === "Enter" && commit()}
        onBlur={commit}
        disabled={readOnly}
      />
      {error && (
        <span className="text-destructive" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}

/** Edits one node: id, title and output key, then its kind's settings as a
 * form generated from the flow schema, or as raw JSON ("advanced"). Every
 * committed change is one step of the canvas's undo stack. */
export function Inspector({
  node,
  problems,
  readOnly,
  schema,
  stateKeys,
  nodeIds,
  onApply,
  onDelete,
}: {
  node: FlowNode;
  problems: Problem[];
  readOnly: boolean;
  schema: JsonSchema | null;
  stateKeys: string[];
  nodeIds: string[];
  onApply: (node: FlowNode) => void;
  onDelete: () => void;
}) {
  const fields = schema ? formFor(schema, node.kind) : [];
  const [view, setView] = useState<"form" | "json">(fields.length > 0 ? "form" : "json");
  const [text, setText] = useState(settings(node));
  const [seen, setSeen] = useState(node);
  const [error, setError] = useState<string | null>(null);
  if (seen !== node) {
    setSeen(node);
    setText(settings(node));
    setError(null);
  }

  const applyJson = () => {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (parsed.kind !== node.kind) throw new Error(`keep "kind": "${node.kind}" (add a new node for another kind)`);
      onApply({ ...parsed, id: node.id, title: node.title, output: node.output, position: node.position } as FlowNode);
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const rename = (id: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) return "the id must be letters, digits, - and _";
    if (nodeIds.includes(id)) return `another node is already called ${id}`;
    onApply({ ...node, id });
    return null;
  };
  const context: FormContext = { stateKeys, nodeIds: nodeIds.filter((id) => id !== node.id), readOnly };

  return (
    <aside className="flex w-72 shrink-0 flex-col gap-2 overflow-y-auto border-l border-border p-2 text-xs" data-testid="inspector" aria-label={`${node.kind} node ${node.id}`}>
      <div className="flex items-center justify-between">
        <span className="font-semibold">{node.kind} node</span>
        <div role="tablist" aria-label="Inspector view" className="flex rounded border border-border">
          {(["form", "json"] as const).map((option) => (
            <button
              key={option}
              type="button"
              role="tab"
              aria-selected={view === option}
              data-testid={`inspector-view-${option}`}
              className={`px-1.5 py-0.5 ${view === option ? "bg-muted text-foreground" : "text-muted-foreground"}`}
              onClick={() => setView(option)}
              disabled={option === "form" && fields.length === 0}
              title={option === "json" ? "Advanced: the node's settings as JSON" : "Settings as a form"}
            >
              {option === "form" ? "Form" : "JSON"}
            </button>
          ))}
        </div>
      </div>
      <Shared label="id" value={node.id} testId="inspector-id" readOnly={readOnly} onCommit={rename} />
      <Shared
        label="title"
        value={node.title ?? ""}
        testId="inspector-title"
        readOnly={readOnly}
        onCommit={(title) => {
          onApply({ ...node, title: title || undefined });
          return null;
        }}
      />
      {(kindInfo(node.kind).result !== null || node.output) && (
      <Shared
        label="output (state key)"
        value={node.output ?? ""}
        testId="inspector-output"
        list="inspector-state-keys"
        readOnly={readOnly}
        onCommit={(output) => {
          onApply({ ...node, output: output || undefined });
          return null;
        }}
      />
      )}
      <datalist id="inspector-state-keys">
        {stateKeys.map((key) => (
          <option key={key} value={key} />
        ))}
      </datalist>
      {view === "form" ? (
        <NodeForm fields={fields} node={node} context={context} onChange={onApply} />
      ) : (
        <>
          <label className="flex flex-col gap-0.5">
            <span className="text-muted-foreground">settings (JSON)</span>
            <textarea
              data-testid="inspector-settings"
              className="h-44 rounded border border-border bg-background p-1.5 font-mono text-[11px] text-foreground"
              value={text}
              onChange={(event) => setText(event.target.value)}
              spellCheck={false}
              disabled={readOnly}
            />
          </label>
          {error && (
            <div className="text-destructive" role="alert">
              {error}
            </div>
          )}
          {!readOnly && (
            <Button size="sm" data-testid="inspector-apply" onClick={applyJson}>
              Apply JSON
            </Button>
          )}
        </>
      )}
      {problems.map((problem) => (
        <div key={`${problem.code}-${problem.message}`} data-testid="inspector-problem" className={problem.severity === "error" ? "text-destructive" : "text-amber-800 dark:text-amber-400"}>
          {problem.message} — {problem.fix}
        </div>
      ))}
      {!readOnly && (
        <Button size="sm" variant="ghost" onClick={onDelete} aria-label="Delete node" data-testid="inspector-delete" className="self-start">
          <Trash2 className="size-3.5" /> Delete node
        </Button>
      )}
    </aside>
  );
}
