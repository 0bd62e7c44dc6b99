import { Check, ChevronLeft, ChevronRight, X } from "lucide-react";

import { Button } from "@/components/ui/button";
import type { Replay } from "./FlowCanvas";
import { describeEvent, type RunView } from "./flowGraph";

/** The run under the canvas: streamed text per node, the log, the answer to a
 * waiting human node, and the replay timeline of a stored run. */
export function RunPanel({
  view,
  replay,
  onStep,
  onCloseReplay,
  onAnswer,
  busy,
}: {
  view: RunView;
  replay: Replay | null;
  onStep: (index: number) => void;
  onCloseReplay: () => void;
  onAnswer: (answer: string) => void;
  busy: boolean;
}) {
  const waiting = Object.entries(view.statuses).find(([, status]) => status === "waiting")?.[0];
  const texts = Object.entries(view.text);
  const current = replay && replay.index > 0 ? replay.events[replay.index - 1] : undefined;
  const label = current ? describeEvent(current) : "start";
  return (
    <div className="flex h-44 flex-col border-t border-border text-xs" data-testid="run-panel" data-finished={view.finished ?? ""}>
      {replay && (
        <div className="flex items-center gap-2 border-b border-border px-3 py-1" data-testid="replay">
          <span className="text-muted-foreground">replay {replay.runId.slice(0, 8)}</span>
          <Button size="icon" variant="ghost" aria-label="Previous event" onClick={() => onStep(Math.max(0, replay.index - 1))}>
            <ChevronLeft className="size-3.5" />
          </Button>
          <input
            type="range"
            data-testid="replay-slider"
            aria-label="Replay position"
            min={0}
            max={replay.events.length}
            value={replay.index}
            onChange={(event) => onStep(Number(event.target.value))}
            className="w-40"
          />
          <Button size="icon" variant="ghost" aria-label="Next event" onClick={() => onStep(Math.min(replay.events.length, replay.index + 1))}>
            <ChevronRight className="size-3.5" />
          </Button>
          <span className="min-w-0 flex-1 truncate font-mono" data-testid="replay-event" title={label}>
            {replay.index}/{replay.events.length} {label}
          </span>
          <Button size="icon" variant="ghost" aria-label="Close replay" onClick={onCloseReplay}>
            <X className="size-3.5" />
          </Button>
        </div>
      )}
      {waiting && !replay && (
        <div className="flex items-center gap-2 border-b border-border bg-amber-400/10 px-3 py-1">
          <span>`{waiting}` waits for you</span>
          <Button size="sm" data-testid="approve" disabled={busy} onClick={() => onAnswer('{"approved": true}')}>
            <Check className="size-3.5" /> Approve
          </Button>
          <Button size="sm" variant="outline" disabled={busy} onClick={() => onAnswer('{"approved": false, "comment": "rejected in the app"}')}>
            Reject
          </Button>
        </div>
      )}
      <div className="grid min-h-0 flex-1 grid-cols-2 gap-2 overflow-hidden p-2">
        <div className="overflow-y-auto font-mono text-[11px]" data-testid="run-output">
          {texts.length === 0 && <span className="text-muted-foreground">{view.finished ? `run ${view.finished}` : "Run the flow to see its output stream here."}</span>}
          {texts.map(([node, text]) => (
            <div key={node}>
              <span className="text-primary">{node}</span>: <span className="whitespace-pre-wrap">{text}</span>
            </div>
          ))}
        </div>
        <div className="overflow-y-auto font-mono text-[11px] text-muted-foreground" data-testid="run-log">
          {view.log.map((line, index) => (
            <div key={`${index}-${line}`} className="truncate" title={line}>
              {line}
            </div>
          ))}
          {view.finished && <div data-testid="run-status">■ {view.finished}</div>}
        </div>
      </div>
    </div>
  );
}
