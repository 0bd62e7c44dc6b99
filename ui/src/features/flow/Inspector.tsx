import { Trash2 } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import type { Problem } from "@/ipc/bindings";
import type { FlowNode } from "./flowGraph";

/** Settings of a node as JSON: everything but id, title, output and position. */
function settings(node: FlowNode): string {
  const rest: Record<string, unknown> = { ...node };
  for (const key of ["id", "title", "output", "position"]) delete rest[key];
  return JSON.stringify(rest, null, 2);
}

/** Edits one node: id, title, output key, and its kind's settings as JSON. */
export function Inspector({
  node,
  problems,
  readOnly,
  onApply,
  onDelete,
}: {
  node: FlowNode;
  problems: Problem[];
  readOnly: boolean;
  onApply: (node: FlowNode) => void;
  onDelete: () => void;
}) {
  const [id, setId] = useState(node.id);
  const [title, setTitle] = useState(node.title ?? "");
  const [output, setOutput] = useState(node.output ?? "");
  const [text, setText] = useState(settings(node));
  const [error, setError] = useState<string | null>(null);

  const apply = () => {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (parsed.kind !== node.kind) throw new Error(`keep "kind": "${node.kind}" (add a new node for another kind)`);
      if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error("the id must be letters, digits, - and _");
      onApply({ ...parsed, id, title: title || undefined, output: output || undefined, position: node.position } as FlowNode);
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const field = (label: string, value: string, set: (value: string) => void, testId: string) => (
    <label className="flex flex-col gap-0.5">
      <span className="text-muted-foreground">{label}</span>
      <input data-testid={testId} className="rounded border border-border bg-background px-1.5 py-0.5 font-mono text-foreground" value={value} onChange={(event) => set(event.target.value)} disabled={readOnly} />
    </label>
  );

  return (
    <aside className="flex w-60 shrink-0 flex-col gap-2 overflow-y-auto border-l border-border p-2 text-xs" data-testid="inspector">
      <div className="font-semibold">
        {node.kind} node
      </div>
      {field("id", id, setId, "inspector-id")}
      {field("title", title, setTitle, "inspector-title")}
      {field("output (state key)", output, setOutput, "inspector-output")}
      <label className="flex flex-col gap-0.5">
        <span className="text-muted-foreground">settings</span>
        <textarea
          data-testid="inspector-settings"
          className="h-44 rounded border border-border bg-background p-1.5 font-mono text-[11px] text-foreground"
          value={text}
          onChange={(event) => setText(event.target.value)}
          spellCheck={false}
          disabled={readOnly}
        />
      </label>
      {error && <div className="text-destructive" role="alert">{error}</div>}
      {problems.map((problem) => (
        <div key={`${problem.code}-${problem.message}`} data-testid="inspector-problem" className={problem.severity === "error" ? "text-destructive" : "text-amber-400"}>
          {problem.message} — {problem.fix}
        </div>
      ))}
      {!readOnly && (
        <div className="flex gap-2">
          <Button size="sm" data-testid="inspector-apply" onClick={apply}>
            Apply
          </Button>
          <Button size="sm" variant="ghost" onClick={onDelete} aria-label="Delete node">
            <Trash2 className="size-3.5" />
          </Button>
        </div>
      )}
    </aside>
  );
}
