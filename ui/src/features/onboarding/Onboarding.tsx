import { Download, X } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import type { LlmSettings } from "@/ipc/bindings";

/** The default models (chat, embeddings, runtime) that are not installed yet. */
export function missingDefaults(settings: LlmSettings | null): string[] {
  return (settings?.models ?? []).filter((model) => model.default && !model.installed).map((model) => `${model.name} (${model.kind})`);
}

/** First run: what is missing before the app can answer, and the way to it. */
export function Onboarding({ settings, onOpenModels }: { settings: LlmSettings | null; onOpenModels: () => void }) {
  const [dismissed, setDismissed] = useState(false);
  const missing = missingDefaults(settings);
  if (dismissed || missing.length === 0) return null;
  return (
    <div className="flex flex-wrap items-center gap-2 border-b border-amber-400/40 bg-amber-400/10 px-4 py-1.5 text-xs" role="status" data-testid="onboarding">
      <span>
        Welcome — before CodexOS can index and answer offline it needs its default models: <span className="font-mono">{missing.join(", ")}</span>.
      </span>
      <Button size="sm" variant="outline" data-testid="onboarding-models" onClick={onOpenModels}>
        <Download className="size-3.5" /> Pull them (Settings → Models)
      </Button>
      <button type="button" className="ml-auto text-muted-foreground" aria-label="Dismiss" onClick={() => setDismissed(true)}>
        <X className="size-3.5" />
      </button>
    </div>
  );
}
