import { describe, expect, it } from "vitest";

import type { LlmSettings } from "@/ipc/bindings";
import { isModelFile, modelChoices, moveProvider, pullLabel } from "./settingsState";

const settings: LlmSettings = {
  providers: [
    { name: "local", kind: "local", model: "SmolLM2.gguf", remote: false, contextSize: 4096, tools: true, timeoutSecs: 600, key: null },
    { name: "openai", kind: "openai", model: "gpt-4o-mini", remote: true, contextSize: 128000, tools: true, timeoutSecs: 60, key: "openai" },
  ],
  offline: true,
  models: [
    { name: "SmolLM2.gguf", kind: "chat", source: "catalog", installed: true, bytes: 1, default: true },
    { name: "Qwen.gguf", kind: "chat", source: "catalog", installed: true, bytes: 1, default: false },
    { name: "Big.gguf", kind: "chat", source: "catalog", installed: false, bytes: 0, default: false },
    { name: "minilm", kind: "embedding", source: "catalog", installed: true, bytes: 1, default: true },
  ],
  secrets: ["openai"],
  attempts: [],
};

describe("settings logic", () => {
  it("moves providers within bounds", () => {
    expect(moveProvider(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    expect(moveProvider(["a", "b", "c"], 0, -1)).toEqual(["a", "b", "c"]);
    expect(moveProvider(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
  });

  it("offers the policy, its providers and installed local models", () => {
    const choices = modelChoices(settings);
    expect(choices.map((choice) => choice.value)).toEqual([null, "local", "openai", "Qwen.gguf"]);
    expect(choices[0]?.label).toBe("Policy (local → openai)");
    expect(choices[2]?.label).toContain("offline");
  });

  it("labels pull progress", () => {
    expect(pullLabel({ type: "download", item: "w.whl", part: 2, parts: 6, done: 50e6, total: 100e6 })).toBe(
      "50 % of 100.0 MB · part 2/6",
    );
    expect(pullLabel({ type: "verifying", file: "Qwen.gguf" })).toBe("verifying Qwen.gguf…");
    expect(pullLabel(null)).toBe("starting…");
  });

  it("tells model files from folders", () => {
    expect(isModelFile("/tmp/My-Model.Q4_K_M.GGUF")).toBe(true);
    expect(isModelFile("/home/me/project")).toBe(false);
  });
});
