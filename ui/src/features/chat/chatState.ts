// Pure chat state: the message list and how ask events change it.
import type { Answer, AskEvent, Citation, IpcError } from "@/ipc/bindings";

export type Phase = "retrieving" | "generating" | "done" | "error" | "cancelled";

export interface UserMessage {
  role: "user";
  id: string;
  text: string;
}

export interface AssistantMessage {
  role: "assistant";
  id: string;
  text: string;
  phase: Phase;
  citations: Citation[];
  error?: IpcError;
  stats?: {
    model: string;
    provider: string;
    promptTokens: number;
    completionTokens: number;
    tokensPerSecond: number;
    /** Providers tried before the one that answered (router fallback). */
    fallbacks: number;
  };
}

export type Message = UserMessage | AssistantMessage;

export type ChatAction =
  | { type: "ask"; id: string; question: string }
  | { type: "event"; id: string; event: AskEvent }
  | { type: "done"; id: string; answer: Answer }
  | { type: "failed"; id: string; error: IpcError };

function updateAssistant(
  messages: Message[],
  id: string,
  change: (message: AssistantMessage) => AssistantMessage,
): Message[] {
  return messages.map((message) =>
    message.role === "assistant" && message.id === id ? change(message) : message,
  );
}

export function chatReducer(messages: Message[], action: ChatAction): Message[] {
  switch (action.type) {
    case "ask":
      return [
        ...messages,
        { role: "user", id: `${action.id}-q`, text: action.question },
        { role: "assistant", id: action.id, text: "", phase: "retrieving", citations: [] },
      ];
    case "event":
      return updateAssistant(messages, action.id, (message) =>
        action.event.type === "retrieved"
          ? { ...message, phase: "generating", citations: action.event.citations }
          : { ...message, phase: "generating", text: message.text + action.event.text },
      );
    case "done":
      return updateAssistant(messages, action.id, (message) => ({
        ...message,
        text: action.answer.text,
        citations: action.answer.citations,
        phase: action.answer.completion.finish === "cancelled" ? "cancelled" : "done",
        stats: {
          model: action.answer.model,
          provider: action.answer.completion.provider,
          promptTokens: action.answer.completion.promptTokens,
          completionTokens: action.answer.completion.completionTokens,
          tokensPerSecond: action.answer.completion.tokensPerSecond ?? 0,
          fallbacks: action.answer.completion.attempts.filter((attempt) => attempt.outcome.kind !== "ok").length,
        },
      }));
    case "failed":
      return updateAssistant(messages, action.id, (message) => ({
        ...message,
        phase: action.error.code === "cancelled" ? "cancelled" : "error",
        error: action.error,
      }));
  }
}

/** The phase of the latest answer, which the flow canvas lights up. */
export function currentPhase(messages: Message[]): Phase | null {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message?.role === "assistant") return message.phase;
  }
  return null;
}
