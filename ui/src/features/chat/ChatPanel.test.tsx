import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ChatPanel } from "./ChatPanel";

const citation = {
  number: 1,
  project: "lumen",
  path: "docs/configuration.md",
  start_line: 5,
  end_line: 13,
  page: null,
  score: 0.71,
  label: "docs/configuration.md:5-13",
  text: "- `port`: the TCP port Lumen listens on. The default port is 8420.",
};

const summary = { id: "c1", title: "What is the default port?", mode: "ask", target: "lumen", createdAt: 0, updatedAt: 0, messages: 2, snippet: null };

function answer(index: number, text: string, status = "done", error: string | null = null) {
  return {
    index,
    role: "assistant",
    text,
    createdAt: 0,
    meta: {
      prompt: null,
      status,
      error,
      citations: status === "done" ? [citation] : [],
      tools: [],
      stats: status === "done" ? { provider: "local", model: "SmolLM2", promptTokens: 400, cachedTokens: 380, completionTokens: 12, tokensPerSecond: 30, fallbacks: 0 } : null,
      runId: null,
      dropped: 0,
    },
  };
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("ChatPanel", () => {
  it("creates the conversation on the first question, streams, and shows citations and context", async () => {
    const calls: Array<{ cmd: string; payload: unknown }> = [];
    mockIPC((cmd, payload) => {
      calls.push({ cmd, payload });
      if (cmd === "conversation_new") return { ...summary, title: "New conversation", messages: 0 };
      if (cmd === "conversation_send") return answer(1, "The default port is 8420 [1].");
      if (cmd === "conversation") return { summary, messages: [] };
      return null;
    });
    render(<ChatPanel project="lumen" />);
    fireEvent.change(screen.getByTestId("chat-input"), { target: { value: "What is the default port?" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("ask-button"));
    });
    await waitFor(() => expect(screen.getByTestId("answer").dataset.phase).toBe("done"));

    expect(calls.find((call) => call.cmd === "conversation_new")?.payload).toMatchObject({ mode: "ask", target: "lumen" });
    expect(calls.find((call) => call.cmd === "conversation_send")?.payload).toMatchObject({ id: "c1", text: "What is the default port?", resendFrom: null });
    expect(screen.getByTestId("answer-text").textContent).toContain("8420");
    expect(screen.getByTestId("citation").textContent).toBe("[1] docs/configuration.md:5-13");
    expect(screen.getByTestId("answer-stats").textContent).toContain("380 reused");
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("What is the default port?"));

    fireEvent.click(screen.getByText(/Context the model saw/));
    expect(screen.getByTestId("context-inspector").textContent).toContain("The default port is 8420.");
  });

  it("shows a stored failure with the runtime's message", async () => {
    mockIPC((cmd) => {
      if (cmd === "conversation_new") return { ...summary, mode: "chat", target: null };
      if (cmd === "conversation_send") return answer(1, "", "failed", "model file `x.gguf` not found — `codexos models list` shows each model's pull command");
      if (cmd === "conversation") return { summary, messages: [] };
      return null;
    });
    render(<ChatPanel project={null} />);
    fireEvent.click(screen.getByTestId("mode-chat"));
    fireEvent.change(screen.getByTestId("chat-input"), { target: { value: "hello" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("ask-button"));
    });
    await waitFor(() => expect(screen.getByTestId("answer").dataset.phase).toBe("error"));
    expect(screen.getByTestId("answer-error").textContent).toContain("`codexos models list` shows each model's pull command");
  });

  it("links an answer, a failed one too, to its trace in the run inspector", async () => {
    const calls: string[] = [];
    const failed = answer(1, "", "failed", "the provider refused the key");
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "conversation_new") return { ...summary, mode: "chat", target: null };
      if (cmd === "conversation_send") return { ...failed, meta: { ...failed.meta, runId: "0123456789abcdef" } };
      if (cmd === "datasets" || cmd === "runs") return [];
      if (cmd === "conversation") return { summary, messages: [] };
      return null;
    });
    render(<ChatPanel project={null} />);
    fireEvent.click(screen.getByTestId("mode-chat"));
    fireEvent.change(screen.getByTestId("chat-input"), { target: { value: "hello" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("ask-button"));
    });
    await waitFor(() => expect(screen.getByTestId("answer-trace").textContent).toBe("trace 01234567"));
    expect(screen.queryByTestId("run-inspector")).toBeNull();
    fireEvent.click(screen.getByTestId("answer-trace"));
    await waitFor(() => expect(screen.getByTestId("run-inspector")).toBeTruthy());
    await waitFor(() => expect(calls).toContain("run_detail"));
  });

  it("with no published agent, says how to publish one and sends nothing", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "agents") return [];
      if (cmd === "conversation_new") throw { code: "invalidInput", message: "an agent conversation needs an agent", details: null };
      return null;
    });
    render(<ChatPanel project={null} />);
    fireEvent.click(screen.getByTestId("mode-agent"));
    await waitFor(() => expect(screen.getByText(/No agent is published yet/)).toBeTruthy());
    expect(calls).toContain("agents");
    expect((screen.getByTestId("ask-button") as HTMLButtonElement).disabled).toBe(true);
    expect(calls).not.toContain("conversation_send");
  });
});
