import { BadgeCheck, FileDown, FileUp, KeyRound, ShieldAlert, Trash2 } from "lucide-react";
import { useCallback, useEffect, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type AgentVersion_Serialize as AgentVersion, type BundleImportView, type BundleKeys, type BundleView, type FlowEntry } from "@/ipc/bindings";

type Note = { text: string; error?: boolean } | null;

function NoteLine({ note, testId }: { note: Note; testId: string }) {
  if (!note) return null;
  return (
    <p className={`text-xs ${note.error ? "text-destructive" : "text-muted-foreground"}`} role={note.error ? "alert" : "status"} data-testid={testId}>
      {note.text}
    </p>
  );
}

/**
 * Settings → Bundles: this home's signing keys and trust list; export flows
 * and agents as one signed file; verify a bundle (signer, fingerprint, trust)
 * and import it — all or nothing, as `codexos bundle` does.
 */
/**
 * Settings → Bundles: this machine's signing keys and trust list, bundles
 * exported from this machine's flows and agents, and bundles verified and
 * imported — into the server's workspace (`server` names it) while one is
 * open, against its trust list.
 */
export function BundlesTab({ server = null }: { server?: string | null }) {
  const [keys, setKeys] = useState<BundleKeys | null>(null);
  const [signerName, setSignerName] = useState("");
  const [keysNote, setKeysNote] = useState<Note>(null);
  const [flows, setFlows] = useState<FlowEntry[]>([]);
  const [agents, setAgents] = useState<AgentVersion[]>([]);
  const [picked, setPicked] = useState<{ flows: string[]; agents: string[] }>({ flows: [], agents: [] });
  const [bundleName, setBundleName] = useState("");
  const [signed, setSigned] = useState(true);
  const [exportNote, setExportNote] = useState<Note>(null);
  const [path, setPath] = useState("");
  const [checked, setChecked] = useState<BundleView | null>(null);
  const [allowUnsigned, setAllowUnsigned] = useState(false);
  const [importNote, setImportNote] = useState<Note>(null);
  const [imported, setImported] = useState<BundleImportView | null>(null);

  const refreshKeys = useCallback(async () => {
    const result = await commands.bundleKeys();
    if (result.status === "ok") setKeys(result.data);
    else setKeysNote({ text: result.error.message, error: true });
  }, []);

  useEffect(() => {
    void refreshKeys();
    void commands.flowLibrary().then((result) => result.status === "ok" && setFlows(result.data.filter((entry) => entry.flow)));
    void commands.agents().then((result) => result.status === "ok" && setAgents(result.data));
  }, [refreshKeys]);

  async function generate() {
    const result = await commands.bundleGenerateKeys(signerName.trim());
    setKeysNote(result.status === "ok" ? { text: `Keys made for ${result.data.name} (fingerprint ${result.data.fingerprint}); they are in the vault.` } : { text: result.error.message, error: true });
    await refreshKeys();
  }

  async function untrust(fingerprint: string) {
    const result = await commands.bundleUntrust(fingerprint);
    setKeysNote(result.status === "ok" ? { text: `${result.data.name} is no longer trusted.` } : { text: result.error.message, error: true });
    await refreshKeys();
  }

  async function exportBundle() {
    const result = await commands.bundleExport(bundleName.trim(), picked.flows, picked.agents, signed);
    setExportNote(result.status === "ok" ? { text: `Wrote ${result.data}` } : { text: result.error.message, error: true });
    if (result.status === "ok") setPath((current) => current || result.data);
  }

  async function check() {
    setChecked(null);
    setImported(null);
    const result = await commands.bundleCheck(path.trim());
    if (result.status === "ok") {
      setChecked(result.data);
      setImportNote(null);
    } else setImportNote({ text: result.error.message, error: true });
  }

  async function importBundle(trustSigner: boolean) {
    const result = await commands.bundleImport(path.trim(), allowUnsigned, trustSigner, checked?.signer?.fingerprint ?? null);
    if (result.status === "error") {
      setImportNote({ text: result.error.message, error: true });
      return;
    }
    setImported(result.data);
    // The check ran before the signer was added: it is trusted now.
    setChecked({ ...result.data.check, trusted: result.data.check.trusted || result.data.signerAdded });
    const parts = [
      result.data.flows.length && `${result.data.flows.length} flow(s)`,
      result.data.agents.length && `agents ${result.data.agents.join(", ")}`,
      result.data.templates.length && `${result.data.templates.length} template(s)`,
    ].filter(Boolean);
    setImportNote({ text: `Imported ${parts.join(", ")}${result.data.signerAdded ? "; the signer is now trusted" : ""}.` });
    await refreshKeys();
  }

  const toggle = (list: "flows" | "agents", value: string) =>
    setPicked((current) => ({ ...current, [list]: current[list].includes(value) ? current[list].filter((item) => item !== value) : [...current[list], value] }));

  return (
    <div className="space-y-4 text-sm" data-testid="bundles-tab">
      <section className="space-y-2 rounded-md border border-border p-3" aria-label="Signing keys">
        <h3 className="flex items-center gap-2 text-xs font-semibold uppercase text-muted-foreground">
          <KeyRound className="size-3" /> Signing keys
        </h3>
        {keys?.identity ? (
          <p className="text-xs" data-testid="bundle-identity">
            Bundles you export are signed (Ed25519 + ML-DSA-65) as <strong>{keys.identity.name}</strong>, fingerprint <code className="font-mono">{keys.identity.fingerprint}</code>.
          </p>
        ) : (
          <form
            className="flex items-center gap-2"
            onSubmit={(event) => {
              event.preventDefault();
              void generate();
            }}
          >
            <Input className="h-8 w-60 text-xs" placeholder="Your name, as signatures carry it" aria-label="Signer name" data-testid="bundle-signer-name" value={signerName} onChange={(event) => setSignerName(event.target.value)} />
            <Button type="submit" size="sm" data-testid="bundle-generate" disabled={!signerName.trim()}>
              Make signing keys
            </Button>
          </form>
        )}
        <div>
          <div className="text-xs text-muted-foreground">Trusted signers (their bundles import without a question)</div>
          {keys?.trusted.length === 0 && <p className="text-xs text-muted-foreground">Nobody yet.</p>}
          <ul className="mt-1 space-y-1">
            {keys?.trusted.map((signer) => (
              <li key={signer.fingerprint} className="flex items-center gap-2 text-xs" data-testid="bundle-trusted">
                <BadgeCheck className="size-3 text-emerald-800 dark:text-emerald-400" />
                <span>{signer.name}</span>
                <code className="font-mono text-muted-foreground">{signer.fingerprint}</code>
                <Button size="icon" variant="ghost" className="size-6" aria-label={`Stop trusting ${signer.name}`} onClick={() => void untrust(signer.fingerprint)}>
                  <Trash2 className="size-3" />
                </Button>
              </li>
            ))}
          </ul>
        </div>
        <NoteLine note={keysNote} testId="bundle-keys-note" />
      </section>

      {server === null ? (
      <section className="space-y-2 rounded-md border border-border p-3" aria-label="Export a bundle">
        <h3 className="flex items-center gap-2 text-xs font-semibold uppercase text-muted-foreground">
          <FileDown className="size-3" /> Export
        </h3>
        <div className="grid grid-cols-2 gap-3">
          <fieldset>
            <legend className="text-xs text-muted-foreground">Flows</legend>
            <div className="max-h-32 overflow-y-auto">
              {flows.map((entry) => (
                <label key={entry.name} className="flex items-center gap-2 text-xs">
                  <input type="checkbox" data-testid="bundle-flow" data-flow={entry.name} checked={picked.flows.includes(entry.name)} onChange={() => toggle("flows", entry.name)} />
                  {entry.name}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset>
            <legend className="text-xs text-muted-foreground">Agents</legend>
            <div className="max-h-32 overflow-y-auto">
              {agents.map((agent) => {
                const reference = `${agent.name}@${agent.version}`;
                return (
                  <label key={reference} className="flex items-center gap-2 text-xs">
                    <input type="checkbox" data-testid="bundle-agent" data-agent={reference} checked={picked.agents.includes(reference)} onChange={() => toggle("agents", reference)} />
                    {reference}
                  </label>
                );
              })}
            </div>
          </fieldset>
        </div>
        <form
          className="flex flex-wrap items-center gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            void exportBundle();
          }}
        >
          <Input className="h-8 w-48 text-xs" placeholder="bundle name" aria-label="Bundle name" data-testid="bundle-name" value={bundleName} onChange={(event) => setBundleName(event.target.value)} />
          <label className="flex items-center gap-1 text-xs text-muted-foreground">
            <input type="checkbox" checked={signed} onChange={(event) => setSigned(event.target.checked)} data-testid="bundle-signed" /> signed
          </label>
          <Button type="submit" size="sm" data-testid="bundle-export" disabled={!bundleName.trim() || picked.flows.length + picked.agents.length === 0}>
            Export to exports/
          </Button>
        </form>
        <NoteLine note={exportNote} testId="bundle-export-note" />
      </section>
      ) : (
        <p className="text-xs text-muted-foreground" data-testid="bundle-export-here">
          Export bundles of this machine's flows and agents from “This machine”; a bundle imported below goes into {server}.
        </p>
      )}

      <section className="space-y-2 rounded-md border border-border p-3" aria-label="Import a bundle">
        <h3 className="flex items-center gap-2 text-xs font-semibold uppercase text-muted-foreground">
          <FileUp className="size-3" /> Import{server ? ` into ${server}` : ""}
        </h3>
        <form
          className="flex items-center gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            void check();
          }}
        >
          <Input className="h-8 flex-1 text-xs" placeholder="/path/to/file.codexos-bundle" aria-label="Bundle file" data-testid="bundle-path" value={path} onChange={(event) => {
              // What was verified was another file: verify again before importing.
              setPath(event.target.value);
              setChecked(null);
              setImported(null);
            }} />
          <Button type="submit" size="sm" variant="outline" data-testid="bundle-verify" disabled={!path.trim()}>
            Verify
          </Button>
        </form>
        {checked && (
          <div className="space-y-1 rounded border border-border p-2 text-xs" data-testid="bundle-check" data-trusted={String(checked.trusted)} data-signed={String(!!checked.signer)}>
            <div>
              <strong>{checked.name}</strong> · {checked.files.join(", ")}
            </div>
            {checked.signer ? (
              <div>
                {checked.trusted ? <BadgeCheck className="mr-1 inline size-3 text-emerald-800 dark:text-emerald-400" /> : <ShieldAlert className="mr-1 inline size-3 text-amber-800 dark:text-amber-400" />}
                Signed by {checked.signer.name}, fingerprint <code className="font-mono">{checked.signer.fingerprint}</code> — {checked.trusted ? "trusted" : "not on your trust list: check the fingerprint with them before trusting"}
              </div>
            ) : (
              <div className="flex items-center gap-1">
                <ShieldAlert className="size-3 text-amber-800 dark:text-amber-400" /> Unsigned: nobody vouches for it.
                <label className="ml-2 flex items-center gap-1">
                  <input type="checkbox" checked={allowUnsigned} onChange={(event) => setAllowUnsigned(event.target.checked)} data-testid="bundle-allow-unsigned" /> import anyway
                </label>
              </div>
            )}
            {!imported && (
              <div className="flex gap-2 pt-1">
                {checked.signer && !checked.trusted ? (
                  <Button size="sm" data-testid="bundle-trust-import" onClick={() => void importBundle(true)}>
                    Trust {checked.signer.name} and import
                  </Button>
                ) : (
                  <Button size="sm" data-testid="bundle-import" disabled={!checked.signer && !allowUnsigned} onClick={() => void importBundle(false)}>
                    Import
                  </Button>
                )}
              </div>
            )}
            {checked.signer && <Badge>{checked.trusted ? "trusted" : "untrusted"}</Badge>}
          </div>
        )}
        <NoteLine note={importNote} testId="bundle-import-note" />
      </section>
    </div>
  );
}
