import { useEffect, useRef, useState } from "react";

import { Button } from "@/components/ui/button";
import type { FlowEntry } from "@/ipc/bindings";

export type NameAction = { mode: "new" } | { mode: "duplicate"; from: string } | { mode: "rename"; from: string };

const TITLES = { new: "New flow", duplicate: "Duplicate flow", rename: "Rename flow" };
const VALID = /^[A-Za-z0-9_-]+$/;

/** Names a new, duplicated or renamed flow (and, for a new one, what it starts from). */
export function FlowNameDialog({
  action,
  library,
  busy,
  error,
  onSubmit,
  onClose,
}: {
  action: NameAction;
  library: FlowEntry[];
  busy: boolean;
  error: string | null;
  onSubmit: (name: string, from: string | null) => void;
  onClose: () => void;
}) {
  const taken = new Set(library.map((entry) => entry.name));
  const suggest = (base: string) => {
    for (let index = 1; ; index += 1) {
      const name = index === 1 ? base : `${base}-${index}`;
      if (!taken.has(name)) return name;
    }
  };
  const [name, setName] = useState(action.mode === "new" ? suggest("my-flow") : action.mode === "duplicate" ? suggest(`${action.from}-copy`) : action.from);
  const [from, setFrom] = useState<string>(action.mode === "new" ? "" : action.from);
  const field = useRef<HTMLInputElement | null>(null);
  useEffect(() => {
    field.current?.select();
  }, []);
  const problem = !VALID.test(name)
    ? "letters, digits, - and _ only (it names the file NAME.flow.json)"
    : taken.has(name) && !(action.mode === "rename" && name === action.from)
      ? `a flow named ${name} already exists`
      : null;
  const unchanged = action.mode === "rename" && name === action.from;
  const submit = () => {
    if (!problem && !unchanged && !busy) onSubmit(name, action.mode === "new" ? from || null : action.from);
  };
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-black/50" onMouseDown={onClose}>
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby="flow-name-title"
        data-testid="flow-name-dialog"
        className="flex w-80 flex-col gap-2 rounded-lg border border-border bg-card p-4 text-sm text-card-foreground shadow-lg"
        onMouseDown={(event) => event.stopPropagation()}
        onKeyDown={(event) => event.key === "Escape" && onClose()}
      >
        <h2 id="flow-name-title" className="font-semibold">
          {TITLES[action.mode]}
        </h2>
        <label className="flex flex-col gap-1 text-xs">
          <span className="text-muted-foreground">name</span>
          <input
            ref={field}
            data-testid="flow-name"
            className="rounded border border-border bg-background px-2 py-1 font-mono text-foreground"
            value={name}
            aria-invalid={problem !== null}
            onChange={(event) => setName(event.target.value.trim())}
            onKeyDown={(event) => event.key === "Enter" && submit()}
          />
        </label>
        {action.mode === "new" && (
          <label className="flex flex-col gap-1 text-xs">
            <span className="text-muted-foreground">start from</span>
            <select data-testid="flow-from" className="rounded border border-border bg-background px-2 py-1 text-foreground" value={from} onChange={(event) => setFrom(event.target.value)}>
              <option value="">blank (input → output)</option>
              {library
                .filter((entry) => entry.flow)
                .map((entry) => (
                  <option key={entry.path} value={entry.name}>
                    a copy of {entry.name}
                  </option>
                ))}
            </select>
          </label>
        )}
        {(problem ?? error) && (
          <span className="text-xs text-destructive" role="alert">
            {problem ?? error}
          </span>
        )}
        <div className="flex justify-end gap-2">
          <Button size="sm" variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button size="sm" data-testid="flow-name-submit" onClick={submit} disabled={problem !== null || unchanged || busy}>
            {action.mode === "rename" ? "Rename" : "Create"}
          </Button>
        </div>
      </div>
    </div>
  );
}
