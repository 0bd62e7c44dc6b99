// Where the app works: this machine's data home, or a team server's
// workspace opened from the header's switcher. Pure logic: the switcher's
// choices, and what the open workspace's role allows the canvas to do.
import type { OpenWorkspace_Serialize as OpenWorkspace, TeamSession_Serialize as TeamSession } from "@/ipc/bindings";

import { roleIn, workspaces } from "./team";

/** A server's workspace open in the canvas, with the role held there. */
export interface Access {
  server: string;
  workspace: string;
  role: string;
  permissions: string[];
}

/** The open workspace as the backend reports it; null for this machine. */
export function accessOf(open: OpenWorkspace): Access | null {
  if (!open.server || !open.workspace) return null;
  return { server: open.server, workspace: open.workspace, role: open.role ?? "none", permissions: open.permissions };
}

/** Whether the canvas may do `permission`: everything on this machine;
 * on a server, what the role's permissions say. */
export function allows(access: Access | null, permission: string): boolean {
  return access === null || access.permissions.includes(permission);
}

/** Why a control is disabled: the role, and what it would need. */
export function refusedBecause(access: Access | null, action: string): string {
  return access ? `your role in ${access.workspace} (${access.role}) cannot ${action}` : "";
}

/** A workspace of a server, as the switcher names it (`null`: this machine). */
export interface Place {
  server: string;
  workspace: string;
}

/** The switcher's value of a place: the server and the workspace (whose
 * names have no spaces), "" for this machine. */
export function placeValue(place: Place | null): string {
  return place ? `${place.server} ${place.workspace}` : "";
}

/** The place a switcher value names. */
export function placeOf(value: string): Place | null {
  const cut = value.lastIndexOf(" ");
  return cut <= 0 ? null : { server: value.slice(0, cut), workspace: value.slice(cut + 1) };
}

const hostOf = (server: string) => server.replace(/^https?:\/\//, "");

/** The switcher's choices: this machine, then each workspace of each
 * server signed in to, with the role held there; the workspace open stays
 * listed while its server does not answer. */
export function switcherChoices(sessions: TeamSession[], open: Place | null = null): { value: string; label: string }[] {
  const choices = [
    { value: "", label: "This machine" },
    ...sessions.flatMap((session) =>
      workspaces(session).map((name) => ({
        value: placeValue({ server: session.server, workspace: name }),
        label: `${hostOf(session.server)} › ${name} (${roleIn(session, name)?.role ?? "none"})`,
      })),
    ),
  ];
  const value = placeValue(open);
  if (open && !choices.some((choice) => choice.value === value)) choices.push({ value, label: `${hostOf(open.server)} › ${open.workspace} (not answering)` });
  return choices;
}

/** One line on the canvas saying where it works and what the role allows. */
export function describeAccess(access: Access): string {
  const may = ["edit", "run", "approve"].filter((permission) => access.permissions.includes(permission));
  const allowed = may.length === 0 ? "view only" : `may ${may.join(", ")}`;
  return `${access.workspace} on ${access.server} — ${access.role}: ${allowed}. Runs execute on the server.`;
}
