import { Loader2, Search, X } from "lucide-react";
import { useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type Hit_Serialize, type IpcError, type ProjectSummary, type SearchMode } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import type { PreviewTarget } from "@/features/files/FilePreviewPanel";
import { useEscape } from "@/features/layout/useEscape";
import { emptyForm, excerpt, highlight, KINDS, toRequest, type SearchForm } from "./searchState";

const MODES: { value: SearchMode; label: string }[] = [
  { value: "hybrid", label: "hybrid" },
  { value: "dense", label: "dense" },
  { value: "bm25", label: "BM25" },
];

const selectClass =
  "h-8 rounded border border-border bg-background px-2 text-xs text-foreground";

function Marked({ text, query }: { text: string; query: string }) {
  return (
    <>
      {highlight(text, query).map((segment, index) =>
        segment.match ? (
          <mark key={index} className="rounded-sm bg-yellow-400/40 text-foreground">
            {segment.text}
          </mark>
        ) : (
          <span key={index}>{segment.text}</span>
        ),
      )}
    </>
  );
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <label className="flex flex-col gap-1 text-[11px] text-muted-foreground">
      {label}
      {children}
    </label>
  );
}

/**
 * The engine's search with its filters: mode, project, path glob, kind,
 * language, changed-since and git revision. A result opens the file preview
 * at its lines. With a server's workspace open (`server` names it), its
 * projects are searched there and a result opens the server's file.
 */
