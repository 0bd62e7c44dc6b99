// Tool calls waiting for the user's answer, shared by the approval dialog and
// the places that answer them in place (an agent chat shows its own turn's
// requests inline). A request whose origin is claimed by a mounted view is
// that view's; every other one goes to the dialog.
import { useSyncExternalStore } from "react";

import { commands, events, type ToolApprovalRequested } from "@/ipc/bindings";
import { inTauri } from "@/ipc/client";

interface Snapshot {
  waiting: ToolApprovalRequested[];
  claimed: ReadonlyMap<string, number>;
}

let snapshot: Snapshot = { waiting: [], claimed: new Map() };
const listeners = new Set<() => void>();
let started = false;

function update(change: (current: Snapshot) => Snapshot) {
  snapshot = change(snapshot);
  for (const listener of listeners) listener();
}

/** Adds a request (the event listener calls this; tests may too). */
export function addApprovalRequest(request: ToolApprovalRequested) {
  update((current) => ({ ...current, waiting: [...current.waiting, request] }));
}

/** Takes a request away (answered elsewhere, timed out, or its run ended). */
export function closeApprovalRequest(id: string) {
  update((current) => ({ ...current, waiting: current.waiting.filter((waiting) => waiting.id !== id) }));
}

function start() {
  if (started || !inTauri()) return;
  started = true;
  void events.toolApprovalRequested.listen((event) => addApprovalRequest(event.payload));
  void events.toolApprovalClosed.listen((event) => closeApprovalRequest(event.payload.id));
}

function subscribe(listener: () => void) {
  start();
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The waiting requests and the claimed origins, live. */
export function useApprovals(): Snapshot {
  return useSyncExternalStore(subscribe, () => snapshot);
}

/** Answers a request: it leaves the queue, then the call runs or is refused. */
export async function answerApproval(request: ToolApprovalRequested, approved: boolean) {
  closeApprovalRequest(request.id);
  await commands.toolApproval(request.id, approved);
}

/** Shows `origin`'s requests in the calling view until the returned release runs. */
export function claimOrigin(origin: string): () => void {
  update((current) => {
    const claimed = new Map(current.claimed);
    claimed.set(origin, (claimed.get(origin) ?? 0) + 1);
    return { ...current, claimed };
  });
  return () =>
    update((current) => {
      const claimed = new Map(current.claimed);
      const count = (claimed.get(origin) ?? 1) - 1;
      if (count > 0) claimed.set(origin, count);
      else claimed.delete(origin);
      return { ...current, claimed };
    });
}

/** The requests no mounted view claims, oldest first: the dialog's. */
export function unclaimed(current: Snapshot): ToolApprovalRequested[] {
  return current.waiting.filter((request) => !request.origin || !current.claimed.has(request.origin));
}

/** `origin`'s requests, oldest first. */
export function requestsOf(current: Snapshot, origin: string): ToolApprovalRequested[] {
  return current.waiting.filter((request) => request.origin === origin);
}

/** Empties the queue (tests). */
export function resetApprovals() {
  snapshot = { waiting: [], claimed: new Map() };
  for (const listener of listeners) listener();
}
