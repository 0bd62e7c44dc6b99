import { Loader2, Plus } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { PROVIDER_PRESETS, providerConfig, providerDraft, providerDraftProblem, renameDraft, type ProviderDraft } from "./settingsState";

const field = "h-7 text-xs";
const select = "h-7 rounded border border-border bg-background px-1 text-xs text-foreground";

/**
 * Settings → Providers → Add: a preset fills the form; the key is stored in
 * the vault (never config.toml); once added the provider is tested at once.
 */
export function AddProvider({ taken, onAdded }: { taken: string[]; onAdded: () => void }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<ProviderDraft>(() => providerDraft("openai", taken));
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const problem = providerDraftProblem(draft);
  const set = (change: Partial<ProviderDraft>) => setDraft((current) => ({ ...current, ...change }));

  async function add() {
    if (problem) return;
    setBusy("Adding…");
    setMessage(null);
    try {
      const added = await commands.providerAdd(providerConfig(draft), draft.keyValue || null);
      if (added.status === "error") {
        setMessage({ text: added.error.message, ok: false });
        return;
      }
      onAdded();
      setBusy(`Testing ${draft.name}…`);
      const tested = await commands.testProvider(draft.name);
      setMessage(
        tested.status === "ok"
          ? { text: `added ${draft.name}; test answered in ${tested.data.elapsedMs} ms`, ok: true }
          : { text: `added ${draft.name}, but the test failed: ${tested.error.message}`, ok: false },
      );
      setDraft(providerDraft(draft.preset, [...taken, draft.name]));
      onAdded();
    } catch (error) {
      setMessage({ text: toIpcError(error).message, ok: false });
    } finally {
      setBusy(null);
    }
  }

  if (!open) {
    return (
      <div className="space-y-1">
        <Button size="sm" variant="outline" data-testid="provider-add-open" onClick={() => setOpen(true)}>
          <Plus /> Add a provider
        </Button>
        {message && (
          <div className={message.ok ? "text-xs" : "text-xs text-destructive"} role="status" data-testid="provider-add-result">
            {message.text}
          </div>
        )}
      </div>
    );
  }
  return (
    <form
      className="space-y-2 rounded-md border border-border p-2"
      data-testid="provider-add"
      aria-label="Add a provider"
      onSubmit={(event) => {
        event.preventDefault();
        void add();
      }}
    >
      <div className="grid grid-cols-[7rem_1fr] items-center gap-x-2 gap-y-1 text-xs">
        <label htmlFor="provider-preset">Service</label>
        <select id="provider-preset" className={select} value={draft.preset} onChange={(event) => setDraft(providerDraft(event.target.value, taken))}>
          {PROVIDER_PRESETS.map((preset) => (
            <option key={preset.id} value={preset.id}>
              {preset.label}
            </option>
          ))}
        </select>
        <label htmlFor="provider-name">Name</label>
        <Input id="provider-name" className={field} data-testid="provider-name" value={draft.name} onChange={(event) => setDraft((current) => renameDraft(current, event.target.value))} />
        <label htmlFor="provider-kind">Protocol</label>
        <select id="provider-kind" className={select} value={draft.kind} onChange={(event) => set({ kind: event.target.value as ProviderDraft["kind"] })}>
          <option value="openai">OpenAI Chat Completions</option>
          <option value="anthropic">Anthropic Messages</option>
        </select>
        <label htmlFor="provider-url">Base URL</label>
        <Input id="provider-url" className={field} data-testid="provider-url" value={draft.baseUrl} placeholder="http://127.0.0.1:8000/v1" onChange={(event) => set({ baseUrl: event.target.value })} />
        <label htmlFor="provider-model">Model</label>
        <Input id="provider-model" className={field} data-testid="provider-model" value={draft.model} placeholder="the name the server expects" onChange={(event) => set({ model: event.target.value })} />
        <label htmlFor="provider-key-name">Key (vault name)</label>
        <Input id="provider-key-name" className={field} value={draft.keyName} placeholder="none: no authentication" onChange={(event) => set({ keyName: event.target.value })} />
        <label htmlFor="provider-key">API key</label>
        <Input
          id="provider-key"
          type="password"
          autoComplete="off"
          className={field}
          value={draft.keyValue}
          placeholder={draft.keyName ? "paste it: stored in the vault, never in config.toml" : "—"}
          disabled={!draft.keyName}
          onChange={(event) => set({ keyValue: event.target.value })}
        />
        <label htmlFor="provider-context">Context (tokens)</label>
        <Input id="provider-context" className={field} value={draft.contextSize} placeholder="unknown" onChange={(event) => set({ contextSize: event.target.value })} />
        <span />
        <label className="flex items-center gap-1">
          <input type="checkbox" checked={draft.tools} onChange={(event) => set({ tools: event.target.checked })} /> The model can call tools
        </label>
      </div>
      <div className="flex items-center gap-2">
        <Button size="sm" type="submit" data-testid="provider-add-submit" disabled={problem !== null || busy !== null}>
          {busy ? <Loader2 className="animate-spin" /> : <Plus />} {busy ?? "Add and test"}
        </Button>
        <Button size="sm" type="button" variant="ghost" onClick={() => setOpen(false)}>
          Close
        </Button>
        {problem && <span className="text-xs text-muted-foreground">{problem}</span>}
      </div>
      {message && (
        <div className={message.ok ? "text-xs" : "text-xs text-destructive"} role="status" data-testid="provider-add-result">
          {message.text}
        </div>
      )}
    </form>
  );
}
