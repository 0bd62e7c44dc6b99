// Light and dark theme: follows the OS (prefers-color-scheme) unless the
// user picked one; the choice is remembered. The CSS holds both palettes;
// this sets `data-theme` on <html> and answers what is shown now.
import { useCallback, useEffect, useState } from "react";

export type ThemeChoice = "system" | "light" | "dark";
export type Theme = "light" | "dark";

const KEY = "codexos.theme";

export function loadChoice(storage: Pick<Storage, "getItem"> | null = globalThis.localStorage ?? null): ThemeChoice {
  const value = storage?.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function saveChoice(choice: ThemeChoice, storage: Pick<Storage, "setItem" | "removeItem"> | null = globalThis.localStorage ?? null) {
  if (choice === "system") storage?.removeItem(KEY);
  else storage?.setItem(KEY, choice);
}

/** The theme shown for a choice when the OS prefers `osDark`. */
export function resolve(choice: ThemeChoice, osDark: boolean): Theme {
  if (choice === "system") return osDark ? "dark" : "light";
  return choice;
}

function osPrefersDark(): boolean {
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ?? true;
}

/** The theme choice, applied to the document and following the OS live. */
export function useTheme(): { choice: ThemeChoice; theme: Theme; choose: (choice: ThemeChoice) => void } {
  const [choice, setChoice] = useState<ThemeChoice>(() => loadChoice());
  const [osDark, setOsDark] = useState(osPrefersDark);

  useEffect(() => {
    const query = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
    if (!query) return;
    const onChange = () => setOsDark(query.matches);
    query.addEventListener("change", onChange);
    return () => query.removeEventListener("change", onChange);
  }, []);

  const theme = resolve(choice, osDark);
  useEffect(() => {
    const root = document.documentElement;
    root.dataset.theme = theme;
    root.classList.toggle("dark", theme === "dark");
  }, [theme]);

  const choose = useCallback((next: ThemeChoice) => {
    saveChoice(next);
    setChoice(next);
  }, []);
  return { choice, theme, choose };
}
