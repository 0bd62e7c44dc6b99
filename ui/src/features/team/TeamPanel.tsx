import { Channel } from "@tauri-apps/api/core";
import { GitFork, Link2, Loader2, LogOut, Play, Plus, Users, X } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import {
  commands,
  type IpcError_Serialize as IpcError,
  type OidcSignIn,
  type RemoteFlow_Serialize as RemoteFlow,
  type RunEvent,
  type LinkOpened,
  type OpenedLink_Serialize as OpenedLink,
  type SharedLink,
  type SharedRun_Serialize as SharedRun,
  type TeamSession_Serialize as TeamSession,
} from "@/ipc/bindings";
import { useEscape } from "@/features/layout/useEscape";
import { leaveOpenFlow } from "@/features/flow/keeper";

import { AutomationSection } from "./Automation";
import { can, forkTargets, lineage, parseShareLink, roleIn, workspaces } from "./team";

const FIELD = "h-7 rounded border border-border bg-background px-1.5 text-xs text-foreground";

/** One event as a line of the run log. */
function eventLine(event: RunEvent): string {
  const kind = event.event.type;
  const node = event.node ? ` ${event.node}` : "";
  return `${event.seq} ${kind}${node}`;
}

function Events({ events, testId }: { events: RunEvent[]; testId: string }) {
  return (
    <ol className="max-h-64 overflow-auto rounded border border-border p-2 font-mono text-xs" data-testid={testId}>
      {events.map((event) => (
        <li key={event.seq} data-kind={event.event.type}>
          {eventLine(event)}
        </li>
      ))}
    </ol>
  );
}

/** A shared run, read-only: nothing here can change it. */
function SharedRunView({ shared }: { shared: SharedRun }) {
  return (
    <section className="flex flex-col gap-1" data-testid="team-shared" aria-label="Shared run (read-only)">
      <h3 className="text-sm font-semibold">
        {shared.flow} <span className="font-normal text-muted-foreground">in {shared.workspace} — read-only</span>
      </h3>
      <p className="text-xs">
        Run <code>{shared.run}</code>: <b data-testid="team-shared-status">{shared.status}</b>
      </p>
      <Events events={shared.events} testId="team-shared-events" />
    </section>
  );
}

/** A flow a run or fork link shares: run it, or fork it into a workspace
 * of its server where you may edit (signed in there). */
