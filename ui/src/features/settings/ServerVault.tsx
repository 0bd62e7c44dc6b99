import { Plus, Trash2 } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type IpcError } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The vault of the server's workspace open: what the role may do there. */
export interface ServerVaultPlace {
  /** "team on http://…" */
  label: string;
  /** May read the names (`edit`). */
  canList: boolean;
  /** May set and remove secrets (`secrets`: admins and owners). */
  canSet: boolean;
  /** May run (test a provider). */
  canRun?: boolean;
  role: string;
}

/** Settings → Vault, the server's part: the workspace's secret names, set
 * or removed there; values never come back (there is no Reveal). */
export function ServerVault({ place }: { place: ServerVaultPlace }) {
  const [names, setNames] = useState<string[] | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);

  const refresh = useCallback(() => {
    if (!place.canList) return;
    commands
      .workspaceVault()
      .then((result) => (result.status === "ok" ? setNames(result.data ?? []) : setError(result.error)))
      .catch((caught: unknown) => setError(toIpcError(caught)));
  }, [place.canList]);
  useEffect(() => refresh(), [refresh]);

  async function add() {
    if (!NAME.test(name) || !value) return;
    const result = await commands.workspaceSecretSet(name, value);
    setValue("");
    if (result.status === "error") return setError(result.error);
    setError(null);
    setNotice(`stored “${name}” in ${place.label} — its flows refer to it as vault://${name}`);
    setName("");
    refresh();
  }

  async function remove(secret: string) {
    if (confirming !== secret) return setConfirming(secret);
    setConfirming(null);
    const result = await commands.workspaceSecretRemove(secret);
    if (result.status === "error") return setError(result.error);
    setError(null);
    setNotice(`removed “${secret}” from ${place.label}`);
    refresh();
  }

  return (
    <section className="space-y-2 rounded-md border border-border p-2" data-testid="server-vault" aria-label={`Vault of ${place.label}`}>
      <h3 className="text-sm font-semibold">Vault of {place.label}</h3>
      <p className="text-xs text-muted-foreground">
        Kept on the server, encrypted with the workspace&apos;s own master key, and used there by its flows, tools and providers. A value goes to the server and never comes back — not even to you.
        {!place.canList && ` Your role (${place.role}) does not see the workspace's secrets.`}
        {place.canList && !place.canSet && ` Your role (${place.role}) sees their names; admins and owners set and remove them.`}
      </p>
      {error && (
        <div className="text-xs text-destructive" role="alert" data-testid="server-vault-error">
          {error.message}
        </div>
      )}
      {notice && (
        <div className="text-xs" role="status" data-testid="server-vault-notice">
          {notice}
        </div>
      )}
      {names && (
        <ul className="space-y-1">
          {names.map((secret) => (
            <li key={secret} className="flex items-center gap-2 rounded-md border border-border px-2 py-1" data-testid="server-vault-secret" data-name={secret}>
              <span className="flex-1 font-mono text-xs">{secret}</span>
              {place.canSet && (
                <Button size="sm" variant={confirming === secret ? "destructive" : "ghost"} onClick={() => void remove(secret)} onBlur={() => setConfirming(null)} data-testid="server-vault-delete">
                  <Trash2 /> {confirming === secret ? "Delete for good?" : "Delete"}
                </Button>
              )}
            </li>
          ))}
          {names.length === 0 && <li className="text-xs text-muted-foreground">No secret in this workspace yet.</li>}
        </ul>
      )}
      {place.canSet && (
        <form
          className="flex gap-1"
          onSubmit={(event) => {
            event.preventDefault();
            void add();
          }}
        >
          <Input
            placeholder="name (letters, digits, . _ -)"
            value={name}
            onChange={(event) => setName(event.target.value)}
            className="h-7 w-48 font-mono text-xs"
            aria-label="Secret name on the server"
            aria-invalid={name !== "" && !NAME.test(name)}
            data-testid="server-vault-name"
          />
          <Input
            type="password"
            autoComplete="off"
            placeholder="value"
            aria-label="Secret value, sent to the server"
            value={value}
            onChange={(event) => setValue(event.target.value)}
            className="h-7 text-xs"
            data-testid="server-vault-value"
          />
          <Button size="sm" variant="outline" type="submit" disabled={!NAME.test(name) || !value} data-testid="server-vault-add">
            <Plus /> Add
          </Button>
        </form>
      )}
    </section>
  );
}
