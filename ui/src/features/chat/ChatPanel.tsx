import { Channel } from "@tauri-apps/api/core";
import { ChevronDown, ChevronRight, Loader2, Send, Square } from "lucide-react";
import { useState, type Dispatch, type FormEvent, type ReactNode } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Textarea } from "@/components/ui/input";
import { commands, type AskEvent, type Citation } from "@/ipc/bindings";
import { requestId, toIpcError } from "@/ipc/client";
import type { AssistantMessage, ChatAction, Message } from "./chatState";

function ContextInspector({ message, onOpen }: { message: AssistantMessage; onOpen?: (citation: Citation) => void }) {
  const [open, setOpen] = useState(false);
  if (message.citations.length === 0) return null;
  return (
    <div className="mt-2">
      <div className="flex flex-wrap gap-1">
        {message.citations.map((citation) => (
          <button type="button" key={citation.number} onClick={() => onOpen?.(citation)} title={`Open in preview · ${citation.project} · score ${(citation.score ?? 0).toFixed(3)}`}>
            <Badge data-testid="citation" className="hover:border-primary hover:text-foreground">
              [{citation.number}] {citation.label}
            </Badge>
          </button>
        ))}
      </div>
      <button
        type="button"
        className="mt-1 flex items-center gap-1 text-xs text-muted-foreground hover:text-foreground"
        onClick={() => setOpen(!open)}
      >
        {open ? <ChevronDown className="size-3" /> : <ChevronRight className="size-3" />}
        Context the model saw ({message.citations.length} excerpts)
      </button>
      {open && (
        <div className="mt-1 space-y-2" data-testid="context-inspector">
          {message.citations.map((citation) => (
            <div key={citation.number} className="rounded-md border border-border bg-background/60 p-2">
              <div className="mb-1 font-mono text-[11px] text-primary">
                [{citation.number}] {citation.project}/{citation.label}
              </div>
              <pre className="max-h-40 overflow-auto whitespace-pre-wrap text-xs text-muted-foreground">{citation.text}</pre>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function AssistantBubble({ message, onOpen }: { message: AssistantMessage; onOpen?: (citation: Citation) => void }) {
  const working = message.phase === "retrieving" || message.phase === "generating";
  return (
    <div className="rounded-lg bg-card p-3 text-sm" data-testid="answer" data-phase={message.phase}>
      {message.phase === "retrieving" && (
        <div className="flex items-center gap-2 text-muted-foreground">
          <Loader2 className="size-4 animate-spin" /> Retrieving and loading the model…
        </div>
      )}
      {message.text && <div className="whitespace-pre-wrap" data-testid="answer-text">{message.text}{working && "▍"}</div>}
      {message.error && (
        <div className={message.phase === "cancelled" ? "text-muted-foreground" : "text-destructive"} data-testid="answer-error">
          {message.phase === "cancelled" ? "Stopped." : message.error.message}
        </div>
      )}
      <ContextInspector message={message} onOpen={onOpen} />
      {message.stats && (
        <div className="mt-2 text-[11px] text-muted-foreground">
          {message.stats.provider} · {message.stats.model} · {message.stats.promptTokens}+
          {message.stats.completionTokens} tokens · {message.stats.tokensPerSecond.toFixed(1)} tok/s
          {message.stats.fallbacks > 0 && ` · after ${message.stats.fallbacks} fallback(s)`}
        </div>
      )}
    </div>
  );
}

export function ChatPanel({
  messages,
  dispatch,
  project,
  onOpenCitation,
  model = null,
  picker,
}: {
  messages: Message[];
  dispatch: Dispatch<ChatAction>;
  project: string | null;
  onOpenCitation?: (citation: Citation) => void;
  /** A provider or model file to answer with; `null` means the policy. */
  model?: string | null;
  /** The model picker, shown in the header. */
  picker?: ReactNode;
}) {
  const [question, setQuestion] = useState("");
  const [running, setRunning] = useState<string | null>(null);

  async function ask(event?: FormEvent) {
    event?.preventDefault();
    const text = question.trim();
    if (!text || running) return;
    const id = requestId("ask");
    setQuestion("");
    setRunning(id);
    dispatch({ type: "ask", id, question: text });
    const channel = new Channel<AskEvent>();
    channel.onmessage = (askEvent) => dispatch({ type: "event", id, event: askEvent });
    try {
      const result = await commands.ask(id, text, project, model, channel);
      if (result.status === "ok") dispatch({ type: "done", id, answer: result.data });
      else dispatch({ type: "failed", id, error: result.error });
    } catch (error) {
      dispatch({ type: "failed", id, error: toIpcError(error) });
    } finally {
      setRunning(null);
    }
  }

  return (
    <div className="flex h-full flex-col">
      <div className="border-b border-border px-4 py-3">
        <div className="flex items-center justify-between gap-2">
          <h2 className="text-sm font-semibold">Chat</h2>
          {picker}
        </div>
        <p className="text-xs text-muted-foreground">
          {project ? `Answers from project “${project}”` : "Answers from all ingested projects"}
        </p>
      </div>
      <div className="flex-1 space-y-3 overflow-y-auto p-4" data-testid="messages">
        {messages.length === 0 && (
          <p className="text-sm text-muted-foreground">
            Drop a folder onto the window to ingest it, then ask a question about it.
          </p>
        )}
        {messages.map((message) =>
          message.role === "user" ? (
            <div key={message.id} className="ml-8 rounded-lg bg-primary/15 p-3 text-sm">
              {message.text}
            </div>
          ) : (
            <AssistantBubble key={message.id} message={message} onOpen={onOpenCitation} />
          ),
        )}
      </div>
      <form className="flex gap-2 border-t border-border p-3" onSubmit={ask}>
        <Textarea
          data-testid="chat-input"
          placeholder="Ask about your project…"
          value={question}
          onChange={(event) => setQuestion(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && !event.shiftKey) {
              event.preventDefault();
              void ask();
            }
          }}
        />
        {running ? (
          <Button type="button" variant="outline" size="icon" aria-label="Stop" onClick={() => void commands.cancel(running)}>
            <Square />
          </Button>
        ) : (
          <Button type="submit" size="icon" aria-label="Ask" data-testid="ask-button" disabled={!question.trim()}>
            <Send />
          </Button>
        )}
      </form>
    </div>
  );
}