export function SearchPanel({
  projects,
  project,
  server = null,
  onOpen,
  onClose,
}: {
  projects: ProjectSummary[];
  project: string | null;
  server?: string | null;
  onOpen: (target: PreviewTarget) => void;
  onClose: () => void;
}) {
  const [form, setForm] = useState<SearchForm>({ ...emptyForm, project: project ?? "" });
  const [hits, setHits] = useState<Hit_Serialize[] | null>(null);
  const [searched, setSearched] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const latest = useRef(0);

  useEscape(onClose);

  const set = <K extends keyof SearchForm>(key: K, value: SearchForm[K]) => setForm((current) => ({ ...current, [key]: value }));

  async function run() {
    const built = toRequest(form);
    setError(null);
    if ("problem" in built) {
      setProblem(built.problem);
      return;
    }
    setProblem(null);
    setBusy(true);
    const ticket = ++latest.current;
    try {
      const result = await commands.search(form.query, built.request);
      if (ticket !== latest.current) return;
      if (result.status === "ok") {
        setHits(result.data);
        setSearched(form.query);
      } else {
        setHits(null);
        setError(result.error);
      }
    } catch (caught: unknown) {
      if (ticket === latest.current) setError(toIpcError(caught));
    } finally {
      if (ticket === latest.current) setBusy(false);
    }
  }

  return (
    <div className="absolute inset-0 z-10 flex flex-col bg-background" data-testid="search-panel" role="dialog" aria-label="Search">
      <div className="flex items-center gap-2 border-b border-border px-4 py-2">
        <h2 className="text-sm font-semibold">Search</h2>
        <span className="text-xs text-muted-foreground" data-testid="search-where">
          {server ? `over the projects of ${server}` : "over every ingested project"} · Esc closes
        </span>
        <Button size="icon" variant="ghost" className="ml-auto" aria-label="Close search" data-testid="close-search" onClick={onClose}>
          <X />
        </Button>
      </div>
      <form
        className="flex flex-col gap-2 border-b border-border px-4 py-3"
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        <div className="flex gap-2">
          <Input
            autoFocus
            aria-label="Search for"
            placeholder="What are you looking for? (identifiers, words or a question)"
            data-testid="search-query"
            value={form.query}
            onChange={(event) => set("query", event.target.value)}
          />
          <Button type="submit" disabled={busy} data-testid="search-button">
            {busy ? <Loader2 className="animate-spin" /> : <Search />}
            Search
          </Button>
        </div>
        <div className="grid grid-cols-[repeat(auto-fill,minmax(9rem,1fr))] gap-2">
          <Field label="Mode">
            <select
              className={selectClass}
              title="hybrid: embeddings and BM25 fused, then reranked · dense: embeddings only · BM25: full text only"
              data-testid="search-mode" value={form.mode} onChange={(event) => set("mode", event.target.value as SearchMode)}>
              {MODES.map((mode) => (
                <option key={mode.value} value={mode.value}>
                  {mode.label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Project">
            <select className={selectClass} data-testid="search-project" value={form.project} onChange={(event) => set("project", event.target.value)}>
              <option value="">all projects</option>
              {projects.map((entry) => (
                <option key={entry.name} value={entry.name}>
                  {entry.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Path glob">
            <Input className="h-8 text-xs" placeholder="src/**/*.rs, *.md" data-testid="search-path" value={form.path} onChange={(event) => set("path", event.target.value)} />
          </Field>
          <Field label="Kind">
            <select className={selectClass} data-testid="search-kind" value={form.kind} onChange={(event) => set("kind", event.target.value)}>
              <option value="">any kind</option>
              {KINDS.map((kind) => (
                <option key={kind} value={kind}>
                  {kind}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Language">
            <Input className="h-8 text-xs" placeholder="rust, python…" data-testid="search-language" value={form.language} onChange={(event) => set("language", event.target.value)} />
          </Field>
          <Field label="Changed since">
            <Input type="date" className="h-8 text-xs" data-testid="search-since" value={form.since} onChange={(event) => set("since", event.target.value)} />
          </Field>
          <Field label="Git revision">
            <Input className="h-8 text-xs" placeholder="main, v1.2, HEAD~5" data-testid="search-rev" value={form.rev} onChange={(event) => set("rev", event.target.value)} />
          </Field>
        </div>
        {problem && (
          <p className="text-xs text-destructive" role="alert" data-testid="search-problem">
            {problem}
          </p>
        )}
      </form>
      <div className="min-h-0 flex-1 overflow-auto px-4 py-2" data-testid="search-results" aria-busy={busy}>
        {error && (
          <p className="text-sm text-destructive" role="alert" data-testid="search-error">
            {error.message}
          </p>
        )}
        {hits !== null && hits.length === 0 && (
          <p className="text-sm text-muted-foreground" data-testid="search-empty">
            No matches for “{searched}” with these filters.
          </p>
        )}
        {hits !== null && hits.length > 0 && (
          <p className="pb-2 text-xs text-muted-foreground" data-testid="search-count">
            {hits.length} {hits.length === 1 ? "match" : "matches"} for “{searched}”
          </p>
        )}
        <ol className="flex flex-col gap-2">
          {(hits ?? []).map((hit) => (
            <li key={`${hit.project}/${hit.path}:${hit.start_line}`}>
              <button
                type="button"
                className="w-full rounded border border-border p-2 text-left hover:bg-muted focus-visible:outline focus-visible:outline-2 focus-visible:outline-ring"
                data-testid="search-hit"
                data-path={hit.path}
                onClick={() =>
                  onOpen({
                    project: hit.project,
                    path: hit.path,
                    startLine: hit.page === null || hit.page === undefined ? hit.start_line : undefined,
                    endLine: hit.page === null || hit.page === undefined ? hit.end_line : undefined,
                    server: server !== null,
                  })
                }
              >
                <div className="flex flex-wrap items-center gap-2 text-xs">
                  <span className="font-mono font-medium">
                    {hit.path}:{hit.start_line}–{hit.end_line}
                    {hit.page ? ` (page ${hit.page})` : ""}
                  </span>
                  <Badge>{hit.project}</Badge>
                  <Badge>{hit.language ?? hit.kind}</Badge>
                  <span className="ml-auto font-mono text-muted-foreground" title="score">
                    {hit.score?.toFixed(3)}
                  </span>
                </div>
                {hit.heading && <div className="pt-1 text-xs text-muted-foreground">{hit.heading}</div>}
                <pre className="whitespace-pre-wrap break-words pt-1 font-mono text-[11px] leading-snug">
                  <Marked text={excerpt(hit.text, searched)} query={searched} />
                </pre>
              </button>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}
