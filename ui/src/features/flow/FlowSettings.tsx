import { Plus, X } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import type { BudgetAction, ToolPermission, ValueType } from "@/ipc/bindings";
import { budgetFields, parseBudget, type BudgetFields } from "./budget";
import { lineage } from "@/features/team/team";
import type { FlowDoc } from "./flowGraph";

const TYPES: ValueType[] = ["string", "number", "boolean", "list", "object", "any"];
const PERMISSIONS: ToolPermission[] = ["allow", "ask", "deny"];
const INPUT = "min-w-0 rounded border border-border bg-background px-1.5 py-0.5 font-mono text-foreground disabled:opacity-60";
const SELECT = `${INPUT}`;
const NAME = /^[A-Za-z0-9_]+$/;
const GLOB = /^[A-Za-z0-9_.*-]+$/;

/** A name → choice table with an add row (state keys and their types,
 * tool globs and their permissions). */
function Table<T extends string>({
  label,
  testId,
  rows,
  choices,
  validName,
  nameHint,
  placeholder,
  readOnly,
  onChange,
}: {
  label: string;
  testId: string;
  rows: Record<string, T>;
  choices: T[];
  validName: RegExp;
  nameHint: string;
  placeholder: string;
  readOnly: boolean;
  onChange: (rows: Record<string, T>) => void;
}) {
  const [name, setName] = useState("");
  const [choice, setChoice] = useState<T>(choices[0] as T);
  const [error, setError] = useState<string | null>(null);
  const add = () => {
    const trimmed = name.trim();
    if (!validName.test(trimmed)) return setError(nameHint);
    if (trimmed in rows) return setError(`${trimmed} is already there`);
    onChange({ ...rows, [trimmed]: choice });
    setName("");
    setError(null);
  };
  return (
    <fieldset className="flex flex-col gap-1" data-testid={testId}>
      <legend className="mb-0.5 font-medium">{label}</legend>
      {Object.entries(rows).map(([key, value]) => (
        <div key={key} className="flex items-center gap-1" data-testid={`${testId}-row`}>
          <span className="min-w-0 flex-1 truncate font-mono" title={key}>
            {key}
          </span>
          <select aria-label={`${key}: ${label}`} className={`${SELECT} w-20 shrink-0`} value={value} disabled={readOnly} onChange={(event) => onChange({ ...rows, [key]: event.target.value as T })}>
            {choices.map((option) => (
              <option key={option}>{option}</option>
            ))}
          </select>
          {!readOnly && (
            <Button
              size="icon"
              variant="ghost"
              className="size-6 shrink-0"
              aria-label={`Remove ${key}`}
              onClick={() => {
                const next = { ...rows };
                delete next[key];
                onChange(next);
              }}
            >
              <X className="size-3" />
            </Button>
          )}
        </div>
      ))}
      {!readOnly && (
        <div className="flex items-center gap-1">
          <input
            aria-label={`New ${label}`}
            data-testid={`${testId}-name`}
            className={`${INPUT} w-0 flex-1`}
            placeholder={placeholder}
            value={name}
            onChange={(event) => setName(event.target.value)}
            onKeyDown={(event) => event.key === "Enter" && add()}
          />
          <select aria-label={`New ${label} choice`} data-testid={`${testId}-choice`} className={`${SELECT} w-20 shrink-0`} value={choice} onChange={(event) => setChoice(event.target.value as T)}>
            {choices.map((option) => (
              <option key={option}>{option}</option>
            ))}
          </select>
          <Button size="icon" variant="ghost" className="size-6 shrink-0" aria-label={`Add ${label}`} data-testid={`${testId}-add`} onClick={add}>
            <Plus className="size-3" />
          </Button>
        </div>
      )}
      {error && (
        <span className="text-destructive" role="alert">
          {error}
        </span>
      )}
    </fieldset>
  );
}

/** The flow's budget: a token and/or dollar limit on each run's model
 * calls, and whether crossing it stops the run or warns. */
