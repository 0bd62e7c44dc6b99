import { ShieldCheck } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type AuditCheck, type AuditEntry } from "@/ipc/bindings";

const FIELD = "rounded border border-border bg-background px-1.5 py-0.5 text-xs";
const ACTIONS = ["", "secret", "vault", "flow", "agent", "provider", "policy", "tool", "tool-source", "otlp", "signer", "bundle", "project", "model", "dataset", "eval", "conversation"] as const;

function when(atMs: number): string {
  return new Date(atMs).toISOString().replace("T", " ").slice(0, 19);
}

/** The audit log: every change and every secret use — who, what, when,
 * from where — newest first, filtered by action and text; "Verify" checks
 * the whole hash chain. */
export function AuditTab() {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [action, setAction] = useState("");
  const [search, setSearch] = useState("");
  const [check, setCheck] = useState<AuditCheck | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  /** Bumped by every listing asked for: an older answer never replaces a newer one. */
  const generation = useRef(0);
  const load = useCallback(() => {
    generation.current += 1;
    const mine = generation.current;
    void commands.auditEntries(action, search, 500).then((result) => {
      if (mine !== generation.current) return;
      if (result.status === "ok") setEntries(result.data);
      else setMessage(result.error.message);
    });
  }, [action, search]);
  useEffect(load, [load]);

  const verify = async () => {
    setMessage(null);
    const result = await commands.auditVerify(null);
    if (result.status === "ok") setCheck(result.data);
    else setMessage(result.error.message);
    load();
  };

  return (
    <div className="flex h-full flex-col gap-2" data-testid="audit-tab">
      <p className="text-xs text-muted-foreground">
        Changes (secrets, flows, agents, providers, tools, endpoints, signers, bundles, models, projects, datasets, evals, conversations deleted) and every use of a vault secret, kept in an append-only log whose entries are hash-chained: an edited entry, or one deleted or inserted before the last, breaks the chain from there on; a cut or rewritten tail shows against a head recorded earlier (`codexos audit verify --head`).
      </p>
      <div className="flex flex-wrap items-center gap-2 text-xs">
        <label className="flex items-center gap-1">
          action
          <select aria-label="Action" data-testid="audit-action" className={FIELD} value={action} onChange={(event) => setAction(event.target.value)}>
            {ACTIONS.map((name) => (
              <option key={name} value={name}>
                {name || "every action"}
              </option>
            ))}
          </select>
        </label>
        <input aria-label="Target or detail contains" data-testid="audit-search" className={`${FIELD} min-w-[8rem] flex-1`} placeholder="target or detail" value={search} onChange={(event) => setSearch(event.target.value)} />
        <Button size="sm" variant="outline" data-testid="audit-verify" onClick={() => void verify()}>
          <ShieldCheck className="size-3.5" /> Verify the chain
        </Button>
      </div>
      {check && (
        <div className={`text-xs ${check.broken ? "text-destructive" : "text-emerald-800 dark:text-emerald-400"}`} role={check.broken ? "alert" : "status"} data-testid="audit-check" data-whole={!check.broken}>
          {check.broken ? `Tampered with at entry ${check.broken.seq}: ${check.broken.reason}` : `The log is whole: ${check.entries} entries · head ${check.head}`}
        </div>
      )}
      {message && (
        <div className="text-xs text-destructive" role="alert">
          {message}
        </div>
      )}
      <div className="min-h-0 flex-1 overflow-auto rounded border border-border">
        <table className="w-full text-left text-xs" aria-label="Audit entries">
          <thead className="sticky top-0 bg-background text-muted-foreground">
            <tr>
              <th className="px-2 py-1 font-normal">#</th>
              <th className="px-2 py-1 font-normal">when (UTC)</th>
              <th className="px-2 py-1 font-normal">who</th>
              <th className="px-2 py-1 font-normal">from</th>
              <th className="px-2 py-1 font-normal">action</th>
              <th className="px-2 py-1 font-normal">target</th>
              <th className="px-2 py-1 font-normal">detail</th>
            </tr>
          </thead>
          <tbody>
            {entries?.length === 0 && (
              <tr>
                <td colSpan={7} className="px-2 py-2 text-muted-foreground">
                  No entries match.
                </td>
              </tr>
            )}
            {entries?.map((entry) => (
              <tr key={entry.seq} className="border-t border-border align-top" data-testid="audit-entry" data-action={entry.action}>
                <td className="px-2 py-1 font-mono text-muted-foreground">{entry.seq}</td>
                <td className="whitespace-nowrap px-2 py-1 font-mono">{when(entry.atMs)}</td>
                <td className="px-2 py-1">{entry.who}</td>
                <td className="px-2 py-1">{entry.origin}</td>
                <td className="px-2 py-1 font-mono">{entry.action}</td>
                <td className="break-all px-2 py-1 font-mono">{entry.target}</td>
                <td className="break-all px-2 py-1 font-mono text-muted-foreground">{entry.detail === "{}" ? "" : entry.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
