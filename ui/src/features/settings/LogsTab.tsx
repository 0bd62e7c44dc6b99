import { Copy } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type LogLine } from "@/ipc/bindings";

const LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
const COLOUR: Record<string, string> = { ERROR: "text-destructive", WARN: "text-amber-800 dark:text-amber-400", INFO: "text-sky-800 dark:text-sky-400", DEBUG: "text-muted-foreground", TRACE: "text-muted-foreground" };
const FIELD = "rounded border border-border bg-background px-1.5 py-0.5 text-xs";

/** The app's structured log, live (refreshed every two seconds while
 * "follow" is on), filtered by level, component and text; copyable. */
export function LogsTab() {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [level, setLevel] = useState<string>("info");
  const [component, setComponent] = useState("");
  const [text, setText] = useState("");
  const [follow, setFollow] = useState(true);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(() => {
    void commands.logs({ level, component: component || null, text: text || null, limit: 500 }).then((result) => {
      if (result.status === "ok") setLines(result.data);
      else setMessage(result.error.message);
    });
  }, [level, component, text]);
  useEffect(() => {
    load();
    if (!follow) return;
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, [load, follow]);

  const copy = async () => {
    const body = lines.map((line) => `${line.time} ${line.level} ${line.component}: ${line.message}${line.fields ? ` ${line.fields}` : ""}`).join("\n");
    try {
      await navigator.clipboard.writeText(body);
      setMessage(`copied ${lines.length} lines`);
    } catch (error) {
      setMessage(`the clipboard refused (${String(error)}); select the lines and copy them instead`);
    }
  };

  return (
    <div className="flex h-full flex-col gap-2" data-testid="logs-tab">
      <div className="flex flex-wrap items-center gap-2 text-xs">
        <label className="flex items-center gap-1">
          level
          <select aria-label="Least severe level shown" data-testid="logs-level" className={`${FIELD}`} value={level} onChange={(event) => setLevel(event.target.value)}>
            {LEVELS.map((name) => (
              <option key={name} value={name}>
                {name} and above
              </option>
            ))}
          </select>
        </label>
        <input aria-label="Component" data-testid="logs-component" className={FIELD} placeholder="component (codexos_rag)" value={component} onChange={(event) => setComponent(event.target.value)} />
        <input aria-label="Text" data-testid="logs-text" className={`${FIELD} min-w-[8rem] flex-1`} placeholder="text" value={text} onChange={(event) => setText(event.target.value)} />
        <label className="flex items-center gap-1">
          <input type="checkbox" checked={follow} onChange={(event) => setFollow(event.target.checked)} data-testid="logs-follow" /> follow
        </label>
        <Button size="sm" variant="outline" data-testid="logs-copy" onClick={() => void copy()}>
          <Copy className="size-3.5" /> Copy
        </Button>
      </div>
      {message && (
        <div className="text-xs text-muted-foreground" role="status">
          {message}
        </div>
      )}
      <div className="min-h-0 flex-1 overflow-auto rounded border border-border p-1 font-mono text-[11px]" data-testid="logs-lines" aria-label="Log lines" role="log" tabIndex={0}>
        {lines.length === 0 && <div className="text-muted-foreground">No log lines match.</div>}
        {lines.map((line, index) => (
          <div key={`${index}-${line.time}`} className="flex gap-2 whitespace-pre-wrap break-all" data-testid="log-line" data-level={line.level}>
            <span className="shrink-0 text-muted-foreground">{line.time.slice(11, 23)}</span>
            <span className={`w-10 shrink-0 ${COLOUR[line.level] ?? ""}`}>{line.level}</span>
            <span className="shrink-0 text-muted-foreground">{line.component}</span>
            <span>
              {line.message}
              {line.fields && <span className="text-muted-foreground"> {line.fields}</span>}
            </span>
          </div>
        ))}
      </div>
    </div>
  );
}
