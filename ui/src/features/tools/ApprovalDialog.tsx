import { ShieldAlert } from "lucide-react";

import { Button } from "@/components/ui/button";
import type { ToolApprovalRequested } from "@/ipc/bindings";
import { cn } from "@/lib/utils";
import { answerApproval, unclaimed, useApprovals } from "./approvals";
import { effectsLabel } from "./toolsState";

/** What a waiting call would do, its arguments, and Allow / Deny. */
export function ApprovalCard({ request, inline = false }: { request: ToolApprovalRequested; inline?: boolean }) {
  return (
    <div className={cn("space-y-3", inline && "rounded-lg border border-amber-500/60 bg-amber-500/10 p-3")} data-testid={inline ? "inline-approval" : undefined}>
      <div className="flex items-center gap-2">
        <ShieldAlert className="text-amber-600" />
        <h2 className="text-sm font-semibold">
          {inline ? "The agent wants to run " : "Allow "}
          <span className="font-mono">{request.tool}</span>
          {inline ? "" : "?"}
        </h2>
      </div>
      <p className="text-xs text-muted-foreground">
        {request.description} It {effectsLabel(request.effects)}.
      </p>
      {request.untrusted && (
        <p className="rounded border border-amber-500/50 bg-amber-500/10 p-2 text-xs" role="alert" data-testid="approval-untrusted">
          These arguments may come from untrusted content ({request.untrusted}). A document or a tool&apos;s output may be
          trying to make the agent do this — allow it only if you expected this call.
        </p>
      )}
      <pre className="max-h-60 overflow-auto rounded bg-muted p-2 text-xs" data-testid="approval-arguments">
        {request.arguments}
      </pre>
      <div className="flex justify-end gap-2">
        <Button variant="outline" onClick={() => void answerApproval(request, false)} data-testid="deny-tool">
          Deny
        </Button>
        <Button onClick={() => void answerApproval(request, true)} data-testid="allow-tool">
          Allow
        </Button>
      </div>
    </div>
  );
}

/**
 * Asks the user before an `ask` tool runs; one request at a time, oldest
 * first — except those a mounted view answers in place (an open agent chat).
 */
export function ApprovalDialog() {
  const current = unclaimed(useApprovals())[0];
  if (!current) return null;
  return (
    <div className="absolute inset-0 z-20 flex items-center justify-center bg-background/70" role="dialog" aria-modal="true" data-testid="tool-approval">
      <div className="w-[32rem] max-w-full rounded-lg border border-border bg-background p-4 shadow-lg">
        <ApprovalCard request={current} />
      </div>
    </div>
  );
}