function BudgetEditor({ flow, readOnly, onChange }: { flow: FlowDoc; readOnly: boolean; onChange: (flow: FlowDoc) => void }) {
  const [fields, setFields] = useState<BudgetFields>(budgetFields(flow.budget));
  const [seen, setSeen] = useState(JSON.stringify(flow.budget ?? null));
  const [error, setError] = useState<string | null>(null);
  if (seen !== JSON.stringify(flow.budget ?? null)) {
    setSeen(JSON.stringify(flow.budget ?? null));
    setFields(budgetFields(flow.budget));
    setError(null);
  }
  const commit = (next: BudgetFields) => {
    const parsed = parseBudget(next);
    if ("error" in parsed) return setError(parsed.error);
    setError(null);
    if (JSON.stringify(parsed.budget) === JSON.stringify(flow.budget ?? null)) return;
    const changed: FlowDoc = { ...flow, budget: parsed.budget ?? undefined };
    if (!parsed.budget) delete changed.budget;
    onChange(changed);
  };
  return (
    <fieldset className="flex flex-col gap-1" data-testid="budget-editor">
      <legend className="font-medium">budget per run</legend>
      <div className="flex items-center gap-1">
        <input
          aria-label="Most tokens per run"
          data-testid="budget-tokens"
          className={`${INPUT} w-20`}
          inputMode="numeric"
          placeholder="tokens"
          value={fields.tokens}
          disabled={readOnly}
          onChange={(event) => setFields({ ...fields, tokens: event.target.value })}
          onBlur={() => commit(fields)}
        />
        <input
          aria-label="Most dollars per run"
          data-testid="budget-dollars"
          className={`${INPUT} w-16`}
          inputMode="decimal"
          placeholder="$"
          value={fields.dollars}
          disabled={readOnly}
          onChange={(event) => setFields({ ...fields, dollars: event.target.value })}
          onBlur={() => commit(fields)}
        />
        <select
          aria-label="When the budget is crossed"
          data-testid="budget-action"
          className={SELECT}
          value={fields.onExceed}
          disabled={readOnly}
          onChange={(event) => {
            const next = { ...fields, onExceed: event.target.value as BudgetAction };
            setFields(next);
            commit(next);
          }}
        >
          <option value="stop">stop</option>
          <option value="warn">warn</option>
        </select>
      </div>
      {error && (
        <span className="text-destructive" role="alert">
          {error}
        </span>
      )}
      <span className="text-[10px] text-muted-foreground">Tokens of every model call, and dollars of remote ones (priced from config.toml's [[prices]] and the shipped list prices). Empty: no limit.</span>
    </fieldset>
  );
}

/** The flow's own settings, shown when no node is selected: what it does,
 * its state keys with their types, and its tool permissions. */
export function FlowSettings({ flow, readOnly, onChange }: { flow: FlowDoc; readOnly: boolean; onChange: (flow: FlowDoc) => void }) {
  const [description, setDescription] = useState(flow.description ?? "");
  const [seen, setSeen] = useState(flow.description ?? "");
  if (seen !== (flow.description ?? "")) {
    setSeen(flow.description ?? "");
    setDescription(flow.description ?? "");
  }
  return (
    <aside className="flex w-72 shrink-0 flex-col gap-3 overflow-y-auto border-l border-border p-2 text-xs" data-testid="flow-settings" aria-label={`Flow ${flow.name}`}>
      <div className="font-semibold">
        flow <span className="font-mono">{flow.name}</span>
      </div>
      {flow.forkedFrom && (
        <div className="italic text-muted-foreground" data-testid="flow-lineage">
          {lineage(flow.forkedFrom)}
        </div>
      )}
      <label className="flex flex-col gap-0.5">
        <span className="font-medium">description</span>
        <textarea
          data-testid="flow-description"
          className={`${INPUT} h-14`}
          value={description}
          disabled={readOnly}
          onChange={(event) => setDescription(event.target.value)}
          onBlur={() => description !== (flow.description ?? "") && onChange({ ...flow, description })}
        />
      </label>
      <Table
        label="state keys"
        testId="state-editor"
        rows={(flow.state ?? {}) as Record<string, ValueType>}
        choices={TYPES}
        validName={NAME}
        nameHint="a state key is letters, digits and _"
        placeholder="key"
        readOnly={readOnly}
        onChange={(state) => onChange({ ...flow, state })}
      />
      <span className="-mt-2 text-[10px] text-muted-foreground">Nodes read and write only these keys; the run's input fills those the input node lists.</span>
      <Table
        label="tool permissions"
        testId="permissions-editor"
        rows={(flow.permissions ?? {}) as Record<string, ToolPermission>}
        choices={PERMISSIONS}
        validName={GLOB}
        nameHint="a tool name or glob: shell, fs.*, github.*"
        placeholder="tool or glob (fs.*)"
        readOnly={readOnly}
        onChange={(permissions) => onChange({ ...flow, permissions })}
      />
      <span className="-mt-2 text-[10px] text-muted-foreground">Applied after config.toml's [tools.permissions] for this flow's runs.</span>
      <BudgetEditor flow={flow} readOnly={readOnly} onChange={onChange} />
      <span className="text-[10px] text-muted-foreground">Select a node to edit it.</span>
    </aside>
  );
}
