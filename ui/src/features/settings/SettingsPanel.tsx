import { Channel } from "@tauri-apps/api/core";
import { ArrowDown, ArrowUp, Download, KeyRound, Loader2, Plug, Trash2, X } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type IpcError, type LlmSettings, type ProviderInfo, type PullEvent } from "@/ipc/bindings";
import { requestId, toIpcError } from "@/ipc/client";
import { cn } from "@/lib/utils";
import { ToolsTab } from "@/features/tools/ToolsTab";
import { notify } from "@/features/notify/notify";
import { moveProvider, pullLabel } from "./settingsState";
import { AddProvider } from "./AddProvider";
import { BundlesTab } from "./BundlesTab";
import { LogsTab } from "./LogsTab";
import { TelemetryTab } from "./TelemetryTab";
import { AuditTab } from "./AuditTab";
import { VaultTab } from "./VaultTab";
import type { ServerVaultPlace } from "./ServerVault";

export type Tab = "providers" | "models" | "tools" | "vault" | "telemetry" | "bundles" | "audit" | "logs";

function ProviderRow({
  provider,
  index,
  count,
  settings,
  onMove,
  onChanged,
  onRemove,
  keyShared = false,
  readOnly = false,
  mayTest = true,
  keysKnown = true,
}: {
  provider: ProviderInfo;
  index: number;
  count: number;
  settings: LlmSettings;
  onMove: (index: number, delta: number) => void;
  onChanged: () => void;
  /** Set for a `[[providers]]` entry (the local model is not removable); `true` also deletes its key from the vault. */
  onRemove?: (deleteKey: boolean) => void;
  /** Another provider uses the same key: it is not offered for deletion. */
  keyShared?: boolean;
  /** The role may not change the providers (a server's workspace). */
  readOnly?: boolean;
  /** The role may test a provider (run). */
  mayTest?: boolean;
  /** The vault's names are known (a server's role that may not list them: not). */
  keysKnown?: boolean;
}) {
  const [testing, setTesting] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [key, setKey] = useState("");
  const hasKey = provider.key !== null && provider.key !== undefined && settings.secrets.includes(provider.key);

  async function test() {
    setTesting(true);
    setResult(null);
    try {
      const outcome = await commands.testProvider(provider.name);
      setResult(
        outcome.status === "ok"
          ? `ok in ${outcome.data.elapsedMs} ms — “${outcome.data.text.trim()}”`
          : outcome.error.message,
      );
    } catch (error) {
      setResult(toIpcError(error).message);
    } finally {
      setTesting(false);
    }
  }

  async function saveKey() {
    if (!provider.key || !key) return;
    const saved = await commands.storeSecret(provider.key, key);
    setKey("");
    setResult(saved.status === "ok" ? `key stored in the vault as “${provider.key}”` : saved.error.message);
    onChanged();
  }

  return (
    <li className="rounded-md border border-border p-2" data-testid="provider-row">
      <div className="flex items-center gap-2">
        <span className="w-5 text-xs text-muted-foreground">{index + 1}.</span>
        <span className="font-medium">{provider.name}</span>
        <Badge>{provider.kind}</Badge>
        <span className="min-w-0 truncate font-mono text-xs text-muted-foreground" title={provider.model}>
          {provider.model}
        </span>
        {provider.remote && settings.offline && <Badge>skipped: offline</Badge>}
        <div className="ml-auto flex gap-1">
          {!readOnly && (
            <>
              <Button size="icon" variant="ghost" aria-label="Move up" disabled={index === 0} onClick={() => onMove(index, -1)}>
                <ArrowUp />
              </Button>
              <Button size="icon" variant="ghost" aria-label="Move down" disabled={index === count - 1} onClick={() => onMove(index, 1)}>
                <ArrowDown />
              </Button>
            </>
          )}
          {mayTest && (
            <Button size="sm" variant="outline" onClick={() => void test()} disabled={testing} data-testid="test-provider">
              {testing ? <Loader2 className="animate-spin" /> : <Plug />} Test
            </Button>
          )}
          {onRemove && !readOnly && !confirming && (
            <Button size="icon" variant="ghost" aria-label={`Remove ${provider.name}`} data-testid="provider-remove" onClick={() => setConfirming(true)}>
              <Trash2 />
            </Button>
          )}
        </div>
      </div>
      {onRemove && confirming && (
        <div className="mt-1 flex items-center gap-2 pl-7 text-xs">
          <span>
            Remove {provider.name} from config.toml and the policy?
            {hasKey && (keyShared ? ` Its key “${provider.key}” stays in the vault: another provider uses it.` : " Its key can stay in the vault (an MCP server or API may use it too).")}
          </span>
          <Button size="sm" variant="destructive" data-testid="provider-remove-confirm" onClick={() => onRemove(false)}>
            Remove
          </Button>
          {hasKey && !keyShared && (
            <Button size="sm" variant="destructive" data-testid="provider-remove-with-key" onClick={() => onRemove(true)}>
              Remove and delete its key
            </Button>
          )}
          <Button size="sm" variant="ghost" onClick={() => setConfirming(false)}>
            Cancel
          </Button>
        </div>
      )}
      <div className="mt-1 pl-7 text-xs text-muted-foreground">
        {provider.contextSize ? `${provider.contextSize} tokens context` : "context unknown"} · tools{" "}
        {provider.tools ? "yes" : "no"}
        {provider.key && <> · key “{provider.key}”{keysKnown ? (hasKey ? " stored in the vault" : " missing") : ""}</>}
      </div>
      {provider.key && !readOnly && (
        <form
          className="mt-1 flex gap-1 pl-7"
          onSubmit={(event) => {
            event.preventDefault();
            void saveKey();
          }}
        >
          <Input
            type="password"
            autoComplete="off"
            placeholder={hasKey ? "replace the stored key" : "paste the API key"}
            value={key}
            onChange={(event) => setKey(event.target.value)}
            className="h-7 text-xs"
          />
          <Button size="sm" variant="outline" type="submit" disabled={!key}>
            <KeyRound /> Save
          </Button>
        </form>
      )}
      {result && (
        <div className="mt-1 pl-7 text-xs" data-testid="provider-result">
          {result}
        </div>
      )}
    </li>
  );
}

