import { Server } from "lucide-react";

import type { TeamSession_Serialize as TeamSession } from "@/ipc/bindings";

import { placeOf, placeValue, switcherChoices, type Access, type Place } from "./workspace";

/** The header's workspace switcher: this machine's flows, or a workspace
 * of a team server signed in to (sign in from the Team panel). */
export function WorkspaceSwitcher({
  sessions,
  access,
  busy,
  onOpen,
}: {
  sessions: TeamSession[];
  access: Access | null;
  busy: boolean;
  onOpen: (place: Place | null) => void;
}) {
  const choices = switcherChoices(sessions, access);
  const signedIn = sessions.map((session) => `${session.server} as ${session.account}`).join(", ");
  return (
    <label className="flex items-center gap-1 text-xs text-muted-foreground" title={signedIn ? `Signed in to ${signedIn}` : "Sign in to a team server from the Team panel to open its workspaces"}>
      <Server className="size-3.5" aria-hidden />
      <span className="sr-only">Workspace</span>
      <select
        className="max-w-[16rem] truncate rounded border border-border bg-background px-1 py-0.5 text-xs text-foreground"
        aria-label="Workspace"
        data-testid="workspace-switcher"
        disabled={busy || choices.length === 1}
        value={placeValue(access)}
        onChange={(event) => onOpen(placeOf(event.target.value))}
      >
        {choices.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </label>
  );
}
