import { useRef, useState } from "react";

import type { FlowNode } from "./flowGraph";
import { complete, completions, display, parse, valueOf, withValue, type FormField } from "./nodeForm";

const INPUT = "w-full rounded border border-border bg-background px-1.5 py-0.5 font-mono text-foreground disabled:opacity-60 aria-[invalid=true]:border-destructive";

/** What the form knows about the flow around the node. */
export interface FormContext {
  stateKeys: string[];
  nodeIds: string[];
  readOnly: boolean;
}

/** A text-like input that commits on blur or Enter (one undo step per edit, not per key). */
function Committed({
  field,
  value,
  onCommit,
  context,
  multiline,
}: {
  field: FormField;
  value: string;
  onCommit: (text: string) => string | null;
  context: FormContext;
  multiline: boolean;
}) {
  const [text, setText] = useState(value);
  const [error, setError] = useState<string | null>(null);
  const [menu, setMenu] = useState<{ from: number; matches: string[]; caret: number } | null>(null);
  const area = useRef<HTMLTextAreaElement | null>(null);
  const [seen, setSeen] = useState(value);
  // A change from outside (undo, another view) replaces what is shown.
  if (seen !== value) {
    setSeen(value);
    setText(value);
    setError(null);
  }
  const commit = (next = text) => {
    if (next === value) return;
    setError(onCommit(next));
  };
  const id = `field-${field.name}`;
  const listId = field.kind === "stateKey" || field.kind === "nodeRef" ? `${id}-options` : undefined;
  const options = field.kind === "nodeRef" ? context.nodeIds : context.stateKeys;
  const pick = (key: string) => {
    if (!menu) return;
    const done = complete(text, menu.caret, menu.from, key);
    setText(done.text);
    setMenu(null);
    requestAnimationFrame(() => {
      area.current?.focus();
      area.current?.setSelectionRange(done.caret, done.caret);
    });
  };
  return (
    <div className="relative flex flex-col gap-0.5">
      {multiline ? (
        <textarea
          ref={area}
          id={id}
          data-testid={id}
          className={`${INPUT} h-20 text-[11px]`}
          value={text}
          aria-invalid={error !== null}
          aria-describedby={`${id}-help`}
          disabled={context.readOnly}
          spellCheck={false}
          onChange={(event) => {
            setText(event.target.value);
            if (field.kind === "template") {
              const caret = event.target.selectionStart;
              const found = completions(event.target.value, caret, context.stateKeys);
              setMenu(found ? { ...found, caret } : null);
            }
          }}
          onKeyDown={(event) => {
            if (menu && (event.key === "Enter" || event.key === "Tab")) {
              event.preventDefault();
              pick(menu.matches[0] ?? "");
            } else if (event.key === "Escape") setMenu(null);
          }}
          onBlur={() => {
            // A click on a suggestion blurs first: let it land.
            setTimeout(() => setMenu(null), 150);
            commit();
          }}
        />
      ) : (
        <input
          id={id}
          data-testid={id}
          className={INPUT}
          value={text}
          list={listId}
          inputMode={field.kind === "integer" || field.kind === "number" ? "decimal" : undefined}
          aria-invalid={error !== null}
          aria-describedby={`${id}-help`}
          disabled={context.readOnly}
          placeholder={field.defaultValue !== undefined && field.defaultValue !== null ? `default ${display(field, field.defaultValue)}` : ""}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter") commit();
          }}
          onBlur={() => commit()}
        />
      )}
      {listId && (
        <datalist id={listId}>
          {options.map((option) => (
            <option key={option} value={option} />
          ))}
        </datalist>
      )}
      {menu && (
        <ul role="listbox" aria-label="State keys" data-testid={`${id}-completions`} className="absolute top-full z-10 mt-0.5 w-full rounded border border-border bg-popover text-popover-foreground shadow">
          {menu.matches.map((key) => (
            <li key={key}>
              <button type="button" role="option" aria-selected={false} className="w-full px-1.5 py-0.5 text-left font-mono hover:bg-muted" onMouseDown={(event) => event.preventDefault()} onClick={() => pick(key)}>
                {key}
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <span className="text-destructive" role="alert" data-testid={`${id}-error`}>
          {error}
        </span>
      )}
    </div>
  );
}

/** One generated field. */
function Field({ field, node, context, onChange }: { field: FormField; node: FlowNode; context: FormContext; onChange: (node: FlowNode) => void }) {
  const value = valueOf(node, field.name);
  const id = `field-${field.name}`;
  const set = (text: string): string | null => {
    const parsed = parse(field, text);
    if ("error" in parsed) return parsed.error;
    onChange(withValue(node, field.name, parsed.value));
    return null;
  };
  let control;
  switch (field.kind) {
    case "boolean":
      control = (
        <input id={id} data-testid={id} type="checkbox" checked={value === true} disabled={context.readOnly} onChange={(event) => set(event.target.checked ? "true" : "false")} />
      );
      break;
    case "select":
      control = (
        <select id={id} data-testid={id} className={`${INPUT}`} value={typeof value === "string" ? value : String(field.defaultValue ?? "")} disabled={context.readOnly} onChange={(event) => set(event.target.value)}>
          {field.optional && value === undefined && field.defaultValue === undefined && <option value="">—</option>}
          {field.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      );
      break;
    case "stateKeys": {
      const chosen = Array.isArray(value) ? (value as string[]) : [];
      const keys = [...new Set([...context.stateKeys, ...chosen])];
      control = (
        <div id={id} data-testid={id} role="group" aria-labelledby={`${id}-label`} className="flex flex-wrap gap-x-2 gap-y-0.5">
          {keys.length === 0 && <span className="text-muted-foreground">declare state keys in the flow's settings first</span>}
          {keys.map((key) => (
            <label key={key} className="flex items-center gap-1 font-mono">
              <input
                type="checkbox"
                data-testid={`${id}-${key}`}
                checked={chosen.includes(key)}
                disabled={context.readOnly}
                onChange={(event) => set((event.target.checked ? [...chosen, key] : chosen.filter((entry) => entry !== key)).join("\n"))}
              />
              {key}
            </label>
          ))}
        </div>
      );
      break;
    }
    default:
      control = (
        <Committed
          field={field}
          value={display(field, value)}
          onCommit={set}
          context={context}
          multiline={field.kind === "template" || field.kind === "lines" || field.kind === "json" || field.kind === "map"}
        />
      );
  }
  return (
    <div className="flex flex-col gap-0.5">
      <label htmlFor={id} id={`${id}-label`} className="flex items-baseline gap-1">
        <span className="font-medium text-foreground">{field.name}</span>
        {field.required && !field.optional && <span className="text-destructive" aria-label="required">*</span>}
        <span className="text-[10px] text-muted-foreground">{field.kind === "json" || field.kind === "map" ? "JSON" : field.kind === "lines" ? "one per line" : ""}</span>
      </label>
      {control}
      <span id={`${id}-help`} className="text-[10px] leading-tight text-muted-foreground">
        {field.description}
      </span>
    </div>
  );
}

/** The generated form of a node's kind. */
export function NodeForm({ fields, node, context, onChange }: { fields: FormField[]; node: FlowNode; context: FormContext; onChange: (node: FlowNode) => void }) {
  return (
    <div className="flex flex-col gap-2" data-testid="node-form">
      {fields.map((field) => (
        <Field key={field.name} field={field} node={node} context={context} onChange={onChange} />
      ))}
    </div>
  );
}
