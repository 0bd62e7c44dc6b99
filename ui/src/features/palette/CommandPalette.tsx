import { useEffect, useMemo, useRef, useState } from "react";

import { filterActions, useAllActions } from "./actions";

/** Ctrl/Cmd+K: every action the app can take now, found by typing. */
export function CommandPalette({ onClose }: { onClose: () => void }) {
  const actions = useAllActions();
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const field = useRef<HTMLInputElement | null>(null);
  const shown = useMemo(() => filterActions(actions, query), [actions, query]);
  useEffect(() => field.current?.focus(), []);
  const run = (index: number) => {
    const action = shown[index];
    if (!action || action.disabled) return;
    onClose();
    // After the palette is gone, so focus and dialogs land where the action puts them.
    setTimeout(action.run, 0);
  };
  return (
    <div className="fixed inset-0 z-50 flex items-start justify-center bg-black/40 pt-24" onMouseDown={onClose}>
      <div
        role="dialog"
        aria-modal="true"
        aria-label="Command palette"
        data-testid="command-palette"
        className="flex w-[32rem] max-w-[90vw] flex-col overflow-hidden rounded-lg border border-border bg-card text-sm text-card-foreground shadow-2xl"
        onMouseDown={(event) => event.stopPropagation()}
      >
        <input
          ref={field}
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-activedescendant={shown[active] ? `palette-${shown[active].id}` : undefined}
          aria-label="Type a command"
          data-testid="palette-query"
          className="border-b border-border bg-transparent px-3 py-2 outline-none"
          placeholder="Type a command…"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
            setActive(0);
          }}
          onKeyDown={(event) => {
            if (event.key === "ArrowDown") {
              event.preventDefault();
              setActive((index) => Math.min(shown.length - 1, index + 1));
            } else if (event.key === "ArrowUp") {
              event.preventDefault();
              setActive((index) => Math.max(0, index - 1));
            } else if (event.key === "Enter") {
              event.preventDefault();
              run(active);
            } else if (event.key === "Escape") onClose();
          }}
        />
        <ul id="palette-list" role="listbox" aria-label="Commands" className="max-h-80 overflow-y-auto py-1">
          {shown.length === 0 && <li className="px-3 py-2 text-muted-foreground">No command matches.</li>}
          {shown.map((action, index) => (
            <li
              key={action.id}
              id={`palette-${action.id}`}
              role="option"
              aria-selected={index === active}
              aria-disabled={action.disabled}
              data-testid="palette-action"
              data-action={action.id}
              className={`flex cursor-pointer items-center gap-2 px-3 py-1.5 ${index === active ? "bg-muted" : ""} ${action.disabled ? "opacity-50" : ""}`}
              onMouseEnter={() => setActive(index)}
              onClick={() => run(index)}
            >
              <span className="w-24 shrink-0 text-xs text-muted-foreground">{action.group}</span>
              <span className="min-w-0 flex-1 truncate">{action.title}</span>
              {action.shortcut && <kbd className="rounded border border-border px-1 text-[10px] text-muted-foreground">{action.shortcut}</kbd>}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
