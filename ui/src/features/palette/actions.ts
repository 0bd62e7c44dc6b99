// The command palette's actions: each part of the app registers what it can
// do right now (a hook re-registers as its state changes), and the palette
// lists and filters them. Matching and ranking are pure.
import { useEffect, useSyncExternalStore } from "react";

export interface Action {
  id: string;
  title: string;
  /** Where it belongs: "Flow", "View", "Go to flow"… */
  group: string;
  shortcut?: string;
  /** Extra words it is found by. */
  keywords?: string;
  disabled?: boolean;
  run: () => void;
}

const sources = new Map<string, Action[]>();
const listeners = new Set<() => void>();
let snapshot: Action[] = [];

function publish() {
  snapshot = [...sources.values()].flat();
  for (const listener of listeners) listener();
}

/** Every registered action now. */
export const currentActions = (): Action[] => snapshot;

export function register(source: string, actions: Action[]): () => void {
  sources.set(source, actions);
  publish();
  return () => {
    if (sources.get(source) === actions) {
      sources.delete(source);
      publish();
    }
  };
}

/** Registers `actions` under `source` while the component is mounted. */
export function useActions(source: string, actions: Action[]) {
  useEffect(() => register(source, actions), [source, actions]);
}

export function useAllActions(): Action[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    currentActions,
  );
}

/** How well `query` matches `text`: every query character in order, in a
 * word's start or consecutively scores higher; null when it does not match. */
export function score(query: string, text: string): number | null {
  const needle = query.toLowerCase().replace(/\s+/g, "");
  const hay = text.toLowerCase();
  if (needle === "") return 0;
  let total = 0;
  let from = 0;
  let previous = -2;
  for (const char of needle) {
    const at = hay.indexOf(char, from);
    if (at < 0) return null;
    const wordStart = at === 0 || /[\s\-_/·:>.]/.test(hay[at - 1] ?? "");
    total += wordStart ? 3 : at === previous + 1 ? 2 : 1;
    previous = at;
    from = at + 1;
  }
  return total - hay.length / 100;
}

/** The actions that match, best first (ties keep registration order). */
export function filterActions(actions: Action[], query: string): Action[] {
  return actions
    .map((action, index) => ({ action, index, score: score(query, `${action.group} ${action.title} ${action.keywords ?? ""}`) }))
    .filter((entry): entry is { action: Action; index: number; score: number } => entry.score !== null)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map((entry) => entry.action);
}
