import { Check, ChevronLeft, ChevronRight, X } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import type { Replay } from "./FlowCanvas";
import type { ValueType } from "@/ipc/bindings";
import { describeEvent, type RunView } from "./flowGraph";
import { approval, typedAnswer } from "./humanAnswer";

/** The run under the canvas: streamed text per node, the log, the answer to a
 * waiting human node, and the replay timeline of a stored run. */
/** What a waiting human node asks: Approve / Reject with a reason, or a
 * value typed by the node's output key's declared type. */
function HumanPrompt({ node, ask, type, busy, onAnswer }: { node: string; ask: { prompt: string; mode: string }; type: ValueType; busy: boolean; onAnswer: (answer: string) => void }) {
  const [text, setText] = useState(type === "boolean" ? "true" : "");
  const [error, setError] = useState<string | null>(null);
  const submit = () => {
    const typed = typedAnswer(type, text);
    if ("error" in typed) return setError(typed.error);
    setError(null);
    onAnswer(typed.json);
  };
  const input = ask.mode === "input";
  return (
    <form
      className="flex flex-wrap items-center gap-2 border-b border-border bg-amber-400/10 px-3 py-1"
      data-testid="human-prompt"
      data-mode={ask.mode}
      aria-label={`${node} waits for you`}
      onSubmit={(event) => {
        event.preventDefault();
        if (input) submit();
        else onAnswer(approval(true, ""));
      }}
    >
      <span className="font-medium">
        `{node}` asks{ask.prompt ? ":" : ""}
      </span>
      {ask.prompt && <span data-testid="human-question">{ask.prompt}</span>}
      {input ? (
        <>
          {type === "boolean" ? (
            <select aria-label="Answer" data-testid="human-answer" className="rounded border border-border bg-background px-1 py-0.5" value={text} onChange={(event) => setText(event.target.value)}>
              <option value="true">yes</option>
              <option value="false">no</option>
            </select>
          ) : (
            <input
              aria-label={`Answer (${type})`}
              data-testid="human-answer"
              className="min-w-0 flex-1 rounded border border-border bg-background px-1.5 py-0.5 font-mono"
              placeholder={type === "string" ? "your answer" : `a ${type} (${type === "number" ? "42" : "JSON"})`}
              inputMode={type === "number" ? "decimal" : undefined}
              value={text}
              onChange={(event) => setText(event.target.value)}
            />
          )}
          <Button size="sm" type="submit" data-testid="human-submit" disabled={busy}>
            Answer
          </Button>
        </>
      ) : (
        <>
          <Button size="sm" type="submit" data-testid="approve" disabled={busy}>
            <Check className="size-3.5" /> Approve
          </Button>
          <input aria-label="Reason to reject" data-testid="reject-reason" className="w-40 rounded border border-border bg-background px-1.5 py-0.5" placeholder="reason (optional)" value={text} onChange={(event) => setText(event.target.value)} />
          <Button size="sm" type="button" variant="outline" data-testid="reject" disabled={busy} onClick={() => onAnswer(approval(false, text))}>
            Reject
          </Button>
        </>
      )}
      {error && (
        <span className="text-destructive" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function RunPanel({
  view,
  replay,
  onStep,
  onCloseReplay,
  onAnswer,
  busy,
  answerType,
}: {
  answerType: (node: string) => ValueType;
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
        <HumanPrompt
          key={waiting}
          node={waiting}
          ask={view.asks[waiting] ?? { prompt: "", mode: "approve" }}
          type={answerType(waiting)}
          busy={busy}
          onAnswer={onAnswer}
        />
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
