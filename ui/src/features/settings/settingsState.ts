// Pure logic of Settings → Providers / Models and the chat's model picker.
import type { LlmSettings, PullEvent } from "@/ipc/bindings";

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
