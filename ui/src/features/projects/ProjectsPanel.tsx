import { Channel } from "@tauri-apps/api/core";
import { ChevronDown, ChevronRight, Eye, FileCode, FileText, Folder, FolderOpen, FolderPlus, RefreshCw, Trash2, X } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";

import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Progress } from "@/components/ui/progress";
import { commands, type IngestEvent, type ProjectFile, type ProjectSummary } from "@/ipc/bindings";
import { requestId, toIpcError } from "@/ipc/client";
import { cn } from "@/lib/utils";
import { ProjectLabel } from "./ProjectLabel";
import { buildTree, initiallyOpen, type TreeNode } from "./fileTree";
import { applyIngestEvent, fraction, planDrop, startIngest, type IngestState } from "./ingestState";
import { notify } from "@/features/notify/notify";
import { useFolderDrop } from "./useFolderDrop";

function IngestCard({ state, onCancel }: { state: IngestState; onCancel: () => void }) {
  const value = fraction(state);
  return (
    <Card data-testid="ingest-status" data-status={state.status}>
      <CardHeader>
        <CardTitle className="flex items-center justify-between gap-2">
          <span className="truncate" title={state.path}>
            {state.status === "running" ? (state.phase === "upload" ? "Uploading" : "Ingesting") : state.status === "done" ? "Ingested" : "Ingest failed"}{" "}
            {state.path.split("/").filter(Boolean).pop()}
          </span>
          {state.status === "running" && (
            <Button variant="ghost" size="sm" aria-label="Cancel ingest" onClick={onCancel}>
              <X />
            </Button>
          )}
        </CardTitle>
      </CardHeader>
      <CardContent className="space-y-2 text-xs text-muted-foreground">
        {state.status === "running" && (
          <>
            <Progress value={value} />
            <div className="flex justify-between">
              <span>{state.total === null ? "scanning…" : `${state.done}/${state.total} files ${state.phase === "upload" ? "sent or unchanged" : "indexed"}`}</span>
              {state.skipped > 0 && <span>{state.skipped} skipped</span>}
            </div>
            <div className="truncate font-mono">{state.current}</div>
          </>
        )}
        {state.report && (
          <div data-testid="ingest-report">
            {state.report.files_indexed} indexed · {state.report.files_unchanged} unchanged ·{" "}
            {state.report.skipped.length} skipped · {state.report.chunks_total} chunks ·{" "}
            {(state.report.elapsed_ms / 1000).toFixed(1)} s
            {state.report.skipped.slice(0, 5).map((file) => (
              <div key={file.path} className="truncate" title={file.reason}>
                skipped {file.path}: {file.reason}
              </div>
            ))}
          </div>
        )}
        {state.error && <div className="text-destructive">{state.error.message}</div>}
      </CardContent>
    </Card>
  );
}

