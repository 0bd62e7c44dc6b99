import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { VaultTab } from "./VaultTab";

function first(testId: string): HTMLElement {
  const [element] = screen.getAllByTestId(testId);
  if (!element) throw new Error(`no ${testId}`);
  return element;
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("VaultTab", () => {
  it("lists names only, reveals one value on request, adds, deletes after a confirmation and rotates", async () => {
    let secrets = ["github", "openai"];
    const calls: Array<{ cmd: string; payload: unknown }> = [];
    mockIPC((cmd, payload) => {
      calls.push({ cmd, payload });
      if (cmd === "vault_view") return { mode: "keychain", locked: false, keyId: "k1", secrets };
      if (cmd === "vault_reveal") return "sk-revealed-value";
      if (cmd === "store_secret") {
        secrets = [...secrets, (payload as { name: string }).name].sort();
        return null;
      }
      if (cmd === "vault_remove") {
        secrets = secrets.filter((name) => name !== (payload as { name: string }).name);
        return null;
      }
      if (cmd === "vault_rotate") return { resealed: secrets.length, keyId: "k2", warning: null };
      throw new Error(`unexpected ${cmd}`);
    });
    render(<VaultTab />);
    await waitFor(() => expect(screen.getAllByTestId("vault-secret")).toHaveLength(2));
    // No value is fetched or shown until asked for.
    expect(calls.some((call) => call.cmd === "vault_reveal")).toBe(false);
    expect(screen.queryByText("sk-revealed-value")).toBeNull();

    await act(async () => fireEvent.click(first("vault-reveal")));
    expect(calls.find((call) => call.cmd === "vault_reveal")?.payload).toEqual({ name: "github" });
    expect(screen.getByText("sk-revealed-value")).toBeTruthy();
    await act(async () => fireEvent.click(first("vault-reveal")));
    expect(screen.queryByText("sk-revealed-value")).toBeNull();

    fireEvent.change(screen.getByTestId("vault-name"), { target: { value: "cohere" } });
    fireEvent.change(screen.getByTestId("vault-new-value"), { target: { value: "c-key" } });
    await act(async () => fireEvent.click(screen.getByTestId("vault-add")));
    expect(calls.find((call) => call.cmd === "store_secret")?.payload).toEqual({ name: "cohere", value: "c-key" });
    await waitFor(() => expect(screen.getAllByTestId("vault-secret")).toHaveLength(3));
    expect(screen.getByTestId("vault-notice").textContent).toContain("vault://cohere");

    // The first click only asks; the second deletes.
    await act(async () => fireEvent.click(first("vault-delete")));
    expect(calls.some((call) => call.cmd === "vault_remove")).toBe(false);
    await act(async () => fireEvent.click(first("vault-delete")));
    await waitFor(() => expect(screen.getAllByTestId("vault-secret")).toHaveLength(2));

    await act(async () => fireEvent.click(screen.getByTestId("vault-rotate")));
    expect(calls.find((call) => call.cmd === "vault_rotate")?.payload).toEqual({ passphrase: null });
    await waitFor(() => expect(screen.getByTestId("vault-notice").textContent).toContain("k2"));
  });

  it("asks for the passphrase of a locked vault and shows a wrong one's error", async () => {
    let locked = true;
    mockIPC((cmd, payload) => {
      if (cmd === "vault_view") return { mode: "passphrase", locked, keyId: "p1", secrets: ["a"] };
      if (cmd === "vault_unlock") {
        if ((payload as { passphrase: string }).passphrase !== "correct horse battery") {
          throw { code: "keychain", message: "wrong passphrase", details: null };
        }
        locked = false;
        return null;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    render(<VaultTab />);
    await waitFor(() => expect(screen.getByTestId("vault-passphrase")).toBeTruthy());
    expect(screen.queryAllByTestId("vault-secret")).toHaveLength(0);
    fireEvent.change(screen.getByTestId("vault-passphrase"), { target: { value: "nope nope nope" } });
    await act(async () => fireEvent.submit(screen.getByTestId("vault-passphrase").closest("form")!));
    await waitFor(() => expect(screen.getByTestId("vault-error").textContent).toContain("wrong passphrase"));
    fireEvent.change(screen.getByTestId("vault-passphrase"), { target: { value: "correct horse battery" } });
    await act(async () => fireEvent.submit(screen.getByTestId("vault-passphrase").closest("form")!));
    await waitFor(() => expect(screen.getAllByTestId("vault-secret")).toHaveLength(1));
  });
});
