import { Loader2, Plus, RefreshCw, Send, Trash2 } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type OtlpStatus } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { otlpConfig, otlpDraft, otlpDraftProblem, switchProtocol, type OtlpDraft } from "./telemetryState";

const field = "h-7 text-xs";
const select = "h-7 rounded border border-border bg-background px-1 text-xs text-foreground";

function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}

function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "never" : new Date(ms).toLocaleString();
}

function EndpointRow({ endpoint, onChanged, onMessage }: { endpoint: OtlpStatus; onChanged: () => void; onMessage: (text: string, ok: boolean) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [testing, setTesting] = useState(false);

  async function test() {
    setTesting(true);
    const result = await commands.otlpTest(endpoint.name);
    setTesting(false);
    onMessage(result.status === "ok" ? `${endpoint.name} accepted an empty export` : result.error.message, result.status === "ok");
    onChanged();
  }

  async function remove() {
    if (!confirming) return setConfirming(true);
    const result = await commands.otlpRemove(endpoint.name);
    setConfirming(false);
    if (result.status === "error") onMessage(result.error.message, false);
    onChanged();
  }

  return (
    <li className="space-y-1 rounded-md border border-border p-2" data-testid="otlp-endpoint" data-name={endpoint.name} data-pending={endpoint.pending} data-sent={endpoint.runsSent}>
      <div className="flex items-center gap-2">
        <span className="font-medium">{endpoint.name}</span>
        <span className="min-w-0 flex-1 truncate font-mono text-xs text-muted-foreground" title={endpoint.endpoint}>
          {endpoint.endpoint} · {endpoint.protocol}
          {endpoint.captureContent ? " · content sent" : ""}
          {endpoint.headers.length > 0 ? ` · headers: ${endpoint.headers.join(", ")}` : ""}
        </span>
        <Button size="sm" variant="ghost" onClick={() => void test()} disabled={testing} data-testid="otlp-test">
          {testing ? <Loader2 className="animate-spin" /> : <RefreshCw />} Test
        </Button>
        <Button size="sm" variant={confirming ? "destructive" : "ghost"} onClick={() => void remove()} onBlur={() => setConfirming(false)} data-testid="otlp-remove" aria-label={`Remove ${endpoint.name}`}>
          <Trash2 /> {confirming ? "Remove for good?" : "Remove"}
        </Button>
      </div>
      <div className="text-xs text-muted-foreground" data-testid="otlp-figures">
        sent {plural(endpoint.runsSent, "run")} ({plural(endpoint.spansSent, "span")}) · {endpoint.pending} waiting
        {endpoint.rejected > 0 ? ` · ${endpoint.rejected} spans rejected` : ""}
        {endpoint.dropped > 0 ? ` · ${endpoint.dropped} runs dropped (backlog full, or refused for good by the endpoint)` : ""} · last sent {when(endpoint.lastSentMs)}
      </div>
      {endpoint.lastError && (
        <div className="text-xs text-destructive" data-testid="otlp-error">
          {endpoint.lastError}
        </div>
      )}
    </li>
  );
}

function AddEndpoint({ taken, onAdded }: { taken: string[]; onAdded: () => void }) {
  const [draft, setDraft] = useState<OtlpDraft>(() => otlpDraft(taken));
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const problem = otlpDraftProblem(draft, taken);
  const set = (change: Partial<OtlpDraft>) => setDraft((current) => ({ ...current, ...change }));

  async function add() {
    if (problem) return;
    setBusy(true);
    setMessage(null);
    try {
      const added = await commands.otlpAdd(otlpConfig(draft), draft.pastRuns, draft.unchecked);
      if (added.status === "error") {
        setMessage({ text: added.error.message, ok: false });
        return;
      }
      setMessage({ text: `added ${draft.name}${draft.unchecked ? " (not tested)" : "; it accepted a test export"}`, ok: true });
      setDraft(otlpDraft([...taken, draft.name]));
      onAdded();
    } catch (error) {
      setMessage({ text: toIpcError(error).message, ok: false });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="space-y-2 rounded-md border border-border p-2"
      data-testid="otlp-add"
      aria-label="Add an OpenTelemetry endpoint"
      onSubmit={(event) => {
        event.preventDefault();
        void add();
      }}
    >
      <div className="grid grid-cols-[9rem_1fr] items-center gap-x-2 gap-y-1 text-xs">
        <label htmlFor="otlp-name">Name</label>
        <Input id="otlp-name" className={field} data-testid="otlp-name" value={draft.name} onChange={(event) => set({ name: event.target.value })} />
        <label htmlFor="otlp-protocol">Protocol</label>
        <select id="otlp-protocol" className={select} data-testid="otlp-protocol" value={draft.protocol} onChange={(event) => setDraft((current) => switchProtocol(current, event.target.value as OtlpDraft["protocol"]))}>
          <option value="http/protobuf">OTLP/HTTP (protobuf)</option>
          <option value="grpc">OTLP/gRPC</option>
        </select>
        <label htmlFor="otlp-url">URL</label>
        <Input id="otlp-url" className={field} data-testid="otlp-url" value={draft.endpoint} placeholder="http://127.0.0.1:4318" onChange={(event) => set({ endpoint: event.target.value })} />
        <label htmlFor="otlp-secret">Secret header (vault)</label>
        <div className="flex gap-1">
          <Input className={`${field} w-36`} aria-label="Header name" value={draft.secretHeader} onChange={(event) => set({ secretHeader: event.target.value })} />
          <Input id="otlp-secret" className={field} value={draft.secretName} placeholder="vault secret name (none: no authentication)" onChange={(event) => set({ secretName: event.target.value })} />
        </div>
        <label htmlFor="otlp-headers">Other headers</label>
        <textarea id="otlp-headers" className="min-h-12 rounded border border-border bg-background p-1 font-mono text-xs" value={draft.headers} placeholder="x-team: core (one Name: value per line)" onChange={(event) => set({ headers: event.target.value })} />
        <span />
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          <label className="flex items-center gap-1">
            <input type="checkbox" checked={draft.captureContent} onChange={(event) => set({ captureContent: event.target.checked })} /> Send content (tool arguments and results, node writes, outputs)
          </label>
          <label className="flex items-center gap-1">
            <input type="checkbox" data-testid="otlp-past-runs" checked={draft.pastRuns} onChange={(event) => set({ pastRuns: event.target.checked })} /> Send the runs stored so far too
          </label>
          <label className="flex items-center gap-1">
            <input type="checkbox" data-testid="otlp-unchecked" checked={draft.unchecked} onChange={(event) => set({ unchecked: event.target.checked })} /> Add without a test (it is down now)
          </label>
        </div>
      </div>
      <div className="flex items-center gap-2">
        <Button size="sm" type="submit" data-testid="otlp-add-submit" disabled={problem !== null || busy}>
          {busy ? <Loader2 className="animate-spin" /> : <Plus />} {draft.unchecked ? "Add" : "Test and add"}
        </Button>
        {problem && <span className="text-xs text-muted-foreground">{problem}</span>}
      </div>
      {message && (
        <div className={message.ok ? "text-xs" : "text-xs text-destructive"} role="status" data-testid="otlp-add-result">
          {message.text}
        </div>
      )}
    </form>
  );
}

/**
 * Settings → Telemetry: OpenTelemetry endpoints. Every run that ends is
 * sent to each as OTLP spans; a run waits while its endpoint is down.
 */
export function TelemetryTab() {
  const [endpoints, setEndpoints] = useState<OtlpStatus[] | null>(null);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const [flushing, setFlushing] = useState(false);

  const refresh = useCallback(async () => {
    const result = await commands.otlpStatus();
    if (result.status === "ok") setEndpoints(result.data);
    else setMessage({ text: result.error.message, ok: false });
  }, []);

  useEffect(() => {
    void refresh();
    // The app sends in the background: keep the figures current.
    const timer = setInterval(() => void refresh(), 3_000);
    return () => clearInterval(timer);
  }, [refresh]);

  async function flush() {
    setFlushing(true);
    const result = await commands.otlpFlush();
    setFlushing(false);
    if (result.status === "error") setMessage({ text: result.error.message, ok: false });
    else {
      const failed = result.data.find((report) => report.error);
      const runs = result.data.reduce((sum, report) => sum + report.runs, 0);
      const refused = result.data.reduce((sum, report) => sum + report.refused, 0);
      const skipped = refused > 0 ? ` · ${plural(refused, "run")} refused for good by the endpoint and skipped (the reason is in Settings → Logs)` : "";
      setMessage(failed ? { text: failed.error ?? "", ok: false } : { text: `sent ${plural(runs, "run")}${skipped}`, ok: true });
    }
    void refresh();
  }

  return (
    <div className="space-y-3" data-testid="telemetry">
      <p className="text-xs text-muted-foreground">
        Every run that ends is sent to each endpoint as OpenTelemetry spans (OTLP, GenAI conventions): the run, each node, each model call and router attempt with tokens, cost and latency, each tool call — asks and chat turns included. While an endpoint is down, runs wait and are sent in order when it is back; offline mode sends nothing. See docs/telemetry.md for Langfuse, Jaeger and others.
      </p>
      {endpoints === null ? (
        <Loader2 className="animate-spin" />
      ) : endpoints.length === 0 ? (
        <p className="text-xs" data-testid="otlp-none">
          No endpoint yet: add one below (a local collector listens on 4318 for HTTP, 4317 for gRPC).
        </p>
      ) : (
        <>
          <ul className="space-y-2">
            {endpoints.map((endpoint) => (
              <EndpointRow key={endpoint.name} endpoint={endpoint} onChanged={() => void refresh()} onMessage={(text, ok) => setMessage({ text, ok })} />
            ))}
          </ul>
          <Button size="sm" variant="outline" onClick={() => void flush()} disabled={flushing} data-testid="otlp-flush">
            {flushing ? <Loader2 className="animate-spin" /> : <Send />} Send waiting runs now
          </Button>
        </>
      )}
      {message && (
        <div className={message.ok ? "text-xs" : "text-xs text-destructive"} role="status" data-testid="otlp-message">
          {message.text}
        </div>
      )}
      <AddEndpoint taken={(endpoints ?? []).map((endpoint) => endpoint.name)} onAdded={() => void refresh()} />
    </div>
  );
}
