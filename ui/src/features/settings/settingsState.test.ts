import { describe, expect, it } from "vitest";

import type { LlmSettings } from "@/ipc/bindings";
import { isModelFile, modelChoices, moveProvider, serverModelChoices, providerConfig, providerDraft, providerDraftProblem, pullLabel, renameDraft } from "./settingsState";

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
  configured: [],
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

describe("the add-provider form", () => {
  it("fills a preset and frees its name from the ones taken", () => {
    const draft = providerDraft("openai", ["openai", "openai-2"]);
    expect(draft.name).toBe("openai-3");
    expect(draft.baseUrl).toBe("https://api.openai.com/v1");
    // Its own key name: never another provider's (which the vault would refuse).
    expect(draft.keyName).toBe("OPENAI_3_API_KEY");
    expect(renameDraft(draft, "work.openai").keyName).toBe("WORK_OPENAI_API_KEY");
    expect(renameDraft({ ...draft, keyName: "SHARED" }, "other").keyName).toBe("SHARED");
    expect(providerDraft("vllm", []).keyName).toBe("");
    expect(providerDraft("unknown", []).preset).toBe("custom");
  });

  it("says what is missing before anything is sent", () => {
    const draft = providerDraft("vllm", []);
    expect(providerDraftProblem(draft)).toMatch(/^Model/);
    expect(providerDraftProblem({ ...draft, model: "qwen" })).toBeNull();
    expect(providerDraftProblem({ ...draft, model: "qwen", baseUrl: "localhost:8000" })).toMatch(/^Base URL/);
    expect(providerDraftProblem({ ...draft, model: "qwen", name: "my provider" })).toMatch(/^Name/);
    expect(providerDraftProblem({ ...draft, model: "qwen", keyValue: "sk-1" })).toMatch(/^Key/);
    expect(providerDraftProblem({ ...draft, model: "qwen", contextSize: "8k" })).toMatch(/^Context/);
  });

  it("sends the config the runtime takes, blanks as nulls", () => {
    expect(providerConfig({ ...providerDraft("vllm", []), model: " qwen ", contextSize: "8192" })).toEqual({
      name: "vllm",
      kind: "openai",
      base_url: "http://127.0.0.1:8000/v1",
      model: "qwen",
      key: null,
      context_size: 8192,
      tools: true,
    });
  });
});

describe("a server's model picker", () => {
  it("offers the server's policy first, then the models it lists", () => {
    expect(serverModelChoices(["codexos", "local", "SmolLM2-135M-Instruct-Q8_0.gguf"])).toEqual([
      { value: null, label: "The server's policy" },
      { value: "local", label: "local" },
      { value: "SmolLM2-135M-Instruct-Q8_0.gguf", label: "SmolLM2-135M-Instruct-Q8_0.gguf" },
    ]);
    expect(serverModelChoices([])).toEqual([{ value: null, label: "The server's policy" }]);
  });
});
