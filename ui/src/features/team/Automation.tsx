// The workspace's automation on a team server: triggers (signed webhooks
// and cron schedules that start runs) and, for admins, outgoing webhooks
// with their delivery log. What the role does not allow is disabled; the
// server refuses it anyway.
import { Loader2, Plus, Trash2, Zap } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import {
  commands,
  type Automation_Serialize as Automation,
  type MadeWithSecret,
  type RemoteDelivery_Serialize as RemoteDelivery,
  type RemoteFlow_Serialize as RemoteFlow,
  type TeamSession_Serialize as TeamSession,
} from "@/ipc/bindings";

import { can, triggerWhen } from "./team";

const FIELD = "h-7 rounded border border-border bg-background px-1.5 text-xs text-foreground";

export function AutomationSection({ session, workspace, flows }: { session: TeamSession; workspace: string; flows: RemoteFlow[] }) {
  const [automation, setAutomation] = useState<Automation | null>(null);
  const [kind, setKind] = useState<"webhook" | "cron">("webhook");
  const [flow, setFlow] = useState("");
  const [schedule, setSchedule] = useState("0 9 * * 1-5");
  const [hookUrl, setHookUrl] = useState("");
  const [made, setMade] = useState<{ what: string; made: MadeWithSecret } | null>(null);
  const [log, setLog] = useState<{ hook: string; deliveries: RemoteDelivery[] } | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mayEdit = can(session, workspace, "edit");

  const load = useCallback(() => {
    void commands.teamAutomation(workspace).then((result) => {
      if (result.status === "ok") setAutomation(result.data);
      else setMessage(result.error.message);
    });
  }, [workspace]);
  useEffect(load, [load]);
  useEffect(() => {
    setFlow((current) => (flows.some((f) => f.name === current) ? current : (flows[0]?.name ?? "")));
  }, [flows]);

  const act = async (work: () => Promise<{ status: "ok" } | { status: "error"; error: { message: string } }>) => {
    setMessage(null);
    setBusy(true);
    const result = await work();
    setBusy(false);
    if (result.status === "error") setMessage(result.error.message);
    load();
  };

  const addTrigger = () =>
    act(async () => {
      const result = await commands.teamAddTrigger(workspace, kind, flow, kind === "cron" ? schedule : null);
      if (result.status === "ok") setMade({ what: `${kind} trigger of ${flow}`, made: result.data });
      return result;
    });
  const addWebhook = () =>
    act(async () => {
      const result = await commands.teamAddWebhook(workspace, hookUrl.trim(), []);
      if (result.status === "ok") {
        setMade({ what: `webhook to ${hookUrl.trim()}`, made: result.data });
        setHookUrl("");
      }
      return result;
    });
  const remove = (what: "trigger" | "webhook", id: string) => act(() => commands.teamRemoveAutomation(workspace, what, id));
  const showLog = async (hook: string) => {
    const result = await commands.teamDeliveries(workspace, hook);
    if (result.status === "ok") setLog({ hook, deliveries: result.data });
    else setMessage(result.error.message);
  };

  const cannot = `your role (${session.memberships.find((m) => m.workspace === workspace && m.flow === null)?.role ?? "none"}) cannot change triggers`;
  return (
    <section className="flex flex-col gap-2 border-t border-border pt-3 text-xs" aria-label="Triggers and webhooks" data-testid="team-automation">
      <h3 className="flex items-center gap-1 text-sm font-semibold">
        <Zap className="size-4 text-muted-foreground" /> Triggers of {workspace}
      </h3>
      {message && (
        <p role="status" data-testid="team-automation-message">
          {message}
        </p>
      )}
      {made && (
        <p className="rounded border border-border bg-muted/40 p-2" data-testid="team-made-secret">
          Made the {made.what}. {made.made.url && <>URL: <code className="select-all">{made.made.url}</code>. </>}
          {made.made.secret && (
            <>
              Signing secret, shown this once: <code className="select-all" data-testid="team-secret">{made.made.secret}</code>
            </>
          )}
        </p>
      )}
      <table className="w-full">
        <tbody>
          {automation?.triggers.length === 0 && (
            <tr>
              <td className="py-1 text-muted-foreground">No triggers: runs start only when someone starts them.</td>
            </tr>
          )}
          {automation?.triggers.map((trigger) => (
            <tr key={trigger.id} className="border-t border-border" data-testid="team-trigger" data-kind={trigger.kind}>
              <td className="py-1 pr-3">{trigger.kind}</td>
              <td className="py-1 pr-3 font-mono">{trigger.flow}</td>
              <td className="break-all py-1 pr-3 font-mono text-muted-foreground">{trigger.kind === "cron" ? trigger.schedule : trigger.url}</td>
              <td className="whitespace-nowrap py-1 text-muted-foreground">
                {triggerWhen(trigger)}
                {trigger.lastError && <span className="ml-2 text-destructive">{trigger.lastError}</span>}
              </td>
              <td className="py-1 text-right">
                <Button size="sm" variant="ghost" className="h-7" aria-label={`Remove the ${trigger.kind} trigger of ${trigger.flow}`} disabled={!mayEdit || busy} title={mayEdit ? "Remove (its URL and secret stop working)" : cannot} onClick={() => void remove("trigger", trigger.id)}>
                  <Trash2 className="size-3.5" />
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="flex flex-wrap items-end gap-2"
        onSubmit={(event) => {
          event.preventDefault();
          void addTrigger();
        }}
      >
        <label className="flex flex-col gap-0.5">
          Kind
          <select className={FIELD} data-testid="team-trigger-kind" value={kind} onChange={(event) => setKind(event.target.value === "cron" ? "cron" : "webhook")}>
            <option value="webhook">webhook (signed request)</option>
            <option value="cron">schedule (cron, UTC)</option>
          </select>
        </label>
        <label className="flex flex-col gap-0.5">
          Flow
          <select className={FIELD} data-testid="team-trigger-flow" value={flow} onChange={(event) => setFlow(event.target.value)}>
            {flows.map((f) => (
              <option key={f.name} value={f.name}>
                {f.name}
              </option>
            ))}
          </select>
        </label>
        {kind === "cron" && (
          <label className="flex flex-col gap-0.5">
            Schedule
            <input className={`${FIELD} w-36 font-mono`} data-testid="team-trigger-schedule" value={schedule} onChange={(event) => setSchedule(event.target.value)} />
          </label>
        )}
        <Button size="sm" type="submit" data-testid="team-add-trigger" disabled={!mayEdit || busy || flow === ""} title={mayEdit ? "Its runs use your role on the flow" : cannot}>
          {busy ? <Loader2 className="size-3.5 animate-spin" /> : <Plus className="size-3.5" />} Add trigger
        </Button>
      </form>
      {automation?.webhooks && (
        <div className="flex flex-col gap-2" data-testid="team-webhooks">
          <h4 className="font-semibold">Outgoing webhooks (run events, signed)</h4>
          {automation.webhooks.map((hook) => (
            <div key={hook.id} className="flex flex-wrap items-center gap-2 border-t border-border py-1" data-testid="team-webhook">
              <code>{hook.url}</code>
              <span className="text-muted-foreground">{hook.events.join(", ")}</span>
              <Button size="sm" variant="ghost" className="h-7" data-testid="team-webhook-log" onClick={() => void showLog(hook.id)}>
                Deliveries
              </Button>
              <Button size="sm" variant="ghost" className="h-7" aria-label={`Remove the webhook to ${hook.url}`} disabled={busy} onClick={() => void remove("webhook", hook.id)}>
                <Trash2 className="size-3.5" />
              </Button>
              {log?.hook === hook.id && (
                <ul className="w-full pl-2 font-mono" data-testid="team-deliveries">
                  {log.deliveries.length === 0 && <li className="text-muted-foreground">nothing sent yet</li>}
                  {log.deliveries.map((delivery) => (
                    <li key={delivery.id}>
                      #{delivery.id} {delivery.event} — {delivery.state} after {delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"}
                      {delivery.status !== null && ` (HTTP ${delivery.status})`}
                      {delivery.error && <span className="text-destructive"> {delivery.error}</span>}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          ))}
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(event) => {
              event.preventDefault();
              void addWebhook();
            }}
          >
            <label className="flex flex-col gap-0.5">
              Send every run event to
              <input className={`${FIELD} w-80`} data-testid="team-webhook-url" placeholder="https://example.com/codexos" value={hookUrl} onChange={(event) => setHookUrl(event.target.value)} />
            </label>
            <Button size="sm" type="submit" data-testid="team-add-webhook" disabled={busy || hookUrl.trim() === ""}>
              <Plus className="size-3.5" /> Add webhook
            </Button>
          </form>
        </div>
      )}
    </section>
  );
}
