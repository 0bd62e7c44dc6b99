import { describe, expect, it } from "vitest";

import { loadChoice, resolve, saveChoice } from "./theme";

function memory() {
  const values = new Map<string, string>();
  return {
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
    removeItem: (key: string) => void values.delete(key),
  };
}

describe("theme", () => {
  it("follows the OS unless a theme was picked", () => {
    expect(resolve("system", true)).toBe("dark");
    expect(resolve("system", false)).toBe("light");
    expect(resolve("light", true)).toBe("light");
    expect(resolve("dark", false)).toBe("dark");
  });

  it("remembers a pick, and forgets it when following the OS again", () => {
    const storage = memory();
    expect(loadChoice(storage)).toBe("system");
    saveChoice("light", storage);
    expect(loadChoice(storage)).toBe("light");
    saveChoice("system", storage);
    expect(loadChoice(storage)).toBe("system");
    storage.setItem("codexos.theme", "neon");
    expect(loadChoice(storage)).toBe("system");
  });
});
