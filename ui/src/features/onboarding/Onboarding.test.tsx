import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { LlmSettings } from "@/ipc/bindings";
import { missingDefaults, Onboarding } from "./Onboarding";

const settings = (installed: boolean): LlmSettings => ({
  providers: [],
  offline: false,
  secrets: [],
  attempts: [],
  configured: [],
  models: [
    { name: "SmolLM2.gguf", kind: "chat", source: "catalog", installed, bytes: null, default: true },
    { name: "all-minilm-l6-v2", kind: "embedding", source: "catalog", installed: true, bytes: 1, default: true },
    { name: "qwen.gguf", kind: "chat", source: "catalog", installed: false, bytes: null, default: false },
  ],
});

afterEach(cleanup);

describe("first-run onboarding", () => {
  it("names only the missing default models", () => {
    expect(missingDefaults(settings(false))).toEqual(["SmolLM2.gguf (chat)"]);
    expect(missingDefaults(settings(true))).toEqual([]);
    expect(missingDefaults(null)).toEqual([]);
  });

  it("leads to the models tab, and stays away once everything is installed", () => {
    const open = vi.fn();
    const { rerender } = render(<Onboarding settings={settings(false)} onOpenModels={open} />);
    expect(screen.getByTestId("onboarding").textContent).toContain("SmolLM2.gguf (chat)");
    fireEvent.click(screen.getByTestId("onboarding-models"));
    expect(open).toHaveBeenCalledOnce();
    rerender(<Onboarding settings={settings(true)} onOpenModels={open} />);
    expect(screen.queryByTestId("onboarding")).toBeNull();
  });
});
