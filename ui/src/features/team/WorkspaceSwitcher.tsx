import { Server } from "lucide-react";

import type { TeamSession_Serialize as TeamSession } from "@/ipc/bindings";

import { switcherChoices, type Access } from "./workspace";

/** The header's workspace switcher: this machine's flows, or a workspace
 * of the team server signed in to (sign in from the Team panel). */
export function WorkspaceSwitcher({
  session,
  access,
  busy,
  onOpen,
}: {
  session: TeamSession | null;
  access: Access | null;
  busy: boolean;
  onOpen: (workspace: string | null) => void;
}) {
  const choices = switcherChoices(session);
  return (
    <label className="flex items-center gap-1 text-xs text-muted-foreground" title={session ? `Signed in to ${session.server} as ${session.account}` : "Sign in to a team server from the Team panel to open its workspaces"}>
      <Server className="size-3.5" aria-hidden />
      <span className="sr-only">Workspace</span>
      <select
        className="max-w-[16rem] truncate rounded border border-border bg-background px-1 py-0.5 text-xs text-foreground"
        aria-label="Workspace"
        data-testid="workspace-switcher"
        disabled={busy || choices.length === 1}
        value={access?.workspace ?? ""}
        onChange={(event) => onOpen(event.target.value === "" ? null : event.target.value)}
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
