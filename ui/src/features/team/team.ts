// Pure logic of the team panel: what the signed-in account may do where
// (from the permissions the server computes from its role table), share
// links as pasted, and a fork's lineage as shown.
import type { ForkOrigin, TeamSession_Serialize as TeamSession } from "@/ipc/bindings";

/** The workspaces of a session, in the server's order, once each. */
export function workspaces(session: TeamSession): string[] {
  return [...new Set(session.memberships.filter((m) => m.flow === null).map((m) => m.workspace))];
}

/** The role and permissions in `workspace` (a grant on `flow` wins). */
export function roleIn(session: TeamSession, workspace: string, flow?: string): { role: string; permissions: string[] } | null {
  const grant = flow === undefined ? undefined : session.memberships.find((m) => m.workspace === workspace && m.flow === flow);
  const base = session.memberships.find((m) => m.workspace === workspace && m.flow === null);
  const chosen = grant ?? base;
  return chosen ? { role: chosen.role, permissions: chosen.permissions } : null;
}

/** Whether the session may do `permission` in `workspace` (on `flow`). */
export function can(session: TeamSession, workspace: string, permission: string, flow?: string): boolean {
  return roleIn(session, workspace, flow)?.permissions.includes(permission) ?? false;
}

/** Where a fork may go: the other workspaces where the session may edit. */
export function forkTargets(session: TeamSession, current: string): string[] {
  return workspaces(session).filter((workspace) => workspace !== current && can(session, workspace, "edit"));
}

/** A share link as pasted: `codexos://share?server=…&link=…`, the web
 * page's `http(s)://host/share/LINK`, or the bare link with a server. */
export function parseShareLink(text: string, server: string): { server: string; link: string } | null {
  const trimmed = text.trim();
  if (trimmed.startsWith("codexos://")) {
    const query = trimmed.split("?")[1] ?? "";
    const params = new URLSearchParams(query);
    const link = params.get("link");
    const from = params.get("server");
    return link && from ? { server: from, link } : null;
  }
  const page = /^(https?:\/\/[^/]+)\/share\/([A-Za-z0-9._-]+)$/.exec(trimmed);
  if (page?.[1] && page[2]) return { server: page[1], link: page[2] };
  if (/^[0-9a-f]{16}-[0-9a-f]{32}$/.test(trimmed) && server.trim() !== "") return { server: server.trim(), link: trimmed };
  return null;
}

/** "forked from workspace:team › gate v3", or null for an original. */
export function lineage(origin: ForkOrigin | null | undefined): string | null {
  if (!origin) return null;
  const signer = origin.signer ? `, signed by ${origin.signer}` : "";
  // A bundle's flow has no version number (0).
  const version = origin.version > 0 ? ` v${origin.version}` : "";
  return `forked from ${origin.origin} › ${origin.flow}${version}${signer}`;
}

/** A Unix-ms time as `2026-12-06 09:00 UTC`. */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** When a trigger fires next and when it last did. */
export function triggerWhen(trigger: { nextAtMs: number | null; firedAtMs: number | null; lastRun: string | null }): string {
  const parts: string[] = [];
  if (trigger.nextAtMs !== null) parts.push(`next ${utc(trigger.nextAtMs)}`);
  parts.push(trigger.firedAtMs === null ? "never fired" : `last fired ${utc(trigger.firedAtMs)}${trigger.lastRun ? ` (run ${trigger.lastRun.slice(0, 8)})` : ""}`);
  return parts.join(" · ");
}