function LinkedFlow({ linked, session, busy, onRun, onFork }: { linked: OpenedLink; session: TeamSession | null; busy: boolean; onRun: () => void; onFork: (into: string) => void }) {
  const here = session?.server === linked.server ? session : null;
  const targets = here ? forkTargets(here, "") : [];
  const [picked, setInto] = useState("");
  // Signed in later (or elsewhere), the first workspace that may take it.
  const into = targets.includes(picked) ? picked : (targets[0] ?? "");
  const signIn = `sign in to ${linked.server} above (or pick it there) to ${linked.kind} it`;
  return (
    <section className="flex flex-col gap-1 text-xs" data-testid="team-linked-flow" data-kind={linked.kind} aria-label="Shared flow">
      <h3 className="text-sm font-semibold">
        {linked.flow} <span className="font-normal text-muted-foreground">in {linked.workspace} on {linked.server} — this link lets you {linked.kind} it</span>
      </h3>
      {linked.description && <p className="text-muted-foreground">{linked.description}</p>}
      <div className="flex items-center gap-2">
        {linked.kind === "run" && (
          <Button size="sm" data-testid="team-link-run" disabled={!here || busy} title={here ? "Run it on its server" : signIn} onClick={onRun}>
            <Play className="size-3.5" /> Run
          </Button>
        )}
        {linked.kind === "fork" && (
          <>
            <label className="flex items-center gap-1 text-muted-foreground">
              into
              <select className={FIELD} data-testid="team-link-fork-target" value={into} disabled={!here} onChange={(event) => setInto(event.target.value)}>
                {targets.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            <Button size="sm" data-testid="team-link-fork" disabled={!here || into === ""} title={!here ? signIn : into === "" ? "no workspace there where you may edit" : `Copy into ${into}, keeping where it came from`} onClick={() => onFork(into)}>
              <GitFork className="size-3.5" /> Fork
            </Button>
          </>
        )}
        {!here && <span className="text-muted-foreground">{signIn}</span>}
      </div>
    </section>
  );
}

/** The app as a client of a team server: sign in, pick a workspace, see
 * its flows with their lineage, run one and follow it live, fork, share;
 * or open a shared run read-only. What the role does not allow is
 * disabled, with the reason; the server refuses it anyway. */
export function TeamPanel({ onClose, onSession, opened = null }: { onClose: () => void; onSession?: (session: TeamSession | null) => void; opened?: LinkOpened | null }) {
  useEscape(onClose);
  const [session, setSession] = useState<TeamSession | null>(null);
  const [server, setServer] = useState("http://127.0.0.1:7420");
  const [account, setAccount] = useState("");
  const [password, setPassword] = useState("");
  const [workspace, setWorkspace] = useState("");
  const [flows, setFlows] = useState<RemoteFlow[]>([]);
  const [running, setRunning] = useState<string | null>(null);
  const [lastRun, setLastRun] = useState<{ workspace: string; flow: string; id: string | null } | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [forkTo, setForkTo] = useState("");
  const [link, setLink] = useState("");
  const [made, setMade] = useState<SharedLink | null>(null);
  const [shared, setShared] = useState<OpenedLink | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  // A link opened from outside: filled in to open here (a sign-in under
  // way is kept).
  useEffect(() => {
    if (!opened) return;
    setLink(opened.url);
    setMessage(`A link opened from outside the app, shared on ${opened.server}: press Open to see what it shares (a run opens read-only; a flow to run or fork waits for you).`);
  }, [opened]);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState<OidcSignIn | null>(null);
  // Every server signed in to (the panel shows one), and whether the
  // sign-in form is open for another.
  const [servers, setServers] = useState<string[]>([]);
  const [adding, setAdding] = useState(false);

  const adopt = useCallback(
    (next: TeamSession | null) => {
      setSession(next);
      onSession?.(next);
      void commands.teamSessions().then((result) => result.status === "ok" && setServers(result.data.map((signed) => signed.server)));
      if (next) {
        setServer(next.server);
        const names = workspaces(next);
        setWorkspace((current) => (names.includes(current) ? current : (names[0] ?? "")));
        const targets = forkTargets(next, "");
        setForkTo((current) => (targets.includes(current) ? current : (targets[0] ?? "")));
      }
    },
    [onSession],
  );

  useEffect(() => {
    void commands.teamSession().then((result) => {
      if (result.status === "ok") adopt(result.data);
    });
  }, [adopt]);

  const loadFlows = useCallback(() => {
    if (!session || !workspace) return;
    void commands.teamFlows(workspace).then((result) => {
      if (result.status === "ok") setFlows(result.data);
      else setMessage(result.error.message);
    });
  }, [session, workspace]);
  useEffect(loadFlows, [loadFlows]);

  const signIn = async () => {
    setMessage(null);
    setBusy(true);
    const result = await commands.teamSignIn(server, account, password);
    setBusy(false);
    setPassword("");
    if (result.status === "ok") {
      setAdding(false);
      adopt(result.data);
    } else setMessage(result.error.message);
  };

  /** Shows another server signed in to. */
  const show = async (other: string) => {
    setMessage(null);
    setFlows([]);
    setMade(null);
    const result = await commands.teamShow(other);
    if (result.status === "ok") adopt(result.data);
    else setMessage(result.error.message);
  };

  /** Sign-in through the server's OIDC provider, in the system browser. */
  const signInSso = async () => {
    setMessage(null);
    const started = await commands.teamOidcStart(server);
    setSso(started);
    const result = await commands.teamOidcFinish();
    setSso(null);
    if (result.status === "ok") {
      setAdding(false);
      adopt(result.data);
    } else setMessage(result.error.message);
  };

  const signOut = async () => {
    // A server's flow open in the canvas keeps its unsaved edits there
    // first, and a run going on keeps the session.
    const refused = await leaveOpenFlow();
    if (refused) return setMessage(refused);
    await commands.teamSignOut();
    setForkTo("");
    setMade(null);
    setFlows([]);
    setEvents([]);
    setStatus(null);
    // The other servers stay signed in: the panel shows the next one.
    const next = await commands.teamSession();
    adopt(next.status === "ok" ? next.data : null);
  };

  /** Starts a run with `start` and follows its events into the run log. */
  const follow = async (where: string, flow: string, start: (channel: Channel<RunEvent>) => Promise<{ status: "ok"; data: string } | { status: "error"; error: IpcError }>, ended: (status: string) => string = (status) => status) => {
    setMessage(null);
    setRunning(flow);
    setLastRun({ workspace: where, flow, id: null });
    setEvents([]);
    setStatus(null);
    const channel = new Channel<RunEvent>();
    channel.onmessage = (event) => {
      setEvents((seen) => [...seen, event]);
      setLastRun((last) => (last && last.id === null ? { ...last, id: event.run } : last));
    };
    const result = await start(channel);
    setRunning(null);
    if (result.status === "ok") setStatus(ended(result.data));
    else setMessage(result.error.message);
  };

  const run = (flow: string) => follow(workspace, flow, (channel) => commands.teamRun(workspace, flow, channel));

  const fork = async (flow: string) => {
    setMessage(null);
    const result = await commands.teamFork(workspace, flow, forkTo, null);
    if (result.status === "ok") {
      setMessage(`forked ${flow} into ${forkTo}`);
      if (forkTo === workspace) loadFlows();
    } else setMessage(result.error.message);
  };

  /** A read-only link to the last run, for anyone to open. */
  const shareRun = async () => {
    if (!lastRun?.id) return;
    setMessage(null);
    const result = await commands.teamShare(lastRun.workspace, "view", lastRun.id);
    if (result.status === "ok") setMade(result.data);
    else setMessage(result.error.message);
  };

  const open = async () => {
    setMessage(null);
    const parsed = parseShareLink(link, server);
    if (!parsed) {
      setMessage("that is not a share link: paste a codexos://share link, the page's address, or the link with the server above");
      return;
    }
    const result = await commands.teamOpenLink(parsed.server, parsed.link);
    if (result.status === "ok") setShared(result.data);
    else setMessage(result.error.message);
  };

  /** Runs the flow a run link shares (signed in to its server). */
  const runLinked = (linked: OpenedLink) =>
    follow(
      linked.workspace,
      linked.flow ?? "",
      (channel) => commands.teamLinkRun(linked.server, linked.link, channel),
      (ended) => (ended === "started" ? `started on ${linked.server} (its events are for members of ${linked.workspace})` : ended),
    );

  /** Forks the flow a fork link shares into a workspace of its server. */
  const forkLinked = async (linked: OpenedLink, into: string) => {
    setMessage(null);
    const result = await commands.teamLinkFork(linked.server, linked.link, into, null);
    if (result.status === "ok") {
      setMessage(`forked ${linked.flow ?? "the flow"} into ${into} as ${result.data}, keeping where it came from`);
      if (into === workspace) loadFlows();
    } else setMessage(result.error.message);
  };

  const role = session && workspace ? roleIn(session, workspace) : null;

  return (
    <div className="absolute inset-0 z-10 flex flex-col overflow-auto bg-background" data-testid="team-panel" role="dialog" aria-label="Team server">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-4 py-2 text-xs">
        <Users className="size-4 text-muted-foreground" />
        <h2 className="text-sm font-semibold">Team server</h2>
        {session && (
          <>
            <span data-testid="team-who">
              {session.account} @{" "}
              {servers.length > 1 ? (
                <select className={FIELD} aria-label="Server" data-testid="team-server-pick" value={session.server} onChange={(event) => void show(event.target.value)}>
                  {servers.map((server) => (
                    <option key={server} value={server}>
                      {server}
                    </option>
                  ))}
                </select>
              ) : (
                session.server
              )}
            </span>
            <label className="flex items-center gap-1 text-muted-foreground">
              Workspace
              <select className={FIELD} data-testid="team-workspace" value={workspace} onChange={(event) => setWorkspace(event.target.value)}>
                {workspaces(session).map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            {role && (
              <span className="rounded bg-muted px-1.5 py-0.5" data-testid="team-role" title={`You may: ${role.permissions.join(", ")}`}>
                {role.role}
              </span>
            )}
            <Button size="sm" variant="ghost" className="h-7" data-testid="team-sign-out" title={`Sign out of ${session.server} (other servers stay signed in)`} onClick={() => void signOut()}>
              <LogOut className="size-3.5" /> Sign out
            </Button>
            <Button size="sm" variant="ghost" className="h-7" data-testid="team-add-server" disabled={adding} title="Sign in to another server too" onClick={() => {
                setAdding(true);
                setServer("");
              }}>
              <Plus className="size-3.5" /> Another server
            </Button>
          </>
        )}
        <Button size="icon" variant="ghost" className="ml-auto" aria-label="Close team panel" onClick={onClose}>
          <X />
        </Button>
      </div>
      <div className="flex flex-col gap-4 p-4">
        {message && (
          <p className="text-xs" role="status" data-testid="team-message">
            {message}
          </p>
        )}
        {(!session || adding) && (
          <form
            className="flex flex-wrap items-end gap-2 text-xs"
            data-testid="team-sign-in-form"
            onSubmit={(event) => {
              event.preventDefault();
              void signIn();
            }}
          >
            <label className="flex flex-col gap-0.5">
              Server
              <input className={`${FIELD} w-64`} data-testid="team-server" value={server} onChange={(event) => setServer(event.target.value)} />
            </label>
            <label className="flex flex-col gap-0.5">
              Account
              <input className={FIELD} data-testid="team-account" autoComplete="username" value={account} onChange={(event) => setAccount(event.target.value)} />
            </label>
            <label className="flex flex-col gap-0.5">
              Password
              <input className={FIELD} data-testid="team-password" type="password" autoComplete="current-password" value={password} onChange={(event) => setPassword(event.target.value)} />
            </label>
            <Button size="sm" type="submit" data-testid="team-sign-in" disabled={busy || account === "" || password === ""}>
              {busy && <Loader2 className="size-3.5 animate-spin" />} Sign in
            </Button>
            <Button size="sm" type="button" variant="outline" data-testid="team-sign-in-sso" disabled={busy || sso !== null || server.trim() === ""} title="Sign in through the server's identity provider, in your browser" onClick={() => void signInSso()}>
              Sign in with SSO
            </Button>
            {adding && (
              <Button size="sm" type="button" variant="ghost" data-testid="team-add-cancel" onClick={() => setAdding(false)}>
                Cancel
              </Button>
            )}
          </form>
        )}
        {(!session || adding) && sso && (
          <div className="flex flex-col gap-1 rounded border border-border p-2 text-xs" data-testid="team-sso" role="status">
            <p>
              Finish signing in in your browser. Its page must show the code <b data-testid="team-sso-code">{sso.code}</b> — confirm there only if it does.
            </p>
            <p>
              If no browser opened, open <code className="select-all" data-testid="team-sso-url">{sso.url}</code>
            </p>
            <div>
              <Button size="sm" variant="ghost" className="h-7" data-testid="team-sso-cancel" onClick={() => void commands.teamOidcCancel()}>
                Cancel
              </Button>
            </div>
          </div>
        )}
        {session && workspace && (
          <section className="flex flex-col gap-2" aria-label="Flows">
            <div className="flex items-center gap-2 text-xs">
              <h3 className="text-sm font-semibold">Flows of {workspace}</h3>
              <label className="ml-auto flex items-center gap-1 text-muted-foreground">
                Fork into
                <select className={FIELD} data-testid="team-fork-target" value={forkTo} onChange={(event) => setForkTo(event.target.value)}>
                  {forkTargets(session, workspace).map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <table className="w-full text-xs">
              <tbody>
                {flows.map((flow) => {
                  const mayRun = can(session, workspace, "run", flow.name);
                  const why = (action: string) => `your role (${roleIn(session, workspace, flow.name)?.role ?? "none"}) cannot ${action} this flow`;
                  const origin = lineage(flow.forkedFrom);
                  return (
                    <tr key={flow.name} className="border-t border-border" data-testid="team-flow" data-flow={flow.name}>
                      <td className="py-1 font-mono">{flow.name}</td>
                      <td className="py-1 text-muted-foreground">
                        {flow.description}
                        {origin && (
                          <span className="ml-2 italic" data-testid="team-lineage">
                            {origin}
                          </span>
                        )}
                        {flow.error && <span className="ml-2 text-destructive">{flow.error}</span>}
                      </td>
                      <td className="whitespace-nowrap py-1 text-right">
                        <Button size="sm" variant="ghost" className="h-7" data-testid="team-run" disabled={!mayRun || running !== null} title={mayRun ? "Run on the server" : why("run")} onClick={() => void run(flow.name)}>
                          {running === flow.name ? <Loader2 className="size-3.5 animate-spin" /> : <Play className="size-3.5" />} Run
                        </Button>

                        <Button size="sm" variant="ghost" className="h-7" data-testid="team-fork" disabled={forkTo === ""} title={forkTo === "" ? "no workspace where you may edit" : `Copy into ${forkTo}, keeping where it came from`} onClick={() => void fork(flow.name)}>
                          <GitFork className="size-3.5" /> Fork
                        </Button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {made && (
              <p className="text-xs" data-testid="team-made-link">
                Read-only link: <code className="select-all">{made.app}</code> — on the web: <code className="select-all">{made.url}</code>
              </p>
            )}
            {(events.length > 0 || status) && (
              <div className="flex flex-col gap-1">
                <div className="flex items-center gap-2 text-xs">
                  <span>
                    Run of {lastRun ? `${lastRun.flow} in ${lastRun.workspace}` : ""}: <b data-testid="team-run-status">{status ?? "running…"}</b>
                  </span>
                  {lastRun && (
                    <Button
                      size="sm"
                      variant="ghost"
                      className="h-7"
                      data-testid="team-share-run"
                      disabled={!lastRun.id || !can(session, lastRun.workspace, "edit", lastRun.flow)}
                      title={can(session, lastRun.workspace, "edit", lastRun.flow) ? "A read-only link to this run, for anyone to open" : `your role (${roleIn(session, lastRun.workspace, lastRun.flow)?.role ?? "none"}) cannot share runs of this flow`}
                      onClick={() => void shareRun()}
                    >
                      <Link2 className="size-3.5" /> Share this run
                    </Button>
                  )}
                </div>
                <Events events={events} testId="team-run-log" />
              </div>
            )}
          </section>
        )}
        {session && workspace && <AutomationSection session={session} workspace={workspace} flows={flows} />}
        <section className="flex flex-col gap-2 border-t border-border pt-3" aria-label="Open a share link">
          <h3 className="text-sm font-semibold">Open a share link</h3>
          <div className="flex flex-wrap items-center gap-2 text-xs">
            <input className={`${FIELD} w-[32rem]`} data-testid="team-link" placeholder="codexos://share?… or http://server/share/…" aria-label="Share link" value={link} onChange={(event) => setLink(event.target.value)} />
            <Button size="sm" data-testid="team-open-link" disabled={link.trim() === ""} onClick={() => void open()}>
              Open
            </Button>
          </div>
          {shared?.run && <SharedRunView shared={shared.run} />}
          {shared && !shared.run && <LinkedFlow linked={shared} session={session} busy={running !== null} onRun={() => void runLinked(shared)} onFork={(into) => void forkLinked(shared, into)} />}
        </section>
      </div>
    </div>
  );
}