function ModelsTab({ settings, onChanged, server = null }: { settings: LlmSettings; onChanged: () => void; server?: string | null }) {
  const [pulling, setPulling] = useState<{ name: string; id: string; event: PullEvent | null } | null>(null);
  const [source, setSource] = useState("");
  const [message, setMessage] = useState<string | null>(null);

  async function pull(name: string) {
    const id = requestId("pull");
    setPulling({ name, id, event: null });
    setMessage(null);
    const channel = new Channel<PullEvent>();
    channel.onmessage = (event) => setPulling({ name, id, event });
    try {
      const result = await commands.pullModel(id, name, channel);
      setMessage(result.status === "ok" ? `installed ${result.data.name}` : result.error.message);
      if (result.status === "ok") notify(`Model ${result.data.name} installed`, { body: "downloaded and checked (sha256)" });
      else if (result.error.code !== "cancelled") notify(`Pulling ${name} failed`, { kind: "failed", body: result.error.message });
    } catch (error) {
      setMessage(toIpcError(error).message);
    } finally {
      setPulling(null);
      onChanged();
    }
  }

  async function remove(name: string) {
    const result = await commands.removeModel(name);
    setMessage(result.status === "ok" ? `removed ${name}` : result.error.message);
    onChanged();
  }

  return (
    <div className="space-y-3">
      <ul className="space-y-1" data-testid="model-list">
        {settings.models.map((model) => (
          <li key={model.name} className="flex items-center gap-2 rounded-md border border-border p-2 text-sm">
            <span className="min-w-0 flex-1 truncate font-mono text-xs" title={model.name}>
              {model.name}
            </span>
            <Badge>{model.kind}</Badge>
            {model.default && <Badge>default</Badge>}
            <span className="shrink-0 text-xs text-muted-foreground">
              {model.installed ? `${((model.bytes ?? 0) / 1e6).toFixed(0)} MB` : "not installed"}
            </span>
            {server === null && !model.installed && model.source === "catalog" && (
              <Button size="sm" variant="outline" disabled={pulling !== null} onClick={() => void pull(model.name)}>
                <Download /> Pull
              </Button>
            )}
            {server === null && model.installed && !model.default && model.kind === "chat" && (
              <Button size="icon" variant="ghost" aria-label={`Remove ${model.name}`} onClick={() => void remove(model.name)}>
                <Trash2 />
              </Button>
            )}
          </li>
        ))}
      </ul>
      {pulling && (
        <div className="flex items-center gap-2 text-xs" data-testid="pull-progress">
          <Loader2 className="size-3 animate-spin" /> {pulling.name}: {pullLabel(pulling.event)}
          <Button size="sm" variant="ghost" onClick={() => void commands.cancel(pulling.id)}>
            Cancel
          </Button>
        </div>
      )}
      {server !== null ? (
        <p className="text-xs text-muted-foreground" data-testid="models-where">
          The models of {server}: installed on the server's machine (`codexos models pull NAME` there), not from here.
        </p>
      ) : (
      <>
      <form
        className="flex gap-1"
        onSubmit={(event) => {
          event.preventDefault();
          if (source.trim()) void pull(source.trim());
          setSource("");
        }}
      >
        <Input
          placeholder="catalog name or https://huggingface.co/…/resolve/main/model.gguf"
          value={source}
          onChange={(event) => setSource(event.target.value)}
          className="h-8 text-xs"
        />
        <Button size="sm" type="submit" disabled={!source.trim() || pulling !== null}>
          <Download /> Pull
        </Button>
      </form>
      <p className="text-xs text-muted-foreground">Drop a .gguf file onto the window to import it.</p>
      </>
      )}
      {message && (
        <div className="text-xs" data-testid="models-message">
          {message}
        </div>
      )}
    </div>
  );
}