/** The indexed files of the selected project; a click opens the preview. */
function FileTree({
  project,
  version,
  onServer,
  onOpenFile,
}: {
  project: string;
  version: ProjectSummary[];
  onServer: boolean;
  onOpenFile: (project: string, path: string) => void;
}) {
  const [files, setFiles] = useState<ProjectFile[]>([]);
  useEffect(() => {
    let current = true;
    (onServer ? commands.workspaceProjectFiles(project) : commands.projectFiles(project))
      .then((result) => {
        if (current && result.status === "ok") setFiles(result.data);
      })
      .catch(() => current && setFiles([]));
    return () => {
      current = false;
    };
  }, [project, version, onServer]);
  const tree = useMemo(() => buildTree(files), [files]);
  const [open, setOpen] = useState<Set<string> | null>(null);
  const expanded = open ?? initiallyOpen(tree, files.length);
  const toggle = (path: string) => {
    const next = new Set(expanded);
    if (next.has(path)) next.delete(path);
    else next.add(path);
    setOpen(next);
  };
  const render = (nodes: Array<TreeNode<ProjectFile>>, depth: number): ReactNode =>
    nodes.map((node) =>
      node.kind === "folder" ? (
        <div key={node.path} role="group" aria-label={node.path}>
          <button
            type="button"
            data-testid="project-folder"
            data-path={node.path}
            aria-expanded={expanded.has(node.path)}
            className="flex w-full items-center gap-1 rounded py-0.5 pr-2 text-left text-[11px] hover:bg-muted"
            style={{ paddingLeft: `${0.5 + depth * 0.75}rem` }}
            onClick={() => toggle(node.path)}
          >
            {expanded.has(node.path) ? <ChevronDown className="size-3 shrink-0" /> : <ChevronRight className="size-3 shrink-0" />}
            {expanded.has(node.path) ? <FolderOpen className="size-3 shrink-0 text-muted-foreground" /> : <Folder className="size-3 shrink-0 text-muted-foreground" />}
            <span className="truncate">{node.name}</span>
            <span className="ml-auto text-muted-foreground">{node.count}</span>
          </button>
          {expanded.has(node.path) && render(node.children, depth + 1)}
        </div>
      ) : (
        <button
          type="button"
          key={node.path}
          data-testid="project-file"
          data-path={node.path}
          className="flex w-full items-center gap-2 rounded py-0.5 pr-2 text-left font-mono text-[11px] hover:bg-muted"
          style={{ paddingLeft: `${1.25 + depth * 0.75}rem` }}
          title={`${node.path} · ${node.file.chunks} chunks · ${Math.ceil((node.file.size ?? 0) / 1024)} KiB`}
          onClick={() => onOpenFile(project, node.path)}
        >
          {/\.(rs|py|ts|tsx|js|mjs|go|java|c|cpp|h|rb|sh|toml|json|ya?ml)$/.test(node.name) ? (
            <FileCode className="size-3 shrink-0 text-muted-foreground" />
          ) : (
            <FileText className="size-3 shrink-0 text-muted-foreground" />
          )}
          <span className="truncate">{node.name}</span>
        </button>
      ),
    );
  return (
    <div className="mt-2 border-t border-border pt-2" data-testid="file-tree">
      <div className="px-2 pb-1 text-[11px] uppercase tracking-wide text-muted-foreground">Files in {project}</div>
      {render(tree, 0)}
    </div>
  );
}

/** Whether a server's project was uploaded (not indexed from one of the
 * server's own folders, which only the server's admin changes). */
function uploadedHere(project: ProjectSummary): boolean {
  return project.root.replace(/\\/g, "/").endsWith(`/uploads/${project.name}`);
}

function reuploadTitle(place: ServerPlace, project: string): string {
  const folder = localStorage.getItem(uploadKey(place, project));
  return folder ? `Upload what changed in ${folder} and index it on ${place.server}` : `Index the files uploaded to ${place.server} again (uploaded from another machine)`;
}

/** A team server's workspace the panel shows instead of this machine's
 * projects: folders are uploaded there and indexed there. */
export interface ServerPlace {
  server: string;
  workspace: string;
  /** The role may add, re-ingest and remove projects. */
  canEdit: boolean;
  role: string;
}

/** Where a project of a server's workspace was uploaded from on this
 * machine (so Re-ingest sends the folder's changes). */
function uploadKey(place: ServerPlace, project: string): string {
  return `codexos.upload.${place.server}|${place.workspace}|${project}`;
}

