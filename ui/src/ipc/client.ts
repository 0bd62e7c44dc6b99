// Small helpers around the generated bindings.
import type { IpcError } from "./bindings";

/** True inside the Tauri window (false in a plain browser or jsdom). */
export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

let counter = 0;

/** A fresh id for a cancellable request. */
export function requestId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

/** Turns anything thrown by the IPC layer into an IpcError. */
export function toIpcError(error: unknown): IpcError {
  if (error && typeof error === "object" && "code" in error && "message" in error) {
    return error as IpcError;
  }
  return { code: "internal", message: String(error), details: null };
}