export function SettingsPanel({
  onClose,
  onChanged,
  project,
  initialTab = "providers",
  server = null,
}: {
  onClose: () => void;
  onChanged?: () => void;
  project?: string | null;
  initialTab?: Tab;
  /** A server's workspace open: its providers, models, tools and vault
   * show (admins and owners — `canSet` — change its providers). */
  server?: ServerVaultPlace | null;
}) {
  const readOnly = server !== null && !server.canSet;
  const [tab, setTab] = useState<Tab>(initialTab);
  const [settings, setSettings] = useState<LlmSettings | null>(null);
  const [confirmingUnused, setConfirmingUnused] = useState<string | null>(null);
  const [error, setError] = useState<IpcError | null>(null);

  const refresh = useCallback(() => {
    (server ? commands.workspaceLlmSettings() : commands.llmSettings())
      .then((result) => (result.status === "ok" ? setSettings(result.data) : setError(result.error)))
      .catch((caught: unknown) => setError(toIpcError(caught)));
    onChanged?.();
  }, [onChanged, server]);

  useEffect(() => refresh(), [refresh]);

  async function move(index: number, delta: number) {
    if (!settings) return;
    const order = moveProvider(
      settings.providers.map((provider) => provider.name),
      index,
      delta,
    );
    const result = await commands.setPolicy(order);
    if (result.status === "error") setError(result.error);
    refresh();
  }

  async function removeProvider(name: string, key: string | null = null) {
    const result = await commands.providerRemove(name);
    const deleted = result.status === "ok" && key ? await (server ? commands.workspaceSecretRemove(key) : commands.vaultRemove(key)) : null;
    setError(result.status === "error" ? result.error : deleted?.status === "error" ? deleted.error : null);
    refresh();
  }

  async function addToPolicy(name: string) {
    if (!settings) return;
    const result = await commands.setPolicy([...settings.providers.map((provider) => provider.name), name]);
    setError(result.status === "error" ? result.error : null);
    refresh();
  }

  async function toggleOffline() {
    if (!settings) return;
    const result = await commands.setOffline(!settings.offline);
    if (result.status === "error") setError(result.error);
    refresh();
  }

  return (
    <div className="absolute inset-0 z-10 flex flex-col bg-background" data-testid="settings">
      {/* Wraps in a narrow column, so Close never sits over a tab. */}
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-4 py-2">
        <h2 className="text-sm font-semibold">Settings</h2>
        {(["providers", "models", "tools", "vault", "telemetry", "bundles", "audit", "logs"] as const).map((name) => (
          <button
            key={name}
            type="button"
            className={cn("rounded px-2 py-1 text-xs capitalize", tab === name ? "bg-primary/20" : "text-muted-foreground")}
            onClick={() => setTab(name)}
          >
            {name}
          </button>
        ))}
        <Button className="ml-auto" size="icon" variant="ghost" aria-label="Close settings" onClick={onClose}>
          <X />
        </Button>
      </div>
      <div className="flex-1 overflow-y-auto p-4 text-sm">
        {error && (
          <div className="mb-2 text-destructive" role="alert">
            {error.message}
          </div>
        )}
        {!settings && !error && <Loader2 className="animate-spin" />}
        {settings && tab === "providers" && (
          <div className="space-y-3">
            {server ? (
              <p className="text-xs" data-testid="providers-where">
                The providers of {server.label}, used by its runs, asks and chats{settings.offline ? " — offline: remote providers are skipped there" : ""}.
                {readOnly ? ` Your role (${server.role}) reads them; admins and owners change them.` : " Changes are saved in the workspace's config.toml on the server; keys go to its vault."}
              </p>
            ) : (
              <label className="flex items-center gap-2 text-xs">
                <input type="checkbox" checked={settings.offline} onChange={() => void toggleOffline()} data-testid="offline" />
                Offline: never call a remote provider
              </label>
            )}
            <p className="text-xs text-muted-foreground">
              Requests go to the first provider that can take them and fall back down this list on errors, timeouts,
              rate limits and missing capabilities. Remote providers are saved in config.toml ([[providers]]); their keys in
              the vault.
            </p>
            <ol className="space-y-2">
              {settings.providers.map((provider, index) => (
                <ProviderRow
                  key={provider.name}
                  provider={provider}
                  index={index}
                  count={settings.providers.length}
                  settings={settings}
                  onMove={(at, delta) => void move(at, delta)}
                  onChanged={refresh}
                  onRemove={
                    settings.configured.some((entry) => entry.name === provider.name)
                      ? (deleteKey) => void removeProvider(provider.name, deleteKey ? (provider.key ?? null) : null)
                      : undefined
                  }
                  keyShared={settings.configured.some((entry) => entry.name !== provider.name && entry.key != null && entry.key.replace(/^vault:\/\//, "") === provider.key)}
                  readOnly={readOnly}
                  mayTest={server === null || server.canRun !== false}
                  keysKnown={server === null || server.canList}
                />
              ))}
            </ol>
            {!readOnly && settings.configured.some((entry) => !settings.providers.some((provider) => provider.name === entry.name)) && (
              <section aria-label="Providers not in the policy" data-testid="unused-providers">
                <h3 className="text-xs font-semibold">In config.toml, not in the policy</h3>
                <ul className="space-y-1 pt-1">
                  {settings.configured
                    .filter((entry) => !settings.providers.some((provider) => provider.name === entry.name))
                    .map((entry) => (
                      <li key={entry.name} className="flex items-center gap-2 text-xs">
                        <span className="font-medium">{entry.name}</span>
                        <span className="min-w-0 truncate font-mono text-muted-foreground" title={`${entry.base_url} · ${entry.model}`}>
                          {entry.model}
                        </span>
                        <Button size="sm" variant="outline" className="ml-auto" onClick={() => void addToPolicy(entry.name)}>
                          Use last
                        </Button>
                        <Button
                          size="sm"
                          variant={confirmingUnused === entry.name ? "destructive" : "ghost"}
                          aria-label={`Remove ${entry.name}`}
                          onBlur={() => setConfirmingUnused(null)}
                          onClick={() => (confirmingUnused === entry.name ? void removeProvider(entry.name) : setConfirmingUnused(entry.name))}
                        >
                          <Trash2 /> {confirmingUnused === entry.name ? "Remove for good?" : ""}
                        </Button>
                      </li>
                    ))}
                </ul>
              </section>
            )}
            {!readOnly && <AddProvider taken={[...settings.configured.map((entry) => entry.name), "local"]} onAdded={refresh} />}
            <h3 className="pt-2 text-xs font-semibold">Recent attempts</h3>
            <table className="w-full text-left text-xs" data-testid="attempts">
              <tbody>
                {settings.attempts.map((attempt, index) => (
                  <tr key={`${attempt.request}-${index}`} className="border-t border-border">
                    <td className="py-1 pr-2">{attempt.provider}</td>
                    <td className={cn("pr-2", attempt.outcome === "ok" ? "text-primary" : "text-destructive")}>{attempt.outcome}</td>
                    <td className="pr-2">{attempt.latencyMs} ms</td>
                    <td className="pr-2">
                      {attempt.promptTokens}+{attempt.completionTokens}
                    </td>
                    <td className="truncate text-muted-foreground">{attempt.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {settings && tab === "models" && <ModelsTab settings={settings} onChanged={refresh} server={server?.label ?? null} />}
        {tab === "tools" && <ToolsTab project={server ? null : (project ?? null)} server={server?.label ?? null} />}
        {tab === "vault" && <VaultTab server={server} />}
        {tab === "telemetry" && <TelemetryTab />}
        {tab === "bundles" && <BundlesTab server={server?.label ?? null} />}
        {tab === "audit" && <AuditTab />}
        {tab === "logs" && <LogsTab />}
      </div>
    </div>
  );
}
