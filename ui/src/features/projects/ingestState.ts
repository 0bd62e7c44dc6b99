// Pure ingest progress: what the projects panel shows while a folder is indexed.
import type { IngestEvent, IngestReport, IpcError } from "@/ipc/bindings";

export interface IngestState {
  path: string;
  total: number | null;
  done: number;
  current: string;
  skipped: number;
  /** Sending files to a team server, then indexing (there or here). */
  phase: "upload" | "index";
  status: "running" | "done" | "error";
  report?: IngestReport;
  error?: IpcError;
}

export function startIngest(path: string): IngestState {
  return { path, total: null, done: 0, current: "", skipped: 0, phase: "index", status: "running" };
}

export function applyIngestEvent(state: IngestState, event: IngestEvent): IngestState {
  switch (event.type) {
    case "uploading":
      return { ...state, phase: "upload", done: event.done, total: event.total, current: event.path };
    case "scanned":
      return { ...state, phase: "index", done: 0, total: event.total };
    case "skipped":
      return { ...state, skipped: state.skipped + 1 };
    case "progress":
      return { ...state, done: event.done, total: event.total, current: event.path };
    case "finished":
      return { ...state, status: "done", report: event.report, done: state.total ?? state.done };
  }
}

/** Fraction done, or null while the total is unknown. */
export function fraction(state: IngestState): number | null {
  if (state.total === null) return null;
  if (state.total === 0) return 1;
  return state.done / state.total;
}

/** Dropped paths sorted by what happens to them. */
export interface DropPlan {
  /** .gguf files: imported as models. */
  models: string[];
  /** Each ingested as its own project, one after another. */
  folders: string[];
  /** Ingested together into the `files` project. */
  files: string[];
  /** Gone or unreadable. */
  missing: string[];
}

/** Sorts dropped paths by their kinds (from `path_kinds`, same order). */
export function planDrop(paths: string[], kinds: Array<"folder" | "file" | "missing">, importsModels: boolean): DropPlan {
  const plan: DropPlan = { models: [], folders: [], files: [], missing: [] };
  paths.forEach((path, index) => {
    const kind = kinds[index] ?? "missing";
    if (kind === "folder") plan.folders.push(path);
    else if (kind === "missing") plan.missing.push(path);
    else if (importsModels && path.toLowerCase().endsWith(".gguf")) plan.models.push(path);
    else plan.files.push(path);
  });
  return plan;
}
