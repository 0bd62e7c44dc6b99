import { History as HistoryIcon, RotateCcw } from "lucide-react";
import { useEffect, useMemo, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type FlowEntry, type FlowVersion } from "@/ipc/bindings";
import type { FlowDoc } from "./flowGraph";
import { SidePanel } from "./SidePanel";
import { diffFlows, marksOf, type Mark } from "./versionDiff";

function parseVersion(version: FlowVersion | undefined): FlowDoc | null {
  if (!version) return null;
  try {
    return JSON.parse(version.content) as FlowDoc;
  } catch {
    return null;
  }
}

function when(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString();
}

const LINE = { "+": "text-emerald-800 dark:text-emerald-400", "-": "text-destructive", "@": "text-sky-800 dark:text-sky-400" } as Record<string, string>;

/** A flow's saved versions: pick two, see what changed (marked on the
 * canvas, listed, and as a JSON diff), roll back to the older one. */
export function VersionsPanel({
  name,
  onShow,
  onRolledBack,
  onClose,
}: {
  name: string;
  onShow: (compare: { flow: FlowDoc; marks: Record<string, Mark> } | null) => void;
  onRolledBack: (entry: FlowEntry, version: number) => void;
  onClose: () => void;
}) {
  const [versions, setVersions] = useState<FlowVersion[] | null>(null);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [diff, setDiff] = useState<string>("");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    void commands.flowVersions(name).then((result) => {
      if (result.status !== "ok") return setError(result.error.message);
      setVersions(result.data);
      const last = result.data.at(-1)?.version ?? null;
      setTo(last);
      setFrom(result.data.at(-2)?.version ?? last);
    });
  }, [name]);

  // Parsed once per choice: the canvas effect below must not fire on every render.
  const older = useMemo(() => parseVersion(versions?.find((version) => version.version === from)), [versions, from]);
  const newer = useMemo(() => parseVersion(versions?.find((version) => version.version === to)), [versions, to]);
  const changes = useMemo(() => (older && newer ? diffFlows(older, newer) : null), [older, newer]);

  useEffect(() => {
    if (from === null || to === null) return;
    void commands.flowDiff(name, from, to).then((result) => (result.status === "ok" ? setDiff(result.data) : setError(result.error.message)));
  }, [name, from, to]);

  // The canvas shows the newer version with its changes marked while the panel is open.
  useEffect(() => {
    if (newer && changes) onShow({ flow: newer, marks: marksOf(changes) });
  }, [newer, changes, onShow]);
  useEffect(() => () => onShow(null), [onShow]);

  const rollback = async () => {
    if (from === null) return;
    const result = await commands.flowRollback(name, from);
    if (result.status !== "ok") return setError(result.error.message);
    onRolledBack(result.data, from);
  };

  const picker = (label: string, value: number | null, set: (version: number) => void, testId: string) => (
    <label className="flex items-center gap-1">
      <span className="text-muted-foreground">{label}</span>
      <select data-testid={testId} className="rounded border border-border bg-background px-1 py-0.5" value={value ?? ""} onChange={(event) => set(Number(event.target.value))}>
        {versions?.map((version) => (
          <option key={version.version} value={version.version}>
            v{version.version} · {version.note}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <SidePanel
      testId="versions-panel"
      label={`Versions of ${name}`}
      closeLabel="Close versions"
      error={error}
      onClose={onClose}
      title={
        <>
          <HistoryIcon className="size-3.5" />
          <span className="font-semibold">Versions of {name}</span>
        </>
      }
    >
      {versions && versions.length === 0 && <div className="p-2 text-muted-foreground">No saved versions yet: Save or Run records one.</div>}
      {versions && versions.length > 0 && (
        <>
          <ol className="max-h-32 overflow-y-auto border-b border-border px-2 py-1" aria-label="History" data-testid="version-list">
            {[...versions].reverse().map((version) => (
              <li key={version.version} className="flex gap-2">
                <span className="font-mono">v{version.version}</span>
                <span className="truncate">{version.note}</span>
                <span className="ml-auto shrink-0 text-muted-foreground">{when(version.savedAt ?? 0)}</span>
              </li>
            ))}
          </ol>
          <div className="flex flex-wrap items-center gap-2 border-b border-border px-2 py-1.5">
            {picker("compare", from, setFrom, "version-from")}
            {picker("with", to, setTo, "version-to")}
          </div>
          {changes && (
            <div className="border-b border-border px-2 py-1.5" data-testid="version-changes">
              <span className="text-emerald-800 dark:text-emerald-400">+{changes.added.length} added</span> · <span className="text-amber-800 dark:text-amber-400">~{changes.changed.length} changed</span> ·{" "}
              <span className="text-destructive">−{changes.removed.length} removed</span> · {changes.moved.length} moved
              {changes.removed.length > 0 && <div className="text-destructive">removed: {changes.removed.join(", ")}</div>}
              {changes.edgesAdded.length + changes.edgesRemoved.length > 0 && (
                <div className="text-muted-foreground">
                  edges {changes.edgesAdded.map((edge) => `+${edge}`).join(", ")} {changes.edgesRemoved.map((edge) => `−${edge}`).join(", ")}
                </div>
              )}
              {changes.settings.length > 0 && <div className="text-muted-foreground">flow settings changed: {changes.settings.join(", ")}</div>}
            </div>
          )}
          <pre className="min-h-0 flex-1 overflow-auto p-2 font-mono text-[11px]" data-testid="version-diff">
            {diff
              .split("\n")
              .map((line, index) => (
                <div key={index} className={LINE[line[0] ?? ""] ?? "text-muted-foreground"}>
                  {line || " "}
                </div>
              ))}
          </pre>
          <div className="flex items-center gap-2 border-t border-border px-2 py-1.5">
            <Button size="sm" variant="outline" data-testid="version-rollback" disabled={from === null || from === to} onClick={() => void rollback()}>
              <RotateCcw className="size-3.5" /> Roll back to v{from}
            </Button>
            <span className="text-muted-foreground">writes v{from} back to the file, recorded as a new version</span>
          </div>
        </>
      )}
    </SidePanel>
  );
}
