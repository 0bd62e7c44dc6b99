import { describe, expect, it } from "vitest";

import { clampWidth, DEFAULT_PANELS, gridColumns, loadPanels, savePanels } from "./panels";

function memory() {
  const data = new Map<string, string>();
  return { getItem: (key: string) => data.get(key) ?? null, setItem: (key: string, value: string) => void data.set(key, value) };
}

describe("panel layout", () => {
  it("remembers widths and visibility", () => {
    const storage = memory();
    expect(loadPanels(storage)).toEqual(DEFAULT_PANELS);
    savePanels(storage, { left: 250, right: 300, leftOpen: false, rightOpen: true });
    expect(loadPanels(storage)).toEqual({ left: 250, right: 300, leftOpen: false, rightOpen: true });
    expect(gridColumns(loadPanels(storage))).toBe("minmax(0,1fr) 300px");
    expect(gridColumns(DEFAULT_PANELS)).toBe("288px minmax(0,1fr) 416px");
  });

  it("clamps widths and survives a corrupt entry", () => {
    expect(clampWidth(10)).toBe(200);
    expect(clampWidth(5000)).toBe(640);
    const storage = memory();
    storage.setItem("codexos.panels", "{not json");
    expect(loadPanels(storage)).toEqual(DEFAULT_PANELS);
    storage.setItem("codexos.panels", JSON.stringify({ left: 9999, right: "wide" }));
    expect(loadPanels(storage)).toEqual({ ...DEFAULT_PANELS, left: 640 });
  });
});
