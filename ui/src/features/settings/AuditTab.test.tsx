import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { AuditTab } from "./AuditTab";

const entry = (seq: number, action: string, target: string) => ({ seq, atMs: 1_764_940_000_000 + seq, who: "ada", origin: "app", action, target, detail: "{}", hash: `h${seq}` });

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("AuditTab", () => {
  it("lists the entries by action and text, and says where the chain breaks", async () => {
    const asked: unknown[] = [];
    mockIPC((cmd, payload) => {
      if (cmd === "audit_entries") {
        asked.push(payload);
        return [entry(2, "secret.use", "GITHUB_TOKEN"), entry(1, "secret.set", "GITHUB_TOKEN")];
      }
      if (cmd === "audit_verify") return { entries: 2, broken: { seq: 1, reason: "entry 1 was changed" }, head: "h2" };
      return null;
    });
    render(<AuditTab />);
    await waitFor(() => expect(screen.getAllByTestId("audit-entry")).toHaveLength(2));
    expect(screen.getAllByTestId("audit-entry")[0]?.dataset.action).toBe("secret.use");
    fireEvent.change(screen.getByTestId("audit-action"), { target: { value: "secret" } });
    await waitFor(() => expect(asked.at(-1)).toMatchObject({ action: "secret", search: "", limit: 500 }));
    await act(async () => {
      fireEvent.click(screen.getByTestId("audit-verify"));
    });
    const check = await screen.findByTestId("audit-check");
    expect(check.dataset.whole).toBe("false");
    expect(check.textContent).toContain("Tampered with at entry 1");
  });
});
