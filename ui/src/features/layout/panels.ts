// The side panels' widths and whether they are shown, remembered between
// starts (localStorage). Pure logic apart from the storage it is given.

export interface Panels {
  left: number;
  right: number;
  leftOpen: boolean;
  rightOpen: boolean;
}

export const DEFAULT_PANELS: Panels = { left: 288, right: 416, leftOpen: true, rightOpen: true };
export const LIMITS = { min: 200, max: 640 };
const KEY = "codexos.panels";

export function clampWidth(width: number): number {
  return Math.round(Math.min(LIMITS.max, Math.max(LIMITS.min, width)));
}

/** The remembered layout; anything unreadable falls back to the defaults. */
export function loadPanels(storage: Pick<Storage, "getItem"> | undefined): Panels {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return DEFAULT_PANELS;
    const parsed = JSON.parse(raw) as Partial<Panels>;
    return {
      left: typeof parsed.left === "number" ? clampWidth(parsed.left) : DEFAULT_PANELS.left,
      right: typeof parsed.right === "number" ? clampWidth(parsed.right) : DEFAULT_PANELS.right,
      leftOpen: typeof parsed.leftOpen === "boolean" ? parsed.leftOpen : true,
      rightOpen: typeof parsed.rightOpen === "boolean" ? parsed.rightOpen : true,
    };
  } catch {
    return DEFAULT_PANELS;
  }
}

export function savePanels(storage: Pick<Storage, "setItem"> | undefined, panels: Panels): void {
  try {
    storage?.setItem(KEY, JSON.stringify(panels));
  } catch {
    // A full or disabled storage only loses the remembered layout.
  }
}

/** The main grid's columns for this layout (a hidden panel takes no grid cell, so it has no column). */
export function gridColumns(panels: Panels): string {
  return [panels.leftOpen ? `${panels.left}px` : null, "minmax(0,1fr)", panels.rightOpen ? `${panels.right}px` : null].filter(Boolean).join(" ");
}
