// Pure chat state: the open conversation, its messages, and how turn events
// change them. The runtime stores every message; this mirrors it and shows
// the answer in progress.
import type {
  Citation_Serialize as Citation,
  Conversation_Serialize as Conversation,
  ConversationMessage_Serialize as ConversationMessage,
  ConversationMode,
  ConversationSummary_Serialize as ConversationSummary,
  IpcError,
  ToolStep_Serialize as ToolStep,
  TurnEvent_Serialize as TurnEvent,
  TurnStats,
} from "@/ipc/bindings";

export type Phase = "retrieving" | "generating" | "done" | "error" | "cancelled";

export interface UserMessage {
  role: "user";
  /** Stable key. */
  id: string;
  /** Index in the stored conversation (null until stored). */
  index: number | null;
  text: string;
}

export interface AssistantMessage {
  role: "assistant";
  id: string;
  index: number | null;
  text: string;
  phase: Phase;
  citations: Citation[];
  tools: ToolStep[];
  error?: { message: string };
  stats?: TurnStats;
  runId?: string | null;
  /** Oldest exchanges left out because the conversation outgrew the context. */
  dropped?: number;
}

export type Message = UserMessage | AssistantMessage;

export interface ChatState {
  /** The stored conversation, or null for a new one not sent yet. */
  conversation: ConversationSummary | null;
  /** The mode of a new conversation (the open one's otherwise). */
  mode: ConversationMode;
  messages: Message[];
}

export const emptyChat: ChatState = { conversation: null, mode: "ask", messages: [] };

export type ChatAction =
  | { type: "new"; mode: ConversationMode }
  | { type: "load"; conversation: Conversation }
  | { type: "created"; summary: ConversationSummary }
  | { type: "summary"; summary: ConversationSummary }
  | { type: "send"; id: string; text: string; from: number | null }
  | { type: "event"; id: string; event: TurnEvent }
  | { type: "done"; id: string; message: ConversationMessage }
  | { type: "failed"; id: string; error: IpcError };

function phaseOf(status: string): Phase {
  if (status === "cancelled") return "cancelled";
  if (status === "failed") return "error";
  return "done";
}

/** A stored message as shown. */
export function fromStored(message: ConversationMessage): Message {
  const key = `m${message.index}`;
  if (message.role === "user") return { role: "user", id: key, index: message.index, text: message.text };
  const meta = message.meta;
  return {
    role: "assistant",
    id: key,
    index: message.index,
    text: message.text,
    phase: phaseOf(meta.status),
    citations: meta.citations,
    tools: meta.tools,
    error: meta.error ? { message: meta.error } : undefined,
    stats: meta.stats ?? undefined,
    runId: meta.runId,
    dropped: meta.dropped,
  };
}

function updateAssistant(messages: Message[], id: string, change: (message: AssistantMessage) => AssistantMessage): Message[] {
  return messages.map((message) => (message.role === "assistant" && message.id === id ? change(message) : message));
}

function applyEvent(message: AssistantMessage, event: TurnEvent): AssistantMessage {
  switch (event.type) {
    case "retrieved":
      return { ...message, phase: "generating", citations: event.citations };
    case "token":
      return { ...message, phase: "generating", text: message.text + event.text };
    case "toolCall":
      return { ...message, phase: "generating", tools: [...message.tools, { tool: event.tool, arguments: event.arguments, ok: null, summary: null }] };
    case "toolResult": {
      const tools = [...message.tools];
      for (let index = tools.length - 1; index >= 0; index -= 1) {
        const step = tools[index];
        if (step && step.tool === event.tool && step.ok === null) {
          tools[index] = { ...step, ok: event.ok, summary: event.summary };
          break;
        }
      }
      return { ...message, tools };
    }
    case "run":
      return { ...message, runId: event.runId };
    default:
      return message;
  }
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "new":
      return { conversation: null, mode: action.mode, messages: [] };
    case "load":
      return {
        conversation: action.conversation.summary,
        mode: action.conversation.summary.mode as ConversationMode,
        messages: action.conversation.messages.map(fromStored),
      };
    case "created":
      return { ...state, conversation: action.summary };
    case "summary":
      return state.conversation?.id === action.summary.id ? { ...state, conversation: action.summary } : state;
    case "send": {
      // Regenerate or edit: what came from that question on is replaced.
      const kept = action.from === null ? state.messages : state.messages.filter((message) => message.index === null || message.index < action.from!);
      return {
        ...state,
        messages: [
          ...kept,
          { role: "user", id: `${action.id}-q`, index: null, text: action.text },
          { role: "assistant", id: action.id, index: null, text: "", phase: state.mode === "ask" ? "retrieving" : "generating", citations: [], tools: [] },
        ],
      };
    }
    case "event": {
      if (action.event.type === "question") {
        const index = action.event.index;
        return {
          ...state,
          messages: state.messages.map((message) => (message.role === "user" && message.id === `${action.id}-q` ? { ...message, index } : message)),
        };
      }
      const event = action.event;
      return { ...state, messages: updateAssistant(state.messages, action.id, (message) => applyEvent(message, event)) };
    }
    case "done": {
      const stored = fromStored(action.message);
      return {
        ...state,
        messages: updateAssistant(state.messages, action.id, () => ({ ...(stored as AssistantMessage), id: action.id })),
      };
    }
    case "failed":
      return {
        ...state,
        messages: updateAssistant(state.messages, action.id, (message) => ({
          ...message,
          phase: action.error.code === "cancelled" ? "cancelled" : "error",
          error: { message: action.error.message },
        })),
      };
  }
}

/** The phase of the latest answer. */
export function currentPhase(messages: Message[]): Phase | null {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message?.role === "assistant") return message.phase;
  }
  return null;
}

/** The index of the last stored question (what Regenerate resends). */
export function lastQuestion(messages: Message[]): UserMessage | null {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message?.role === "user") return message.index === null ? null : message;
  }
  return null;
}

/** The side of a conversation started on a team server's workspace (its
 * target is `remote:ORIGIN`, or `remote:ORIGIN#PROJECT` for an ask of one
 * project, `remote:ORIGIN#AGENT@VERSION` for an agent's); null for one of
 * this machine. */
export function remoteSide(target: string | null | undefined): { origin: string; project: string | null } | null {
  if (!target?.startsWith("remote:")) return null;
  const rest = target.slice("remote:".length);
  const at = rest.lastIndexOf("#");
  return at < 0 ? { origin: rest, project: null } : { origin: rest.slice(0, at), project: rest.slice(at + 1) };
}

/** What a conversation talks to, as its header says. `target` is the
 * conversation's (when one is open, `started`), `project` the one picked for
 * a new conversation, `server` the server's workspace open, if any. */
export function scopeOf(mode: string, target: string | null, started: boolean, project: string | null, server: string | null): string {
  const side = remoteSide(target);
  if (side && !server) return `${mode === "chat" ? "Talks to" : mode === "agent" ? "Runs an agent of" : "Asks"} ${side.origin} — open that workspace from the header to continue`;
  if (mode === "chat") return server ? `A plain conversation with the models of ${server}` : "A plain conversation with the model";
  if (mode === "agent" && server) return side?.project ? `Agent ${side.project} of ${server}` : `Pick a published agent of ${server}`;
  if (mode === "agent") return target ? `Agent ${target}` : "Pick a published agent";
  const picked = started ? (side ? side.project : server ? null : target) : project;
  if (server) return picked ? `Answers from project “${picked}” of ${server}` : `Answers from the projects of ${server}`;
  return picked ? `Answers from project “${picked}”` : "Answers from all ingested projects";
}
