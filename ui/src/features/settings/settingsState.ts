// Pure logic of Settings → Providers / Models and the chat's model picker.
import type { LlmSettings, ProviderConfig_Deserialize, PullEvent } from "@/ipc/bindings";

/** The policy order with the provider at `index` moved by `delta` (−1 up, +1 down). */
export function moveProvider(order: string[], index: number, delta: number): string[] {
  const target = index + delta;
  if (index < 0 || index >= order.length || target < 0 || target >= order.length) return order;
  const next = [...order];
  const [moved] = next.splice(index, 1);
  if (moved !== undefined) next.splice(target, 0, moved);
  return next;
}

/** One option of the chat's model picker: `null` value means "the policy". */
export interface ModelChoice {
  value: string | null;
  label: string;
}

/** The policy first, then each provider, then installed local models not in the policy. */
export function modelChoices(settings: LlmSettings | null): ModelChoice[] {
  if (!settings) return [{ value: null, label: "Policy" }];
  const names = settings.providers.map((provider) => provider.name);
  const choices: ModelChoice[] = [{ value: null, label: `Policy (${names.join(" → ") || "none"})` }];
  for (const provider of settings.providers) {
    const offline = settings.offline && provider.remote ? " — offline" : "";
    choices.push({ value: provider.name, label: `${provider.name} · ${provider.model}${offline}` });
  }
  for (const model of settings.models) {
    if (model.kind === "chat" && model.installed && !settings.providers.some((provider) => provider.model === model.name)) {
      choices.push({ value: model.name, label: `${model.name} (local file)` });
    }
  }
  return choices;
}

/** The picker's options for a server's workspace, from the models it
 * lists (`codexos` is its policy, the default). */
export function serverModelChoices(models: string[]): ModelChoice[] {
  return [{ value: null, label: "The server's policy" }, ...models.filter((name) => name !== "codexos").map((name) => ({ value: name, label: name }))];
}

/** "34 % of part 2/6 (Qwen…whl)" style text for a pull in progress. */
export function pullLabel(event: PullEvent | null): string {
  if (!event) return "starting…";
  if (event.type === "verifying") return `verifying ${event.file}…`;
  const parts = event.parts > 1 ? ` · part ${event.part}/${event.parts}` : "";
  const done = event.done ?? 0;
  const megabytes = (done / 1e6).toFixed(1);
  if (event.total === null || event.total === undefined || event.total === 0) return `${megabytes} MB${parts}`;
  const percent = Math.min(100, Math.round((done / event.total) * 100));
  return `${percent} % of ${(event.total / 1e6).toFixed(1)} MB${parts}`;
}

/** Whether a dropped path is a model file to import rather than a folder to ingest. */
export function isModelFile(path: string): boolean {
  return path.toLowerCase().endsWith(".gguf");
}

/** A provider being added in Settings → Providers. */
export interface ProviderDraft {
  preset: string;
  name: string;
  kind: "openai" | "anthropic";
  baseUrl: string;
  model: string;
  keyName: string;
  keyValue: string;
  contextSize: string;
  tools: boolean;
}

/** Known services: picking one fills the form (everything stays editable). */
export const PROVIDER_PRESETS: Array<{ id: string; label: string; draft: Omit<ProviderDraft, "preset" | "keyValue"> }> = [
  { id: "openai", label: "OpenAI", draft: { name: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini", keyName: "OPENAI_API_KEY", contextSize: "128000", tools: true } },
  { id: "anthropic", label: "Anthropic (Claude)", draft: { name: "claude", kind: "anthropic", baseUrl: "https://api.anthropic.com", model: "claude-3-5-haiku-latest", keyName: "CLAUDE_API_KEY", contextSize: "200000", tools: true } },
  { id: "mistral", label: "Mistral", draft: { name: "mistral", kind: "openai", baseUrl: "https://api.mistral.ai/v1", model: "mistral-small-latest", keyName: "MISTRAL_API_KEY", contextSize: "32000", tools: true } },
  { id: "vllm", label: "vLLM / llama-server (local server)", draft: { name: "vllm", kind: "openai", baseUrl: "http://127.0.0.1:8000/v1", model: "", keyName: "", contextSize: "", tools: true } },
  { id: "ollama", label: "Ollama", draft: { name: "ollama", kind: "openai", baseUrl: "http://127.0.0.1:11434/v1", model: "llama3.2", keyName: "", contextSize: "", tools: true } },
  { id: "custom", label: "Other OpenAI-compatible server", draft: { name: "", kind: "openai", baseUrl: "", model: "", keyName: "", contextSize: "", tools: true } },
];

/** The vault name proposed for a provider's key (`openai-2` → `OPENAI_2_API_KEY`), as the runtime proposes it. */
export function keyNameFor(provider: string): string {
  return `${provider.toUpperCase().replace(/[-.]/g, "_")}_API_KEY`;
}

/** The form filled from a preset, the name made free of `taken` ones (`openai-2`), the key named after it. */
export function providerDraft(preset: string, taken: string[]): ProviderDraft {
  const found = PROVIDER_PRESETS.find((candidate) => candidate.id === preset) ?? PROVIDER_PRESETS[PROVIDER_PRESETS.length - 1]!;
  let name = found.draft.name;
  for (let suffix = 2; name && taken.includes(name); suffix++) name = `${found.draft.name}-${suffix}`;
  return { ...found.draft, name, keyName: found.draft.keyName ? keyNameFor(name) : "", preset: found.id, keyValue: "" };
}

/** A renamed draft: a key still named after the old name follows the new one. */
export function renameDraft(draft: ProviderDraft, name: string): ProviderDraft {
  const follows = draft.keyName !== "" && draft.keyName === keyNameFor(draft.name);
  return { ...draft, name, keyName: follows ? keyNameFor(name) : draft.keyName };
}

/** What the form still lacks, or null when it can be sent. */
export function providerDraftProblem(draft: ProviderDraft): string | null {
  if (!/^[A-Za-z0-9._-]+$/.test(draft.name)) return "Name: letters, digits, “-”, “_” and “.”";
  if (!/^https?:\/\/[^\s/]+/.test(draft.baseUrl.trim())) return "Base URL: http(s)://host…";
  if (!draft.model.trim()) return "Model: the name the provider expects";
  if (draft.keyValue && !draft.keyName.trim()) return "Key: name the vault secret that keeps it";
  if (draft.contextSize.trim() && !/^\d+$/.test(draft.contextSize.trim())) return "Context: a number of tokens";
  return null;
}

/** The form as the `provider_add` command takes it. */
export function providerConfig(draft: ProviderDraft): ProviderConfig_Deserialize {
  return {
    name: draft.name.trim(),
    kind: draft.kind,
    base_url: draft.baseUrl.trim(),
    model: draft.model.trim(),
    key: draft.keyName.trim() || null,
    context_size: draft.contextSize.trim() ? Number(draft.contextSize.trim()) : null,
    tools: draft.tools,
  };
}
