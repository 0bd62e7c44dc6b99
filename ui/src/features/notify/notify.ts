// Notifications when long jobs end (an ingest, a flow run, a model pull, a
// chat answer): a toast in the window, and — when the window is not focused
// and the system allows it — a desktop notification too. The store is pure.
import { useSyncExternalStore } from "react";

export interface Toast {
  id: number;
  title: string;
  body?: string;
  kind: "done" | "failed";
}

let toasts: Toast[] = [];
let next = 1;
const listeners = new Set<() => void>();

function publish(list: Toast[]) {
  toasts = list;
  for (const listener of listeners) listener();
}

export function dismiss(id: number) {
  publish(toasts.filter((toast) => toast.id !== id));
}

/** Shows a toast for a finished job (kept 8 s, at most 4 at once). */
export function notify(title: string, options: { body?: string; kind?: Toast["kind"]; timeoutMs?: number } = {}): Toast {
  const toast: Toast = { id: next++, title, body: options.body, kind: options.kind ?? "done" };
  publish([...toasts, toast].slice(-4));
  const timeout = options.timeoutMs ?? 8_000;
  if (timeout > 0) setTimeout(() => dismiss(toast.id), timeout);
  if (typeof document !== "undefined" && !document.hasFocus() && typeof Notification !== "undefined" && Notification.permission === "granted") {
    try {
      new Notification(title, { body: options.body });
    } catch {
      // The desktop notification is a bonus; the toast is shown either way.
    }
  }
  return toast;
}

export function currentToasts(): Toast[] {
  return toasts;
}

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    currentToasts,
  );
}
