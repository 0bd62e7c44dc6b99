import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useReducer } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type { Answer } from "@/ipc/bindings";
import { ChatPanel } from "./ChatPanel";
import { chatReducer } from "./chatState";

const answer: Answer = {
  text: "The default port is 8420 [1].",
  citations: [
    {
      number: 1,
      project: "lumen",
      path: "docs/configuration.md",
      start_line: 5,
      end_line: 13,
      page: null,
      score: 0.71,
      label: "docs/configuration.md:5-13",
      text: "- `port`: the TCP port Lumen listens on. The default port is 8420.",
    },
  ],
  model: "SmolLM2",
  completion: {
    text: "The default port is 8420 [1].",
    toolCalls: [],
    provider: "local",
    model: "SmolLM2",
    promptTokens: 400,
    cachedTokens: 0,
    completionTokens: 12,
    finish: "stop",
    elapsedMs: 900,
    firstTokenMs: 100,
    tokensPerSecond: 30,
    concurrent: 1,
    attempts: [],
  },
};

function Harness({ project }: { project: string | null }) {
  const [messages, dispatch] = useReducer(chatReducer, []);
  return <ChatPanel messages={messages} dispatch={dispatch} project={project} />;
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("ChatPanel", () => {
  it("asks through the typed command and shows the answer, citations and context", async () => {
    const calls: Array<{ cmd: string; payload: unknown }> = [];
    mockIPC((cmd, payload) => {
      calls.push({ cmd, payload });
      if (cmd === "ask") return answer;
      return null;
    });
    render(<Harness project="lumen" />);
    fireEvent.change(screen.getByTestId("chat-input"), { target: { value: "What is the default port?" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("ask-button"));
    });
    await waitFor(() => expect(screen.getByTestId("answer").dataset.phase).toBe("done"));

    const ask = calls.find((call) => call.cmd === "ask");
    expect(ask?.payload).toMatchObject({ question: "What is the default port?", project: "lumen" });
    expect(screen.getByTestId("answer-text").textContent).toContain("8420");
    expect(screen.getByTestId("citation").textContent).toBe("[1] docs/configuration.md:5-13");

    fireEvent.click(screen.getByText(/Context the model saw/));
    expect(screen.getByTestId("context-inspector").textContent).toContain("The default port is 8420.");
  });

  it("shows the runtime's error message when the ask fails", async () => {
    mockIPC((cmd) => {
      if (cmd === "ask") {
        throw { code: "model", message: "model file `x.gguf` not found — `codexos models list` shows each model's pull command", details: null };
      }
      return null;
    });
    render(<Harness project={null} />);
    fireEvent.change(screen.getByTestId("chat-input"), { target: { value: "hello" } });
    await act(async () => {
      fireEvent.click(screen.getByTestId("ask-button"));
    });
    await waitFor(() => expect(screen.getByTestId("answer").dataset.phase).toBe("error"));
    expect(screen.getByTestId("answer-error").textContent).toContain("`codexos models list` shows each model's pull command");
  });
});
