import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { LlmSettings } from "@/ipc/bindings";
import { SettingsPanel } from "./SettingsPanel";

function settings(order: string[], offline: boolean): LlmSettings {
  const all = {
    local: { name: "local", kind: "local" as const, model: "SmolLM2.gguf", remote: false, contextSize: 4096, tools: true, timeoutSecs: 600, key: null },
    openai: { name: "openai", kind: "openai" as const, model: "gpt-4o-mini", remote: true, contextSize: 128000, tools: true, timeoutSecs: 60, key: "openai" },
  };
  return {
    providers: order.map((name) => all[name as keyof typeof all]),
    offline,
    models: [{ name: "SmolLM2.gguf", kind: "chat", source: "catalog", installed: true, bytes: 98e6, default: true }],
    secrets: [],
    attempts: [
      { request: "r1", provider: "openai", model: "gpt-4o-mini", latencyMs: 12, firstTokenMs: null, promptTokens: 0, completionTokens: 0, outcome: "failed", detail: "provider `openai`: unreachable" },
      { request: "r1", provider: "local", model: "SmolLM2.gguf", latencyMs: 900, firstTokenMs: 400, promptTokens: 30, completionTokens: 8, outcome: "ok", detail: "" },
    ],
    configured: [{ name: "openai", kind: "openai", base_url: "https://api.openai.com/v1", model: "gpt-4o-mini", key: "openai", context_size: 128000, tools: true, timeout_secs: 60 }],
  };
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("SettingsPanel", () => {
  it("reorders providers, stores keys, toggles offline and shows attempts", async () => {
    let order = ["local", "openai"];
    let offline = false;
    const calls: Array<{ cmd: string; payload: unknown }> = [];
    mockIPC((cmd, payload) => {
      calls.push({ cmd, payload });
      if (cmd === "llm_settings") return settings(order, offline);
      if (cmd === "set_policy") {
        order = (payload as { order: string[] }).order;
        return null;
      }
      if (cmd === "set_offline") {
        offline = (payload as { offline: boolean }).offline;
        return offline;
      }
      if (cmd === "test_provider") throw { code: "provider", message: "provider `openai`: key refused (401)", details: null };
      return null;
    });
    render(<SettingsPanel onClose={() => {}} />);
    await waitFor(() => expect(screen.getAllByTestId("provider-row")).toHaveLength(2));
    expect(screen.getByTestId("attempts").textContent).toContain("unreachable");

    await act(async () => {
      fireEvent.click(screen.getAllByLabelText("Move down")[0] as HTMLElement);
    });
    await waitFor(() => expect(screen.getAllByTestId("provider-row")[0]?.textContent).toContain("openai"));
    expect(calls.find((call) => call.cmd === "set_policy")?.payload).toEqual({ order: ["openai", "local"] });

    fireEvent.change(screen.getByPlaceholderText("paste the API key"), { target: { value: "sk-test" } });
    await act(async () => {
      fireEvent.click(screen.getByText("Save"));
    });
    expect(calls.find((call) => call.cmd === "store_secret")?.payload).toEqual({ name: "openai", value: "sk-test" });

    await act(async () => {
      fireEvent.click(screen.getAllByTestId("test-provider")[0] as HTMLElement);
    });
    await waitFor(() => expect(screen.getByTestId("provider-result").textContent).toContain("key refused"));

    await act(async () => {
      fireEvent.click(screen.getByTestId("offline"));
    });
    await waitFor(() => expect(screen.getByText("skipped: offline")).toBeTruthy());
  });
});
