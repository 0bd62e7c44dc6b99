import { ShieldAlert } from "lucide-react";
import { useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, events, type ToolApprovalRequested } from "@/ipc/bindings";
import { effectsLabel } from "./toolsState";

/** Asks the user before an `ask` tool runs; one request at a time, oldest first. */
export function ApprovalDialog() {
  const [queue, setQueue] = useState<ToolApprovalRequested[]>([]);

  useEffect(() => {
    const unlisten = events.toolApprovalRequested.listen((event) => {
      setQueue((waiting) => [...waiting, event.payload]);
    });
    return () => {
      void unlisten.then((stop) => stop());
    };
  }, []);

  const current = queue[0];
  if (!current) return null;

  async function answer(request: ToolApprovalRequested, approved: boolean) {
    setQueue((waiting) => waiting.slice(1));
    await commands.toolApproval(request.id, approved);
  }

  return (
    <div className="absolute inset-0 z-20 flex items-center justify-center bg-background/70" role="dialog" aria-modal="true" data-testid="tool-approval">
      <div className="w-[32rem] max-w-full space-y-3 rounded-lg border border-border bg-background p-4 shadow-lg">
        <div className="flex items-center gap-2">
          <ShieldAlert className="text-amber-500" />
          <h2 className="text-sm font-semibold">
            Allow <span className="font-mono">{current.tool}</span>?
          </h2>
        </div>
        <p className="text-xs text-muted-foreground">
          {current.description} It {effectsLabel(current.effects)}.
        </p>
        {current.untrusted && (
          <p className="rounded border border-amber-500/50 bg-amber-500/10 p-2 text-xs" role="alert" data-testid="approval-untrusted">
            These arguments may come from untrusted content ({current.untrusted}). A document or a tool&apos;s output
            may be trying to make the agent do this — allow it only if you expected this call.
          </p>
        )}
        <pre className="max-h-60 overflow-auto rounded bg-muted p-2 text-xs" data-testid="approval-arguments">
          {current.arguments}
        </pre>
        <div className="flex justify-end gap-2">
          <Button variant="outline" onClick={() => void answer(current, false)} data-testid="deny-tool">
            Deny
          </Button>
          <Button onClick={() => void answer(current, true)} data-testid="allow-tool">
            Allow
          </Button>
        </div>
      </div>
    </div>
  );
}