export function ProjectsPanel({
  projects,
  selected,
  onSelect,
  onIngested,
  watching = [],
  onUnwatch = () => {},
  onOpenFile = () => {},
  onDropModel,
  server = null,
}: {
  projects: ProjectSummary[];
  selected: string | null;
  onSelect: (name: string | null) => void;
  onIngested: () => void;
  watching?: string[];
  onUnwatch?: (project: string) => void;
  onOpenFile?: (project: string, path: string) => void;
  /** A dropped .gguf file goes here (model import) instead of ingest. */
  onDropModel?: (path: string) => void;
  /** A server's workspace open: its projects, uploaded and indexed there. */
  server?: ServerPlace | null;
}) {
  const [path, setPath] = useState("");
  const [ingest, setIngest] = useState<(IngestState & { id: string }) | null>(null);

  const [removing, setRemoving] = useState<string | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  /** What a drop could not take (refused files, missing paths). */
  const [dropNote, setDropNote] = useState<string | null>(null);
  /** Dropped folders (and files) waiting for the ingest before them. */
  const [waiting, setWaiting] = useState<string[]>([]);
  const selectedProject = projects.find((project) => project.name === selected) ?? null;
  const remove = async (name: string) => {
    setRemoving(null);
    const result = server ? await commands.workspaceProjectRemove(name) : await commands.projectRemove(name);
    if (server && result.status === "ok") localStorage.removeItem(uploadKey(server, name));
    setRemoved(result.status === "ok" ? `removed ${name}: ${result.data} chunks deleted` : result.error.message);
    if (result.status === "ok") onSelect(null);
    onIngested();
  };

  const run = useCallback(
    async (folder: string | null, name: string | null = null) => {
      const id = requestId("ingest");
      setIngest({ ...startIngest(folder ?? name ?? ""), id });
      const channel = new Channel<IngestEvent>();
      channel.onmessage = (event) =>
        setIngest((state) => (state && state.id === id ? { ...applyIngestEvent(state, event), id } : state));
      try {
        // On a server: the folder is uploaded (a project uploaded from
        // elsewhere, `folder` null, is indexed again from its files there).
        const result = server ? await commands.workspaceIngest(id, folder, name, channel) : await commands.ingest(id, folder ?? "", name, channel);
        if (result.status === "ok" && server && folder) localStorage.setItem(uploadKey(server, result.data.project), folder);
        if (result.status === "ok") notify(`Ingested ${result.data.project}${server ? ` on ${server.server}` : ""}`, { body: `${result.data.files_indexed} indexed · ${result.data.files_unchanged} unchanged · ${result.data.chunks_total} chunks` });
        else if (result.error.code !== "cancelled") notify("Ingest failed", { kind: "failed", body: result.error.message });
        setIngest((state) =>
          state && state.id === id
            ? result.status === "ok"
              ? { ...state, status: "done", report: result.data }
              : { ...state, status: "error", error: result.error }
            : state,
        );
      } catch (error) {
        setIngest((state) => (state ? { ...state, status: "error", error: toIpcError(error) } : state));
      }
      onIngested();
    },
    [onIngested, server],
  );

  /** Ingests single files into `files`; answers what was refused, in words. */
  const runFiles = useCallback(
    async (files: string[]): Promise<string | null> => {
      const id = requestId("ingest");
      const label = files.length === 1 ? (files[0] ?? "") : `${files.length} dropped files`;
      setIngest({ ...startIngest(label), id });
      let refusedNote: string | null = null;
      const channel = new Channel<IngestEvent>();
      channel.onmessage = (event) =>
        setIngest((state) => (state && state.id === id ? { ...applyIngestEvent(state, event), id } : state));
      try {
        const result = await commands.ingestFiles(id, files, channel);
        if (result.status === "ok") {
          const { added, refused, report } = result.data;
          notify(`Added ${added.length} file${added.length === 1 ? "" : "s"} to ${report.project}`, { body: added.join(", ") });
          if (refused.length > 0) refusedNote = `Not ingested: ${refused.map((file) => `${file.path.split("/").pop()} (${file.reason})`).join("; ")}`;
          onSelect(report.project);
        } else if (result.error.code !== "cancelled") notify("Ingest failed", { kind: "failed", body: result.error.message });
        setIngest((state) =>
          state && state.id === id
            ? result.status === "ok"
              ? { ...state, status: "done", report: result.data.report }
              : { ...state, status: "error", error: result.error }
            : state,
        );
      } catch (error) {
        setIngest((state) => (state ? { ...state, status: "error", error: toIpcError(error) } : state));
      }
      onIngested();
      return refusedNote;
    },
    [onIngested, onSelect],
  );

  /** Sends what changed in the folder a server project was uploaded from
   * here; without one (uploaded elsewhere, or moved), indexes the server's
   * files again. */
  const reupload = async (place: ServerPlace, name: string) => {
    const folder = localStorage.getItem(uploadKey(place, name));
    const kinds = folder ? await commands.pathKinds([folder]) : [];
    await run(kinds[0] === "folder" ? folder : null, name);
  };

  // Drops are handled one after another: a second drop while the first is
  // ingesting waits for it (one ingest card, one cancel button).
  const drops = useRef<Promise<void>>(Promise.resolve());
  const onDrop = useCallback(
    (paths: string[]) => {
      const handle = async () => {
        if (paths.length === 0) return;
        const plan = planDrop(paths, await commands.pathKinds(paths), onDropModel !== undefined);
        plan.models.forEach((model) => onDropModel?.(model));
        const notes: string[] = plan.missing.length > 0 ? [`Not found: ${plan.missing.join(", ")}`] : [];
        setDropNote(notes.join(" · ") || null);
        const queue = [...plan.folders.map((folder) => ({ kind: "folder" as const, label: folder })), ...(plan.files.length > 0 ? [{ kind: "files" as const, label: `${plan.files.length} file${plan.files.length === 1 ? "" : "s"} → files` }] : [])];
        for (const [index, job] of queue.entries()) {
          setWaiting(queue.slice(index + 1).map((next) => next.label.split("/").filter(Boolean).pop() ?? next.label));
          if (job.kind === "folder") await run(job.label);
          else if (server) notes.push(`Single files are not uploaded to ${server.workspace}: drop the folder that holds them`);
          else {
            const refused = await runFiles(plan.files);
            if (refused) notes.push(refused);
          }
        }
        setWaiting([]);
        setDropNote(notes.join(" · ") || null);
      };
      drops.current = drops.current.then(handle, handle);
    },
    [run, runFiles, onDropModel, server],
  );
  // A role that may not add projects gets no drop target.
  const hovering = useFolderDrop(server && !server.canEdit ? null : onDrop);

  // A typed path goes the way a dropped one does (a single file into
  // `files`, a .gguf to the models); a clone URL straight to the ingest.
  function submit(event: FormEvent) {
    event.preventDefault();
    const typed = path.trim();
    if (!typed) return;
    if (/^(https?|ssh|git|file):\/\/|^git@/.test(typed)) void run(typed);
    else onDrop([typed]);
  }

  return (
    <div className="flex h-full flex-col gap-3 p-3" data-testid={server ? "server-projects" : undefined}>
      {hovering && (
        <div className="pointer-events-none fixed inset-0 z-50 flex items-center justify-center bg-primary/10 ring-4 ring-inset ring-primary">
          <div className="rounded-lg bg-card px-6 py-4 text-lg font-semibold">
            {server ? `Drop folders to upload them to ${server.workspace} and index them there` : "Drop to ingest: folders as projects, files into “files”"}
          </div>
        </div>
      )}
      <div>
        <h2 className="text-sm font-semibold">{server ? `Projects of ${server.workspace}` : "Projects"}</h2>
        {server ? (
          <p className="text-xs text-muted-foreground">
            {server.canEdit ? (
              <>
                On {server.server}. Drop a folder or enter its path or a git URL: its files (as an ingest here would read them, <code>.gitignore</code> honoured) are uploaded there — only what changed since the last upload — and indexed there. Folders are not watched: Re-ingest sends their changes.
              </>
            ) : (
              `On ${server.server}. Your role (${server.role}) reads and asks these projects; adding or removing them needs edit.`
            )}
          </p>
        ) : (
          <p className="text-xs text-muted-foreground">
            Drop folders or single files (Markdown, PDF, code, JSON, HTML, text) onto the window, or enter a folder's path or a git URL to clone. Folders are watched and re-indexed as they change; single files go into the project “files”.
          </p>
        )}
      </div>
      <form className="flex gap-2" onSubmit={submit} hidden={server !== null && !server.canEdit}>
        <Input
          data-testid="ingest-path"
          placeholder={server ? "/path/to/folder, or https://…/repo.git" : "/path/to/folder or file, or https://…/repo.git"}
          value={path}
          onChange={(event) => setPath(event.target.value)}
        />
        <Button type="submit" size="icon" aria-label={server ? `Upload folder to ${server.workspace}` : "Ingest folder"} data-testid="ingest-button" disabled={!path.trim() || ingest?.status === "running"}>
          <FolderPlus />
        </Button>
      </form>
      {ingest && <IngestCard state={ingest} onCancel={() => void commands.cancel(ingest.id)} />}
      {waiting.length > 0 && (
        <div className="text-xs text-muted-foreground" data-testid="ingest-waiting">
          Next: {waiting.join(", ")}
        </div>
      )}
      {dropNote && (
        <div className="text-xs text-destructive" role="alert" data-testid="drop-note">
          {dropNote}
        </div>
      )}
      <div className="flex-1 space-y-1 overflow-y-auto" data-testid="project-list">
        <button
          type="button"
          className={cn("w-full rounded-md px-2 py-1.5 text-left text-sm hover:bg-muted", selected === null && "bg-muted")}
          onClick={() => onSelect(null)}
        >
          All projects
        </button>
        {projects.map((project) => (
          <div key={project.name} className={cn("flex items-start rounded-md hover:bg-muted", selected === project.name && "bg-muted")}>
            <button type="button" data-testid="project" title={project.root} className="min-w-0 flex-1 px-2 py-1.5 text-left" onClick={() => onSelect(project.name)}>
              <ProjectLabel project={project} />
            </button>
            {watching.includes(project.name) && (
              <button
                type="button"
                data-testid="watch-state"
                aria-label={`Stop watching ${project.name}`}
                title="Watching for changes — click to stop"
                className="mt-1.5 mr-2 text-emerald-800 dark:text-emerald-400 hover:text-muted-foreground"
                onClick={() => onUnwatch(project.name)}
              >
                <Eye className="size-4" />
              </button>
            )}
          </div>
        ))}
        {selectedProject && (
          <div className="flex flex-wrap items-center gap-1 px-1 text-xs" data-testid="project-actions">
            {removing === selectedProject.name ? (
              <>
                <span className="w-full text-muted-foreground">
                  Remove <span className="font-mono">{selectedProject.name}</span>?{" "}
                  {server
                    ? `Its ${selectedProject.chunks} chunks and its uploaded files on ${server.server} are deleted; your folder here stays.`
                    : `Its ${selectedProject.chunks} chunks and their vectors are deleted; the folder stays.`}
                </span>
                <Button size="sm" variant="destructive" data-testid="project-remove-confirm" onClick={() => void remove(selectedProject.name)}>
                  <Trash2 className="size-3.5" /> Remove
                </Button>
                <Button size="sm" variant="ghost" onClick={() => setRemoving(null)}>
                  Cancel
                </Button>
              </>
            ) : server && !server.canEdit ? null : server && !uploadedHere(selectedProject) ? (
              <span className="text-muted-foreground" data-testid="project-server-folder">
                Indexed from a folder of the server ({selectedProject.root}): changed there, with <code>codexos ingest</code>.
              </span>
            ) : (
              <>
                <Button
                  size="sm"
                  variant="ghost"
                  data-testid="project-reingest"
                  title={server ? reuploadTitle(server, selectedProject.name) : `Ingest ${selectedProject.root} again`}
                  disabled={ingest?.status === "running"}
                  onClick={() => void (server ? reupload(server, selectedProject.name) : run(selectedProject.root, selectedProject.name))}
                >
                  <RefreshCw className="size-3.5" /> Re-ingest
                </Button>
                <Button size="sm" variant="ghost" data-testid="project-remove" title={ingest?.status === "running" ? "Wait for the ingest to finish" : undefined} disabled={ingest?.status === "running"} onClick={() => setRemoving(selectedProject.name)}>
                  <Trash2 className="size-3.5" /> Remove…
                </Button>
              </>
            )}
          </div>
        )}
        {removed && (
          <div className="px-1 text-xs text-muted-foreground" role="status" data-testid="project-removed">
            {removed}
          </div>
        )}
        {selected && <FileTree project={selected} version={projects} onServer={server !== null} onOpenFile={onOpenFile} />}
      </div>
    </div>
  );
}
