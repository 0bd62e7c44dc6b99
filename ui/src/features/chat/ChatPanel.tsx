import { Channel } from "@tauri-apps/api/core";
import {
  Check,
  ChevronDown,
  ChevronRight,
  Download,
  History,
  Loader2,
  Pencil,
  Plus,
  RotateCcw,
  Send,
  Square,
  Wrench,
  X,
} from "lucide-react";
import { memo, useCallback, useEffect, useReducer, useRef, useState, type FormEvent, type ReactNode } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Textarea } from "@/components/ui/input";
import { commands, type AgentVersion, type Citation, type ConversationMode, type TurnEvent, type TurnEvent_Serialize } from "@/ipc/bindings";
import { requestId, toIpcError } from "@/ipc/client";
import { RunInspector } from "@/features/flow/RunInspector";
import { ApprovalCard } from "@/features/tools/ApprovalDialog";
import { claimOrigin, requestsOf, useApprovals } from "@/features/tools/approvals";
import { ConversationList } from "./ConversationList";
import { chatReducer, emptyChat, lastQuestion, scopeOf, type AssistantMessage, type Message, type UserMessage } from "./chatState";

function ContextInspector({ message, onOpen }: { message: AssistantMessage; onOpen?: (citation: Citation) => void }) {
  const [open, setOpen] = useState(false);
  if (message.citations.length === 0) return null;
  return (
    <div className="mt-2">
      <div className="flex flex-wrap gap-1">
        {message.citations.map((citation) => (
          <button type="button" key={citation.number} onClick={() => onOpen?.(citation)} title={`${onOpen ? "Open in preview · " : ""}${citation.project} · score ${(citation.score ?? 0).toFixed(3)}`}>
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

function ToolSteps({ message }: { message: AssistantMessage }) {
  if (message.tools.length === 0) return null;
  return (
    <ul className="mb-2 space-y-1" aria-label="Tool calls">
      {message.tools.map((step, position) => (
        <li key={position} data-testid="tool-step" data-ok={step.ok === null ? "pending" : String(step.ok)} className="rounded border border-border bg-background/60 px-2 py-1 text-xs">
          <div className="flex items-center gap-1 font-mono">
            <Wrench className="size-3 text-muted-foreground" />
            <span className="text-primary">{step.tool}</span>
            <span className="truncate text-muted-foreground" title={step.arguments}>{step.arguments}</span>
            <span className="ml-auto">{step.ok === null ? <Loader2 className="size-3 animate-spin" /> : step.ok ? <Check className="size-3 text-emerald-800 dark:text-emerald-400" aria-label="succeeded" /> : <X className="size-3 text-destructive" aria-label="failed" />}</span>
          </div>
          {step.summary && <div className="mt-0.5 line-clamp-2 text-muted-foreground">{step.summary}</div>}
        </li>
      ))}
    </ul>
  );
}

function AssistantBubble({
  message,
  onOpen,
  onRegenerate,
  onTrace,
}: {
  message: AssistantMessage;
  onOpen?: (citation: Citation) => void;
  onRegenerate?: () => void;
  /** Opens the run the answer is kept as in the run inspector. */
  onTrace?: (runId: string) => void;
}) {
  const working = message.phase === "retrieving" || message.phase === "generating";
  return (
    <div className="group rounded-lg bg-card p-3 text-sm" data-testid="answer" data-phase={message.phase}>
      {message.phase === "retrieving" && (
        <div className="flex items-center gap-2 text-muted-foreground">
          <Loader2 className="size-4 animate-spin" /> Retrieving and loading the model…
        </div>
      )}
      {message.phase === "generating" && !message.text && message.tools.length === 0 && (
        <div className="flex items-center gap-2 text-muted-foreground">
          <Loader2 className="size-4 animate-spin" /> Thinking…
        </div>
      )}
      <ToolSteps message={message} />
      {message.text && <div className="whitespace-pre-wrap" data-testid="answer-text">{message.text}{working && "▍"}</div>}
      {message.error && (
        <div className={message.phase === "cancelled" ? "text-muted-foreground" : "text-destructive"} data-testid="answer-error">
          {message.phase === "cancelled" ? "Stopped." : message.error.message}
        </div>
      )}
      {message.phase === "cancelled" && !message.error && <div className="text-muted-foreground" data-testid="answer-error">Stopped.</div>}
      <ContextInspector message={message} onOpen={onOpen} />
      {(message.stats || message.runId || onRegenerate) && (
        <div className="mt-2 flex items-center gap-2 text-[11px] text-muted-foreground">
          {message.stats && (
            <span data-testid="answer-stats">
              {message.stats.provider} · {message.stats.model}
              {message.stats.promptTokens + message.stats.completionTokens > 0 && ` · ${message.stats.promptTokens}+${message.stats.completionTokens} tokens`}
              {message.stats.cachedTokens > 0 && ` · ${message.stats.cachedTokens} reused`}
              {(message.stats.tokensPerSecond ?? 0) > 0 && ` · ${(message.stats.tokensPerSecond ?? 0).toFixed(1)} tok/s`}
              {message.stats.fallbacks > 0 && ` · after ${message.stats.fallbacks} fallback(s)`}
              {(message.dropped ?? 0) > 0 && ` · ${message.dropped} oldest exchange(s) left out to fit`}
            </span>
          )}
          {message.runId && (
            <button
              type="button"
              className="font-mono underline hover:text-foreground"
              data-testid="answer-trace"
              title="Open this answer's trace: what the model was sent, its tokens, time and cost"
              onClick={() => message.runId && onTrace?.(message.runId)}
            >
              trace {message.runId.slice(0, 8)}
            </button>
          )}
          {onRegenerate && (
            <button type="button" className="ml-auto flex items-center gap-1 hover:text-foreground" onClick={onRegenerate} aria-label="Regenerate" data-testid="regenerate">
              <RotateCcw className="size-3" /> Regenerate
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function UserBubble({ message, busy, onResend }: { message: UserMessage; busy: boolean; onResend: (text: string) => void }) {
  const [editing, setEditing] = useState<string | null>(null);
  if (editing !== null) {
    return (
      <form
        className="ml-8 space-y-1"
        onSubmit={(event) => {
          event.preventDefault();
          if (!editing.trim()) return;
          setEditing(null);
          onResend(editing);
        }}
      >
        <Textarea data-testid="edit-input" aria-label="Edit the question" value={editing} onChange={(event) => setEditing(event.target.value)} autoFocus />
        <div className="flex justify-end gap-1">
          <Button type="button" size="sm" variant="ghost" onClick={() => setEditing(null)}>
            Cancel
          </Button>
          <Button type="submit" size="sm" data-testid="edit-resend" disabled={!editing.trim() || busy}>
            Resend
          </Button>
        </div>
      </form>
    );
  }
  return (
    <div className="group ml-8 rounded-lg bg-primary/15 p-3 text-sm" data-testid="question">
      <div className="whitespace-pre-wrap">{message.text}</div>
      {message.index !== null && !busy && (
        <button
          type="button"
          className="mt-1 flex items-center gap-1 text-[11px] text-muted-foreground hover:text-foreground"
          aria-label="Edit and resend"
          data-testid="edit-question"
          onClick={() => setEditing(message.text)}
        >
          <Pencil className="size-3" /> Edit
        </button>
      )}
    </div>
  );
}

/**
 * The message box, with its own state: typing re-renders only this, never
 * the conversation above (which may be streaming a long answer).
 */
const ChatInput = memo(function ChatInput({
  mode,
  running,
  blocked,
  refusal,
  onSend,
  onStop,
}: {
  mode: ConversationMode;
  running: string | null;
  blocked: boolean;
  /** Why nothing may be sent here (the role on a server's workspace). */
  refusal: string | null;
  onSend: (text: string) => void;
  onStop: () => void;
}) {
  const [question, setQuestion] = useState("");
  function submit(event?: FormEvent) {
    event?.preventDefault();
    const text = question.trim();
    if (!text || running || refusal) return;
    setQuestion("");
    onSend(text);
  }
  return (
    <form className="flex gap-2 border-t border-border p-3" onSubmit={submit}>
      <Textarea
        data-testid="chat-input"
        aria-label="Message"
        placeholder={refusal ?? (mode === "ask" ? "Ask about your project…" : mode === "chat" ? "Message the model…" : "Give the agent a task…")}
        value={question}
        onChange={(event) => setQuestion(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter" && !event.shiftKey) {
            event.preventDefault();
            submit();
          }
        }}
      />
      {running ? (
        <Button type="button" variant="outline" size="icon" aria-label="Stop" data-testid="stop-button" onClick={onStop}>
          <Square />
        </Button>
      ) : (
        <Button type="submit" size="icon" aria-label="Send" data-testid="ask-button" disabled={!question.trim() || blocked || refusal !== null} title={refusal ?? undefined}>
          <Send />
        </Button>
      )}
    </form>
  );
});

const MODES: Array<{ mode: ConversationMode; label: string; hint: string }> = [
  { mode: "ask", label: "Ask", hint: "Answers from your projects, with citations" },
  { mode: "chat", label: "Chat", hint: "A plain conversation with the model" },
  { mode: "agent", label: "Agent", hint: "A published agent with its tools" },
];

export function ChatPanel({
  project,
  onOpenCitation,
  model = null,
  picker,
  server = null,
  refusal = null,
}: {
  /** Why this role may not ask or chat on the server's workspace open. */
  refusal?: string | null;
  /** A team server's workspace open in the app ("team on http://…"): ask,
   * chat and agent turns go to it (its projects, models and agents). */
  server?: string | null;
  project: string | null;
  onOpenCitation?: (citation: Citation) => void;
  /** A provider or model file to answer with; `null` means the policy. */
  model?: string | null;
  /** The model picker, shown in the header. */
  picker?: ReactNode;
}) {
  const [state, dispatch] = useReducer(chatReducer, emptyChat);
  const [running, setRunning] = useState<string | null>(null);
  const [historyOpen, setHistoryOpen] = useState(false);
  const [inspecting, setInspecting] = useState<string | null>(null);
  const [focus, setFocus] = useState<string | null>(null);
  const [agents, setAgents] = useState<AgentVersion[] | null>(null);
  const [agent, setAgent] = useState<string>("");
  const [notice, setNotice] = useState<{ text: string; error?: boolean } | null>(null);
  const [listVersion, setListVersion] = useState(0);
  const bottom = useRef<HTMLDivElement | null>(null);

  const { conversation, mode, messages } = state;
  // This conversation's tool approvals are answered here, in place.
  const origin = conversation ? `conversation:${conversation.id}` : null;
  useEffect(() => (origin ? claimOrigin(origin) : undefined), [origin]);
  const approvals = useApprovals();
  const waiting = origin ? requestsOf(approvals, origin) : [];

  // The agents are listed again each time a new agent conversation is set
  // up: one published meanwhile (Agents panel, CLI) is offered at once.
  useEffect(() => {
    if (mode !== "agent" || conversation) return;
    // A server's workspace offers its own agents.
    void (server ? commands.workspaceAgents() : commands.agents()).then((result) => {
      if (result.status === "ok") {
        setAgents(result.data);
        const latest = result.data[result.data.length - 1];
        if (latest) setAgent((current) => current || latest.name);
      } else {
        setAgents([]);
        setNotice({ text: result.error.message, error: true });
      }
    });
  }, [mode, conversation, server]);

  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: "end" });
  }, [messages, waiting.length]);

  const open = useCallback(async (id: string) => {
    const result = await commands.conversation(id);
    if (result.status === "ok") {
      dispatch({ type: "load", conversation: result.data });
      setHistoryOpen(false);
      setNotice(null);
    } else setNotice({ text: result.error.message, error: true });
  }, []);

  async function send(text: string, from: number | null) {
    if (!text.trim() || running) return;
    let current = conversation;
    if (!current) {
      const target = mode === "ask" ? project : mode === "agent" ? agent || null : null;
      const created = await commands.conversationNew(mode, target);
      if (created.status === "error") {
        setNotice({ text: created.error.message, error: true });
        return;
      }
      current = created.data;
      dispatch({ type: "created", summary: current });
    }
    const id = requestId("turn");
    setRunning(id);
    setNotice(null);
    dispatch({ type: "send", id, text: text.trim(), from });
    const channel = new Channel<TurnEvent>();
    channel.onmessage = (event) => dispatch({ type: "event", id, event: event as TurnEvent_Serialize });
    try {
      const result = await commands.conversationSend(id, current.id, text, from, mode === "agent" ? null : model, mode === "agent" ? project : null, channel);
      if (result.status === "ok") dispatch({ type: "done", id, message: result.data });
      else dispatch({ type: "failed", id, error: result.error });
    } catch (error) {
      dispatch({ type: "failed", id, error: toIpcError(error) });
    } finally {
      setRunning(null);
      setListVersion((version) => version + 1);
      // The title comes from the first question.
      const summary = await commands.conversation(current.id);
      if (summary.status === "ok") dispatch({ type: "summary", summary: summary.data.summary });
    }
  }

  async function exportMarkdown() {
    if (!conversation) return;
    const result = await commands.conversationExport(conversation.id);
    if (result.status === "error") {
      setNotice({ text: result.error.message, error: true });
      return;
    }
    let copied = false;
    try {
      await navigator.clipboard.writeText(result.data.markdown);
      copied = true;
    } catch {
      // The clipboard may be unavailable; the file is written either way.
    }
    setNotice({ text: `Saved to ${result.data.path}${copied ? " and copied to the clipboard" : ""}` });
  }

  const last = lastQuestion(messages);
  const scope = scopeOf(mode, conversation?.target ?? null, conversation !== null, project, server);

  return (
    <div className="relative flex h-full flex-col">
      <div className="space-y-2 border-b border-border px-4 py-3">
        <div className="flex items-center justify-between gap-2">
          <h2 className="min-w-0 flex-1 truncate text-sm font-semibold" data-testid="conversation-title" title={conversation?.title}>
            {conversation?.title ?? "Chat"}
          </h2>
          <div className="flex shrink-0 items-center gap-1">
            <Button size="icon" variant="ghost" className="size-8" aria-label="Conversations" title="Conversations" data-testid="conversations-toggle" aria-expanded={historyOpen} onClick={() => setHistoryOpen(!historyOpen)}>
              <History />
            </Button>
            <Button size="icon" variant="ghost" className="size-8" aria-label="Export as Markdown" title="Export as Markdown" data-testid="conversation-export" disabled={!conversation} onClick={() => void exportMarkdown()}>
              <Download />
            </Button>
            <Button size="icon" variant="ghost" className="size-8" aria-label="New conversation" title="New conversation" data-testid="conversation-new" disabled={!!running} onClick={() => dispatch({ type: "new", mode })}>
              <Plus />
            </Button>
          </div>
        </div>
        <div className="flex items-center gap-2">
          <div role="radiogroup" aria-label="Mode" className="flex shrink-0 rounded-md border border-border p-0.5">
            {MODES.map((choice) => (
              <button
                key={choice.mode}
                type="button"
                role="radio"
                aria-checked={mode === choice.mode}
                title={server && choice.mode === "agent" ? `A published agent of ${server}, run there with its tools` : choice.hint}
                data-testid={`mode-${choice.mode}`}
                disabled={!!running}
                className={`rounded px-2 py-0.5 text-xs ${mode === choice.mode ? "bg-primary text-primary-foreground" : "text-muted-foreground hover:text-foreground"}`}
                onClick={() => {
                  if (mode !== choice.mode || conversation) dispatch({ type: "new", mode: choice.mode });
                }}
              >
                {choice.label}
              </button>
            ))}
          </div>
          {(mode === "chat" || (mode === "ask" && !server)) && <div className="min-w-0 flex-1 [&>select]:w-full [&>select]:max-w-none">{picker}</div>}
          {mode === "agent" && !conversation && (
            <select
              className="min-w-0 flex-1 truncate rounded border border-border bg-background px-1 py-0.5 text-xs text-foreground"
              aria-label="Agent"
              data-testid="agent-picker"
              value={agent}
              onChange={(event) => setAgent(event.target.value)}
            >
              {(agents ?? []).length === 0 && <option value="">No published agents</option>}
              {[...new Map((agents ?? []).map((choice) => [choice.name, choice])).values()].map((choice) => (
                <option key={choice.name} value={choice.name} title={choice.spec.description}>
                  {choice.name} (newest {choice.version})
                </option>
              ))}
            </select>
          )}
        </div>
        <p className="text-xs text-muted-foreground" data-testid="chat-scope">
          {scope}
        </p>
      </div>
      {historyOpen && (
        <ConversationList
          key={listVersion}
          current={conversation?.id ?? null}
          onOpen={(id) => void open(id)}
          onClose={() => setHistoryOpen(false)}
          onRenamed={(summary) => dispatch({ type: "summary", summary })}
          onDeleted={(id) => {
            if (conversation?.id === id) dispatch({ type: "new", mode });
          }}
        />
      )}
      <div className="flex-1 space-y-3 overflow-y-auto p-4" data-testid="messages">
        {messages.length === 0 && (
          <p className="text-sm text-muted-foreground">
            {mode === "ask" && server
              ? `Ask about the projects of ${server}: the server answers; this conversation is kept on this machine.`
              : mode === "chat" && server
              ? `Talk to the models of ${server}: the server answers; this conversation is kept on this machine.`
              : mode === "agent" && server
              ? (agents ?? []).length === 0 && agents !== null
                ? `${server} has no published agent yet: publish one there in the Agents panel.`
                : `Give the agent a task: it runs on ${server} with its tools there (a tool that would ask first is refused there); this conversation is kept on this machine.`
              : mode === "ask"
              ? "Drop a folder onto the window to ingest it, then ask a question about it."
              : mode === "chat"
                ? "Say something to the model. The conversation is saved as you go."
                : (agents ?? []).length === 0 && agents !== null
                  ? "No agent is published yet: publish one in the Agents panel (the robot icon), or with `codexos agents publish FILE`."
                  : "Give the agent a task. Its tool calls show here; it asks before a tool that needs approval."}
          </p>
        )}
        {messages.map((message: Message) =>
          message.role === "user" ? (
            <UserBubble key={message.id} message={message} busy={!!running} onResend={(text) => void send(text, message.index)} />
          ) : (
            <AssistantBubble
              key={message.id}
              message={message}
              onOpen={onOpenCitation}
              onTrace={setInspecting}
              onRegenerate={
                !running && last && last.index !== null && message.index === last.index + 1
                  ? () => void send(last.text, last.index)
                  : undefined
              }
            />
          ),
        )}
        {waiting.map((request) => (
          <ApprovalCard key={request.id} request={request} inline />
        ))}
        <div ref={bottom} />
      </div>
      {notice && (
        <div className={`border-t border-border px-3 py-2 text-xs ${notice.error ? "text-destructive" : "text-muted-foreground"}`} data-testid="chat-notice" role={notice.error ? "alert" : "status"}>
          {notice.text}
        </div>
      )}
      <ChatInput
        mode={mode}
        running={running}
        blocked={mode === "agent" && !conversation && !agent}
        refusal={refusal}
        onSend={(text) => void send(text, null)}
        onStop={() => running && void commands.cancel(running)}
      />
      {inspecting && <RunInspector key={inspecting} runId={inspecting} focus={focus} onFocus={setFocus} onClose={() => setInspecting(null)} onEvent={() => {}} onNewRun={setInspecting} />}
    </div>
  );
}
