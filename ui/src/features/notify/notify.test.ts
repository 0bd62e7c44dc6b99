import { afterEach, describe, expect, it, vi } from "vitest";

import { currentToasts, dismiss, notify } from "./notify";

afterEach(() => {
  for (const toast of currentToasts()) dismiss(toast.id);
  vi.useRealTimers();
});

describe("notify", () => {
  it("keeps the newest four toasts and drops each after its time", () => {
    vi.useFakeTimers();
    for (let index = 1; index <= 5; index += 1) notify(`job ${index}`, { timeoutMs: 1_000 * index });
    expect(currentToasts().map((toast) => toast.title)).toEqual(["job 2", "job 3", "job 4", "job 5"]);
    vi.advanceTimersByTime(2_500);
    expect(currentToasts().map((toast) => toast.title)).toEqual(["job 3", "job 4", "job 5"]);
  });

  it("marks failures and can be dismissed", () => {
    const toast = notify("Ingest failed", { kind: "failed", body: "no such folder", timeoutMs: 0 });
    expect(currentToasts()).toContainEqual(expect.objectContaining({ title: "Ingest failed", kind: "failed" }));
    dismiss(toast.id);
    expect(currentToasts()).toEqual([]);
  });
});
