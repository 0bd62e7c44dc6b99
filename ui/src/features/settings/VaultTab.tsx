import { Eye, EyeOff, KeyRound, Lock, Plus, RefreshCw, Trash2 } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type IpcError, type VaultView } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { ServerVault, type ServerVaultPlace } from "./ServerVault";

/** How long a revealed value stays on screen. */
const REVEAL_MS = 20_000;
const NAME = /^[A-Za-z0-9._-]{1,128}$/;

function SecretRow({ name, onRemoved, onError }: { name: string; onRemoved: () => void; onError: (error: IpcError) => void }) {
  const [value, setValue] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const hide = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(
    () => () => {
      if (hide.current) clearTimeout(hide.current);
    },
    [],
  );

  async function reveal() {
    if (value !== null) {
      setValue(null);
      return;
    }
    const result = await commands.vaultReveal(name);
    if (result.status === "error") return onError(result.error);
    setValue(result.data);
    if (hide.current) clearTimeout(hide.current);
    hide.current = setTimeout(() => setValue(null), REVEAL_MS);
  }

  async function remove() {
    if (!confirming) return setConfirming(true);
    const result = await commands.vaultRemove(name);
    setConfirming(false);
    if (result.status === "error") return onError(result.error);
    onRemoved();
  }

  return (
    <li className="flex items-center gap-2 rounded-md border border-border px-2 py-1" data-testid="vault-secret" data-name={name}>
      <span className="font-mono text-xs">{name}</span>
      <span className="min-w-0 flex-1 truncate font-mono text-xs text-muted-foreground" data-testid="vault-value">
        {value ?? "••••••••"}
      </span>
      <Button size="sm" variant="ghost" onClick={() => void reveal()} aria-label={value === null ? `Reveal ${name}` : `Hide ${name}`} data-testid="vault-reveal">
        {value === null ? <Eye /> : <EyeOff />} {value === null ? "Reveal" : "Hide"}
      </Button>
      <Button size="sm" variant={confirming ? "destructive" : "ghost"} onClick={() => void remove()} onBlur={() => setConfirming(false)} data-testid="vault-delete">
        <Trash2 /> {confirming ? "Delete for good?" : "Delete"}
      </Button>
    </li>
  );
}

/** Settings → Vault: secret names, add, delete, rotate, reveal on request;
 * with a server's workspace open, that workspace's vault first. */
export function VaultTab({ server = null }: { server?: ServerVaultPlace | null }) {
  const [view, setView] = useState<VaultView | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [passphrase, setPassphrase] = useState("");

  const refresh = useCallback(() => {
    commands
      .vaultView()
      .then((result) => (result.status === "ok" ? setView(result.data) : setError(result.error)))
      .catch((caught: unknown) => setError(toIpcError(caught)));
  }, []);

  useEffect(() => refresh(), [refresh]);

  async function add() {
    if (!NAME.test(name) || !value) return;
    const result = await commands.storeSecret(name, value);
    setValue("");
    if (result.status === "error") return setError(result.error);
    setError(null);
    setNotice(`stored “${name}” — refer to it as vault://${name}`);
    setName("");
    refresh();
  }

  async function unlock() {
    const result = await commands.vaultUnlock(passphrase);
    setPassphrase("");
    if (result.status === "error") return setError(result.error);
    setError(null);
    refresh();
  }

  async function rotate() {
    const result = await commands.vaultRotate(view?.mode === "passphrase" ? passphrase : null);
    setPassphrase("");
    if (result.status === "error") return setError(result.error);
    setError(null);
    setNotice(
      `new master key ${result.data.keyId}: ${result.data.resealed} secret(s) re-wrapped${result.data.warning ? ` — ${result.data.warning}` : ""}`,
    );
    refresh();
  }

  return (
    <div className="space-y-3" data-testid="vault">
      {server && <ServerVault place={server} />}
      {server && <h3 className="text-sm font-semibold">This machine&apos;s vault</h3>}
      <p className="text-xs text-muted-foreground">
        Secrets are encrypted (a data key per secret, wrapped by a master key
        {view?.mode === "passphrase" ? " derived from your passphrase" : " kept in the OS keychain"}). Flows, tools and
        providers name them as <span className="font-mono">vault://NAME</span>; values are read at call time and never
        shown here unless you reveal one.
      </p>
      {error && (
        <div className="text-xs text-destructive" role="alert" data-testid="vault-error">
          {error.message}
        </div>
      )}
      {notice && (
        <div className="text-xs" role="status" data-testid="vault-notice">
          {notice}
        </div>
      )}
      {view && (
        <div className="flex items-center gap-2 text-xs">
          <Badge>{view.mode}</Badge>
          {view.locked && (
            <Badge>
              <Lock className="size-3" /> locked
            </Badge>
          )}
          {view.keyId && <span className="font-mono text-muted-foreground">key {view.keyId}</span>}
        </div>
      )}
      {view?.mode === "passphrase" && (
        <form
          className="flex gap-1"
          onSubmit={(event) => {
            event.preventDefault();
            void (view.locked ? unlock() : rotate());
          }}
        >
          <Input
            type="password"
            autoComplete="off"
            placeholder={view.locked ? "passphrase" : "new passphrase (10+ characters) to rotate"}
            value={passphrase}
            onChange={(event) => setPassphrase(event.target.value)}
            className="h-7 text-xs"
            data-testid="vault-passphrase"
          />
          <Button size="sm" variant="outline" type="submit" disabled={!passphrase}>
            {view.locked ? (
              <>
                <KeyRound /> Unlock
              </>
            ) : (
              <>
                <RefreshCw /> Rotate
              </>
            )}
          </Button>
        </form>
      )}
      {view && !view.locked && (
        <>
          <ul className="space-y-1">
            {view.secrets.map((secret) => (
              <SecretRow key={secret} name={secret} onRemoved={refresh} onError={setError} />
            ))}
          </ul>
          {view.secrets.length === 0 && <p className="text-xs text-muted-foreground">The vault is empty.</p>}
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
              aria-invalid={name !== "" && !NAME.test(name)}
              data-testid="vault-name"
            />
            <Input
              type="password"
              autoComplete="off"
              placeholder="value"
              value={value}
              onChange={(event) => setValue(event.target.value)}
              className="h-7 text-xs"
              data-testid="vault-new-value"
            />
            <Button size="sm" variant="outline" type="submit" disabled={!NAME.test(name) || !value} data-testid="vault-add">
              <Plus /> Add
            </Button>
          </form>
          {view.mode === "keychain" && (
            <Button size="sm" variant="outline" onClick={() => void rotate()} data-testid="vault-rotate">
              <RefreshCw /> Rotate the master key
            </Button>
          )}
        </>
      )}
    </div>
  );
}
