import { Channel } from "@tauri-apps/api/core";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  type Connection,
  type Edge,
  type NodeChange,
  type EdgeChange,
  type NodeTypes,
  type ReactFlowInstance,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { Copy, FilePlus2, History as HistoryIcon, LayoutGrid, ListTree, Pencil, Play, Redo2, Save, Square, Trash2, Undo2 } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import {
  commands,
  type DeletedFlow,
  type Flow_Deserialize,
  type FlowEntry,
  type MissingFlow,
  type Problem,
  type RunEvent,
  type RunSummary,
} from "@/ipc/bindings";
import { inTauri, requestId } from "@/ipc/client";
import FlowNodeView from "./FlowNodeView";
import {
  addNode,
  applyEvent,
  connect,
  connectionProblem,
  disconnect,
  EMPTY_RUN,
  freshId,
  insertAfter,
  KINDS,
  moveNode,
  pasteNode,
  removeNode,
  replaceNode,
  toCanvas,
  viewAt,
  type FlowDoc,
  type FlowNode,
  type Kind,
  type RunView,
} from "./flowGraph";
import { FlowNameDialog, type NameAction } from "./FlowNameDialog";
import { FlowSettings } from "./FlowSettings";
import { canRedo, canUndo, record, redo, start as startHistory, undo, type History } from "./history";
import { Inspector } from "./Inspector";
import { autoLayout } from "./layout";
import type { JsonSchema } from "./nodeForm";
import { useActions, type Action } from "@/features/palette/actions";
import { notify } from "@/features/notify/notify";
import { RunInspector } from "./RunInspector";
import { stable, type Mark } from "./versionDiff";
import { VersionsPanel } from "./VersionsPanel";
import { RunPanel } from "./RunPanel";
import { registerCanvas } from "./keeper";
import { allows, describeAccess, refusedBecause, type Access } from "@/features/team/workspace";

// Declared at module scope so React Flow does not remount nodes on render.
const nodeTypes: NodeTypes = { flow: FlowNodeView };

const DEFAULT_FLOW = "rag-qa";

/** The stored events of a run being stepped through. */
export interface Replay {
  runId: string;
  events: RunEvent[];
  index: number;
}

/** Nodes from which only the visible ones are rendered. */
const BIG_FLOW = 200;

export function FlowCanvas({ project, theme = "dark", access = null }: { project: string | null; theme?: "light" | "dark"; access?: Access | null }) {
  // On a server's workspace the role decides; the server refuses anyway.
  const mayEdit = allows(access, "edit");
  const mayRun = allows(access, "run");
  const mayApprove = allows(access, "approve");
  const [library, setLibrary] = useState<FlowEntry[]>([]);
  const [doc, setDoc] = useState<History<FlowDoc> | null>(null);
  const flow = doc?.present ?? null;
  const present = useRef<FlowDoc | null>(null);
  present.current = flow;
  const saving = useRef(false);
  // Saves unsaved edits before the open flow is left (set below, each render).
  const keeper = useRef(async () => true);
  const [schema, setSchema] = useState<JsonSchema | null>(null);
  const [naming, setNaming] = useState<NameAction | null>(null);
  const [namingError, setNamingError] = useState<string | null>(null);
  const [deleted, setDeleted] = useState<DeletedFlow | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [inspecting, setInspecting] = useState<string | null>(null);
  const [versionsOpen, setVersionsOpen] = useState(false);
  // The flow file as last loaded or written by the app (stable JSON), to
  // notice edits made outside it; and the newer text when it conflicts.
  const disk = useRef<string | null>(null);
  const [conflict, setConflict] = useState<FlowDoc | null>(null);
  // A copied node (Ctrl/Cmd+C), pasted with a fresh id beside it (Ctrl/Cmd+V).
  const clipboard = useRef<FlowNode | null>(null);
  const [compare, setCompare] = useState<{ flow: FlowDoc; marks: Record<string, Mark> } | null>(null);
  const [focus, setFocus] = useState<string | null>(null);
  // The overview map only where it does not cover the graph itself.
  const [wide, setWide] = useState(false);
  const pane = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    const element = pane.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWide((entry?.contentRect.width ?? 0) >= 560));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [run, setRun] = useState<RunView>(EMPTY_RUN);
  const [running, setRunning] = useState<string | null>(null);
  const [runHistory, setRunHistory] = useState<RunSummary[]>([]);
  const [replay, setReplay] = useState<Replay | null>(null);
  const [input, setInput] = useState('{"question": "How do I install it?"}');
  const [notice, setNotice] = useState<string | null>(null);
  /** Flows whose files went outside the app (their versions kept). */
  const [missing, setMissing] = useState<MissingFlow[]>([]);
  const [dirty, setDirty] = useState(false);
  const checkTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const viewport = useRef<ReactFlowInstance | null>(null);
  // Show the whole flow again after it changes shape (open, add, delete).
  const refit = useCallback(() => {
    setTimeout(() => void viewport.current?.fitView({ padding: 0.2, maxZoom: 1.1 }), 250);
  }, []);

  const refreshHistory = useCallback((name: string) => {
    void commands.runs(name).then((result) => result.status === "ok" && setRunHistory(result.data));
  }, []);

  const open = useCallback(
    (entry: FlowEntry | undefined) => {
      if (!entry?.flow) {
        if (entry?.error) setNotice(entry.error);
        return;
      }
      setDoc(startHistory(entry.flow as FlowDoc));
      disk.current = stable(entry.flow);
      setConflict(null);
      setSelected(null);
      setRun(EMPTY_RUN);
      setReplay(null);
      setDirty(false);
      refreshHistory(entry.flow.name);
      refit();
    },
    [refreshHistory, refit],
  );

  useEffect(() => {
    if (!inTauri()) return;
    void commands.flowSchema().then((text) => setSchema(JSON.parse(text) as JsonSchema));
    void commands.flowLibrary().then((result) => {
      if (result.status !== "ok") return setNotice(result.error.message);
      setLibrary(result.data);
      open(result.data.find((entry) => entry.name === DEFAULT_FLOW) ?? result.data[0]);
    });
  }, [open]);

  // The live check: every edit is checked against the data home, debounced.
  useEffect(() => {
    if (!flow || !inTauri()) return;
    if (checkTimer.current) clearTimeout(checkTimer.current);
    checkTimer.current = setTimeout(() => {
      void commands.flowCheck(flow as Flow_Deserialize).then((result) => {
        if (result.status === "ok") setProblems(result.data);
      });
    }, 250);
  }, [flow]);

  const edit = useCallback((change: (current: FlowDoc) => FlowDoc) => {
    setDoc((current) => (current ? record(current, change(current.present)) : current));
    setDirty(true);
  }, []);
  const step = useCallback((direction: "undo" | "redo") => {
    setDoc((current) => (current ? (direction === "undo" ? undo(current) : redo(current)) : current));
    setDirty(true);
  }, []);

  const shown = replay ? viewAt(replay.events, replay.index) : run;
  // A compared version is shown read-only, its changes marked.
  const viewed = compare?.flow ?? flow;
  // A running flow is not edited under the run (its edits would be marked saved).
  const frozen = replay !== null || compare !== null || running !== null;
  // A role that may not edit sees the flow read-only (and it still reloads).
  const readOnly = frozen || !mayEdit;
  const canvas = useMemo(
    () => (viewed ? toCanvas(viewed, compare ? [] : problems, shown.statuses, selected, compare?.marks) : { nodes: [], edges: [] }),
    [viewed, compare, problems, shown.statuses, selected],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange[]) => {
      for (const change of changes) {
        if (change.type === "position" && change.position && !change.dragging) {
          const { x, y } = change.position;
          edit((current) => moveNode(current, change.id, { x: Math.round(x), y: Math.round(y) }));
        }
        if (change.type === "remove") edit((current) => removeNode(current, change.id));
      }
    },
    [edit],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      for (const change of changes) if (change.type === "remove") edit((current) => disconnect(current, change.id));
    },
    [edit],
  );
  const onConnect = useCallback(
    (connection: Connection) => edit((current) => connect(current, connection.source, connection.sourceHandle ?? null, connection.target)),
    [edit],
  );

  const save = useCallback(async () => {
    if (!flow) return null;
    saving.current = true;
    const result = await commands.flowSave(flow as Flow_Deserialize).finally(() => {
      saving.current = false;
    });
    if (result.status !== "ok") {
      setNotice(result.error.message);
      return null;
    }
    // Edits made while the save was on its way stay unsaved.
    if (present.current === flow) setDirty(false);
    setConflict(null);
    setProblems(result.data.problems);
    setNotice(`saved v${result.data.version} · ${result.data.path}`);
    const listed = await commands.flowLibrary();
    if (listed.status === "ok") {
      setLibrary(listed.data);
      const written = listed.data.find((entry) => entry.name === flow.name)?.flow;
      if (written) disk.current = stable(written);
    }
    return result.data;
  }, [flow]);

  const start = useCallback(async () => {
    if (!flow) return;
    // Written first, so the file on disk is known to be the app's own (a
    // role that may not edit runs the server's version as it is).
    if (mayEdit && !(await save())) return;
    const id = requestId("run");
    setRunning(id);
    setReplay(null);
    setRun(EMPTY_RUN);
    setNotice(null);
    const channel = new Channel<RunEvent>();
    channel.onmessage = (event) => setRun((current) => applyEvent(current, event));
    try {
      const result = await commands.flowRun(id, flow as Flow_Deserialize, input.trim() || "{}", project, channel);
      if (result.status === "ok") {
        setDirty(false);
        if (result.data.status === "paused") setNotice(`waiting for you at ${result.data.waiting} — answer below`);
        else if (result.data.error) setNotice(result.data.error);
        notify(
          result.data.status === "paused" ? `${flow.name} waits for you` : `${flow.name} ${result.data.status}`,
          { kind: result.data.status === "failed" ? "failed" : "done", body: result.data.error ?? (result.data.waiting ? `at ${result.data.waiting}` : undefined) },
        );
      } else {
        setNotice(result.error.message);
        notify(`${flow.name} did not run`, { kind: "failed", body: result.error.message });
      }
    } finally {
      setRunning(null);
      refreshHistory(flow.name);
    }
  }, [flow, input, project, refreshHistory, save, mayEdit]);

  const resume = useCallback(
    async (answer: string) => {
      if (!run.runId || !flow) return;
      const id = requestId("resume");
      setRunning(id);
      setNotice(null);
      const channel = new Channel<RunEvent>();
      channel.onmessage = (event) => setRun((current) => applyEvent(current, event));
      try {
        const result = await commands.runResume(id, run.runId, answer, channel);
        if (result.status !== "ok") setNotice(result.error.message);
        else if (result.data.error) setNotice(result.data.error);
      } finally {
        setRunning(null);
        refreshHistory(flow.name);
      }
    },
    [run.runId, flow, refreshHistory],
  );

  const openRun = useCallback(
    async (runId: string) => {
      if (!(await keeper.current())) return;
      const result = await commands.runDetail(runId);
      if (result.status !== "ok") return setNotice(result.error.message);
      setDoc(startHistory(result.data.flow as FlowDoc));
      setReplay({ runId, events: result.data.events, index: result.data.events.length });
      refit();
    },
    [refit],
  );

  // The palette: a click adds the node after the selected one (wired in), a
  // drag drops it where it lands.
  const add = (kind: Kind) => {
    if (flow) setSelected(freshId(flow, kind));
    edit((current) => {
      if (selected) return insertAfter(current, kind, selected);
      const y = Math.max(0, ...current.nodes.map((node) => node.position?.y ?? 0)) + 120;
      return addNode(current, kind, { x: 0, y });
    });
    refit();
  };
  const drop = (event: React.DragEvent) => {
    const kind = event.dataTransfer.getData("application/x-codexos-kind") as Kind;
    if (!kind || !viewport.current || readOnly) return;
    event.preventDefault();
    const at = viewport.current.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    edit((current) => addNode(current, kind, { x: Math.round(at.x), y: Math.round(at.y) }));
  };

  /** Bumped by every reading of the library the app asked for: a poll that
   * read it before one lands never overwrites it with its older listing. */
  const generation = useRef(0);
  const reload = useCallback(async () => {
    generation.current += 1;
    const listed = await commands.flowLibrary();
    if (listed.status === "ok") setLibrary(listed.data);
    return listed.status === "ok" ? listed.data : [];
  }, []);

  // The file on disk is the source of truth: an edit made outside the app
  // (an editor, git checkout) reloads into the canvas — as an undoable step —
  // or, over unsaved edits, asks which to keep. A deleted or broken file
  // leaves the canvas copy alone and says how to write it back.
  const live = useRef({ flow, dirty, busy: false });
  /** The library's shape when the missing flows were last asked for. */
  const seen = useRef<string | null>(null);
  const restoreMissing = async () => {
    const restored: string[] = [];
    const failed: string[] = [];
    for (const gone of missing) {
      const result = await commands.flowRestoreMissing(gone.name);
      if (result.status === "ok") restored.push(gone.name);
      else failed.push(`${gone.name}: ${result.error.message}`);
    }
    setMissing([]);
    seen.current = null;
    await reload();
    setNotice(`restored ${restored.join(", ") || "nothing"} from the saved versions${failed.length ? ` — not restored: ${failed.join("; ")}` : ""}`);
  };
  live.current = { flow, dirty, busy: frozen || naming !== null || saving.current };
  useEffect(() => {
    if (!inTauri()) return;
    let stopped = false;
    const poll = async () => {
      const { flow: current, dirty: unsaved, busy } = live.current;
      if (stopped || busy || !current || document.hidden) return;
      const asked = generation.current;
      const listed = await commands.flowLibrary();
      if (stopped || listed.status !== "ok" || generation.current !== asked) return;
      // The world may have moved while the library was read: another flow
      // opened, an edit made, a save begun. Then this round says nothing.
      const now = live.current;
      if (now.flow?.name !== current.name || now.dirty !== unsaved || now.busy) return;
      const shape = (entries: FlowEntry[]) => stable(entries.map((entry) => [entry.name, entry.path, entry.error]));
      setLibrary((known) => (shape(known) === shape(listed.data) ? known : listed.data));
      // Files gone from the folder: their saved versions can come back.
      if (shape(listed.data) !== seen.current) {
        seen.current = shape(listed.data);
        const gone = await commands.flowsMissing();
        if (!stopped && gone.status === "ok" && generation.current === asked) setMissing(gone.data);
      }
      const entry = listed.data.find((candidate) => candidate.name === current.name);
      if (!entry) {
        if (disk.current !== "deleted") setNotice(access ? `${current.name} was deleted on the server — the canvas keeps it; Save writes it back` : `${current.name}'s file was deleted outside the app — the canvas keeps it; Save writes it back`);
        disk.current = "deleted";
        return;
      }
      if (!entry.flow) {
        if (disk.current !== `broken:${entry.error}`) setNotice(`${access ? `the server's copy of ${current.name}` : `${current.name}'s file on disk`} cannot be read (${entry.error ?? "invalid"}) — the canvas keeps your copy; Save writes it back`);
        disk.current = `broken:${entry.error}`;
        return;
      }
      const text = stable(entry.flow);
      if (text === disk.current) return;
      disk.current = text;
      if (unsaved) {
        setConflict(entry.flow as FlowDoc);
      } else {
        setDoc((history) => (history ? record(history, entry.flow as FlowDoc) : history));
        setNotice(`reloaded ${current.name}: ${access ? "it changed on the server" : "its file changed on disk"} (Undo brings back the previous version)`);
      }
    };
    const timer = setInterval(() => void poll(), 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
    // The workspace is fixed for the canvas's life (it remounts on a switch).
  }, [access]);

  // Nothing that leaves the open flow drops edits: unsaved changes are saved
  // first (switching, new, duplicate, rename, delete, opening a past run).
  keeper.current = async () => {
    if (!dirty || !flow || replay || !mayEdit) return true;
    const saved = await commands.flowSave(flow as Flow_Deserialize);
    if (saved.status === "ok") {
      setDirty(false);
      return true;
    }
    setNotice(`${flow.name} was not saved, so it stays open: ${saved.error.message}`);
    return false;
  };
  const keep = useCallback(() => keeper.current(), []);
  const busyWith = useRef<() => string | null>(() => null);
  busyWith.current = () => (running && flow ? `a run of ${flow.name} is going on — stop it or let it finish first` : null);
  useEffect(() => registerCanvas({ keep, busy: () => busyWith.current() }), [keep]);
  const switchTo = useCallback(
    async (entry: FlowEntry | undefined) => {
      if (await keep()) open(entry);
    },
    [keep, open],
  );

  const name = async (title: string, from: string | null) => {
    if (!naming) return;
    setNamingError(null);
    if (!(await keep())) return setNamingError(`${flow?.name ?? "the open flow"} has unsaved edits that could not be saved`);
    const result = naming.mode === "rename" ? await commands.flowRename(naming.from, title) : await commands.flowCreate(title, from);
    if (result.status !== "ok") return setNamingError(result.error.message);
    setNaming(null);
    await reload();
    open(result.data);
    setNotice(naming.mode === "rename" ? `renamed ${naming.from} to ${title}` : `created ${title} · ${result.data.path}`);
  };

  const remove = async () => {
    if (!flow) return;
    // Saved first, so Undo brings back the flow as it was on screen.
    if (!(await keep())) return;
    const result = await commands.flowDelete(flow.name);
    if (result.status !== "ok") return setNotice(result.error.message);
    setDeleted(result.data);
    setNotice(null);
    const rest = await reload();
    open(rest[0]);
  };
  const restore = async () => {
    if (!deleted) return;
    const result = await commands.flowRestore(deleted.trash);
    // A refused restore keeps the Undo (and says where the file waits).
    if (result.status !== "ok") return setNotice(`${result.error.message} — the file waits at ${deleted.trash}`);
    setDeleted(null);
    await reload();
    open(result.data);
    setNotice(`restored ${result.data.name}`);
  };

  // Undo/redo and Delete on the canvas (text fields keep their own undo).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      // Only keys meant for the canvas: nothing focused, or focus inside it,
      // and no panel (settings, search, palette) over it.
      const canvasElement = document.querySelector('[data-testid="flow-canvas"]');
      const forCanvas = !target || target === document.body || canvasElement?.contains(target);
      const covered = document.querySelector('[data-testid="settings"], [data-testid="search-panel"], [data-testid="command-palette"]');
      if (!canvasElement || !forCanvas || covered || readOnly || naming) return;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "z") {
        event.preventDefault();
        step(event.shiftKey ? "redo" : "undo");
      } else if (mod && key === "y") {
        event.preventDefault();
        step("redo");
      } else if (mod && key === "c" && selected) {
        const node = live.current.flow?.nodes.find((candidate) => candidate.id === selected);
        if (node) clipboard.current = node;
      } else if (mod && key === "v" && clipboard.current) {
        event.preventDefault();
        const copied = clipboard.current;
        const id = live.current.flow ? freshId(live.current.flow, copied.kind) : copied.id;
        edit((current) => pasteNode(current, copied));
        setSelected(id);
      } else if ((event.key === "Delete" || event.key === "Backspace") && selected) {
        event.preventDefault();
        edit((current) => removeNode(current, selected));
        setSelected(null);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [edit, step, selected, readOnly, naming]);

  const errors = problems.filter((problem) => problem.severity === "error");

  const openVersions = async () => {
    // Unsaved edits become a version first, so they can be compared and are never lost.
    if (dirty && !(await save())) return;
    setInspecting(null);
    setVersionsOpen(true);
  };
  const inspect = () => {
    setVersionsOpen(false);
    setInspecting(replay?.runId ?? run.runId);
    setFocus(selected);
  };

  // What the canvas can do now, for the command palette (Ctrl/Cmd+K). The
  // handlers are read through a ref so the list changes only with the state.
  const handlers = useRef({ save, start, remove, openVersions, inspect, step, add, switchTo });
  handlers.current = { save, start, remove, openVersions, inspect, step, add, switchTo };
  const inspectable = replay?.runId ?? run.runId;
  const actions = useMemo<Action[]>(() => {
    const none = !flow;
    return [
      { id: "flow-new", group: "Flow", title: "New flow…", keywords: "create blank template", disabled: !mayEdit, run: () => setNaming({ mode: "new" }) },
      { id: "flow-duplicate", group: "Flow", title: "Duplicate this flow…", disabled: none || readOnly, run: () => flow && setNaming({ mode: "duplicate", from: flow.name }) },
      { id: "flow-rename", group: "Flow", title: "Rename this flow…", disabled: none || readOnly || access !== null, run: () => flow && setNaming({ mode: "rename", from: flow.name }) },
      { id: "flow-delete", group: "Flow", title: "Delete this flow (undo follows)", disabled: none || readOnly, run: () => void handlers.current.remove() },
      { id: "flow-save", group: "Flow", title: "Save", shortcut: dirty ? "unsaved" : undefined, disabled: none || !mayEdit, run: () => void handlers.current.save() },
      { id: "flow-run", group: "Flow", title: "Run", keywords: "start execute", disabled: none || running !== null || errors.length > 0 || !mayRun, run: () => void handlers.current.start() },
      { id: "flow-undo", group: "Edit", title: "Undo", shortcut: "Ctrl+Z", disabled: !doc || !canUndo(doc) || readOnly, run: () => handlers.current.step("undo") },
      { id: "flow-redo", group: "Edit", title: "Redo", shortcut: "Ctrl+Shift+Z", disabled: !doc || !canRedo(doc) || readOnly, run: () => handlers.current.step("redo") },
      { id: "flow-layout", group: "Edit", title: "Auto-layout the flow", keywords: "arrange dagre tidy", disabled: none || readOnly, run: () => (edit(autoLayout), refit()) },
      { id: "flow-fit", group: "View", title: "Fit the flow in view", keywords: "zoom", disabled: none, run: refit },
      { id: "flow-versions", group: "Flow", title: "Versions: compare and roll back", keywords: "history diff", disabled: none || replay !== null, run: () => void handlers.current.openVersions() },
      { id: "run-inspect", group: "Run", title: "Inspect the run", keywords: "prompt output trace replay fork", disabled: !inspectable, run: () => handlers.current.inspect() },
      ...KINDS.map((entry) => ({
        id: `add-${entry.kind}`,
        group: "Add node",
        title: selected ? `${entry.label} after ${selected}` : entry.label,
        disabled: none || readOnly,
        run: () => handlers.current.add(entry.kind),
      })),
      ...library.map((entry) => ({ id: `open-${entry.name}`, group: "Go to flow", title: entry.name, disabled: entry.name === flow?.name, run: () => void handlers.current.switchTo(entry) })),
    ];
  }, [flow, readOnly, dirty, running, errors.length, doc, replay, inspectable, selected, library, edit, refit, mayEdit, mayRun, access]);
  useActions("canvas", actions);
  const selectedNode = viewed?.nodes.find((node) => node.id === selected) ?? null;

  return (
    <div className="flex h-full w-full flex-col" data-testid="flow-canvas">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-3 py-1.5 text-xs">
        <select
          data-testid="flow-picker"
          aria-label="Flow"
          className="rounded border border-border bg-background px-1 py-0.5 text-foreground"
          value={flow?.name ?? ""}
          onChange={(event) => void switchTo(library.find((entry) => entry.name === event.target.value))}
        >
          {library.map((entry) => (
            <option key={entry.path} value={entry.name}>
              {entry.name}
              {entry.error ? " (unreadable)" : ""}
            </option>
          ))}
          {flow && !library.some((entry) => entry.name === flow.name) && (
            <option value={flow.name} disabled>
              {flow.name} (no file — Save writes it)
            </option>
          )}
        </select>
        <Button size="sm" variant="ghost" data-testid="flow-new" disabled={!mayEdit} onClick={() => setNaming({ mode: "new" })} title={mayEdit ? "New flow (blank or from another)" : refusedBecause(access, "add flows")}>
          <FilePlus2 className="size-3.5" /> New
        </Button>
        <Button size="icon" variant="ghost" data-testid="flow-duplicate" aria-label="Duplicate flow" title="Duplicate flow" disabled={!flow || replay !== null || !mayEdit} onClick={() => flow && setNaming({ mode: "duplicate", from: flow.name })}>
          <Copy className="size-3.5" />
        </Button>
        <Button size="icon" variant="ghost" data-testid="flow-rename" aria-label="Rename flow" title={access ? "Renaming works on this machine's flows only: duplicate it under the new name, then delete it" : "Rename flow"} disabled={!flow || replay !== null || !mayEdit || access !== null} onClick={() => flow && setNaming({ mode: "rename", from: flow.name })}>
          <Pencil className="size-3.5" />
        </Button>
        <Button size="icon" variant="ghost" data-testid="flow-delete" aria-label="Delete flow" title="Delete flow (undo follows)" disabled={!flow || replay !== null || !mayEdit} onClick={() => void remove()}>
          <Trash2 className="size-3.5" />
        </Button>
        <Button size="sm" variant="ghost" data-testid="flow-save" onClick={() => void save()} disabled={!flow || !mayEdit} title={mayEdit ? (access ? `Save to ${access.workspace} on the server (a new version)` : "Save (a new version)") : refusedBecause(access, "edit flows")}>
          <Save className="size-3.5" /> Save{dirty ? " *" : ""}
        </Button>
        <Button
          size="icon"
          variant="ghost"
          data-testid="flow-layout"
          aria-label="Auto-layout"
          title="Auto-layout (dagre): ranks from the input down, branches side by side"
          disabled={!flow || readOnly}
          onClick={() => {
            edit(autoLayout);
            refit();
          }}
        >
          <LayoutGrid className="size-3.5" />
        </Button>
        <Button size="icon" variant="ghost" data-testid="flow-undo" aria-label="Undo" title="Undo (Ctrl+Z)" disabled={!doc || !canUndo(doc) || readOnly} onClick={() => step("undo")}>
          <Undo2 className="size-3.5" />
        </Button>
        <Button size="icon" variant="ghost" data-testid="flow-redo" aria-label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={!doc || !canRedo(doc) || readOnly} onClick={() => step("redo")}>
          <Redo2 className="size-3.5" />
        </Button>
        <Badge data-testid="flow-check" data-errors={errors.length} title={problems.map((problem) => `${problem.node ?? "flow"}: ${problem.message} — ${problem.fix}`).join("\n")}>
          {errors.length > 0 ? `${errors.length} error(s)` : problems.length > 0 ? `${problems.length} warning(s)` : "checked ✓"}
        </Badge>
        <Button
          size="sm"
          variant="ghost"
          data-testid="open-versions"
          disabled={!flow || replay !== null}
          title="Versions: history, compare two, roll back"
          onClick={() => void openVersions()}
        >
          <HistoryIcon className="size-3.5" /> Versions
        </Button>
        <Button
          size="sm"
          variant="ghost"
          data-testid="inspect-run"
          disabled={!(replay?.runId ?? run.runId)}
          title="Inspect the run: each node's prompt, output, tool calls and timings; replay, re-run, resume, fork"
          onClick={inspect}
        >
          <ListTree className="size-3.5" /> Inspect
        </Button>
        <select
          data-testid="run-history"
          aria-label="Run history"
          className="max-w-[12rem] rounded border border-border bg-background px-1 py-0.5 text-foreground"
          value={replay?.runId ?? ""}
          onChange={(event) => event.target.value && void openRun(event.target.value)}
        >
          <option value="">history ({runHistory.length})</option>
          {runHistory.map((entry) => (
            <option key={entry.id} value={entry.id}>
              {entry.id.slice(0, 8)} · {entry.status}
            </option>
          ))}
        </select>
      </div>
      <div className="flex items-center gap-2 border-b border-border px-3 py-1.5 text-xs">
        <span className="text-muted-foreground">input</span>
        <input
          data-testid="flow-input"
          aria-label="Run input (JSON)"
          className="min-w-0 flex-1 rounded border border-border bg-background px-2 py-0.5 font-mono text-foreground"
          value={input}
          onChange={(event) => setInput(event.target.value)}
        />
        {running ? (
          <Button size="sm" variant="outline" onClick={() => void commands.cancel(running)}>
            <Square className="size-3.5" /> Stop
          </Button>
        ) : (
          <Button size="sm" data-testid="flow-run" onClick={() => void start()} disabled={!flow || errors.length > 0 || !mayRun} title={mayRun ? (access ? `Run on the server (${access.workspace})` : "Run") : refusedBecause(access, "run flows")}>
            <Play className="size-3.5" /> Run
          </Button>
        )}
      </div>
      {access && (
        <div className="border-b border-border bg-sky-500/10 px-3 py-1 text-xs" data-testid="flow-remote" data-role={access.role}>
          {describeAccess(access)}
        </div>
      )}
      {deleted && (
        <div className="flex items-center gap-2 border-b border-border bg-muted px-3 py-1 text-xs" role="status" data-testid="flow-deleted">
          <span>
            deleted <span className="font-mono">{deleted.name}</span> (kept in the trash)
          </span>
          <Button size="sm" variant="outline" data-testid="flow-undelete" onClick={() => void restore()}>
            Undo
          </Button>
          <button type="button" className="ml-auto text-muted-foreground" aria-label="Dismiss" onClick={() => setDeleted(null)}>
            ×
          </button>
        </div>
      )}
      {conflict && (
        <div className="flex flex-wrap items-center gap-2 border-b border-border bg-amber-400/15 px-3 py-1 text-xs" role="alert" data-testid="disk-conflict">
          <span>
            <span className="font-mono">{conflict.name}</span> changed {access ? "on the server" : "on disk"} while you have unsaved edits.
          </span>
          <Button
            size="sm"
            variant="outline"
            data-testid="conflict-load"
            onClick={() => {
              setDoc((history) => (history ? record(history, conflict) : history));
              setDirty(false);
              setConflict(null);
              setNotice(`loaded ${conflict.name} ${access ? "from the server" : "from disk"} (Undo brings your edits back)`);
            }}
          >
            {access ? "Load the server's" : "Load the file"}
          </Button>
          <Button
            size="sm"
            variant="outline"
            data-testid="conflict-keep"
            onClick={() => {
              setConflict(null);
              setNotice(access ? "kept your edits — Save makes them the server's newest version" : "kept your edits — Save overwrites the file");
            }}
          >
            Keep my edits
          </Button>
        </div>
      )}
      {refusal && (
        <div className="border-b border-border bg-muted px-3 py-1 text-xs text-amber-800 dark:text-amber-400" role="status" data-testid="connection-refused">
          cannot connect: {refusal}
        </div>
      )}
      {missing.length > 0 && (
        <div className="flex flex-wrap items-center gap-2 border-b border-border bg-amber-400/15 px-3 py-1 text-xs" role="alert" data-testid="flows-missing">
          <span>
            {missing.length === 1 ? "1 flow's file was" : `${missing.length} flows' files were`} deleted outside the app ({missing.map((gone) => gone.name).join(", ")}) —{" "}
            {missing.length === 1 ? "its saved versions are" : "their saved versions are"} kept.
          </span>
          <Button size="sm" variant="outline" className="h-6" data-testid="flows-missing-restore" onClick={() => void restoreMissing()}>
            Restore {missing.length === 1 ? "it" : "them"}
          </Button>
          <Button size="sm" variant="ghost" className="h-6" onClick={() => setMissing([])}>
            Dismiss
          </Button>
        </div>
      )}
      {notice && (
        <div className="truncate border-b border-border bg-muted px-3 py-1 text-xs" role="status" title={notice} data-testid="flow-notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      <div className="flex min-h-0 flex-1">
        <div className="flex w-20 flex-col gap-1 overflow-y-auto border-r border-border p-1" data-testid="palette">
          {KINDS.map((entry) => (
            <button
              key={entry.kind}
              type="button"
              data-testid={`palette-${entry.kind}`}
              className="rounded border border-border px-1.5 py-1 text-left text-[11px] hover:bg-muted disabled:opacity-50"
              onClick={() => add(entry.kind)}
              draggable={flow !== null && !readOnly}
              onDragStart={(event) => {
                event.dataTransfer.setData("application/x-codexos-kind", entry.kind);
                event.dataTransfer.effectAllowed = "copy";
              }}
              disabled={!flow || readOnly}
              title={selected ? `Add a ${entry.label} node after ${selected} (or drag it onto the canvas)` : `Add a ${entry.label} node (or drag it onto the canvas)`}
            >
              {entry.label}
            </button>
          ))}
        </div>
        <div ref={pane} className="relative min-w-0 flex-1" onDragOver={(event) => event.preventDefault()} onDrop={drop}>
          <ReactFlow
            nodes={canvas.nodes}
            edges={canvas.edges as Edge[]}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            isValidConnection={(connection) => flow !== null && connectionProblem(flow, connection.source, connection.target) === null}
            onConnectEnd={() => setRefusal(null)}
            onMouseMove={(event) => {
              // While a connection is dragged over a node, say why it would be refused.
              if (!flow || !(event.buttons & 1) || !document.querySelector(".react-flow__connectionline")) return;
              const over = (event.target as HTMLElement).closest<HTMLElement>(".react-flow__node");
              const source = document.querySelector<HTMLElement>(".react-flow__handle.connectingfrom")?.closest<HTMLElement>(".react-flow__node");
              setRefusal(over && source ? connectionProblem(flow, source.dataset.id ?? null, over.dataset.id ?? null) : null);
            }}
            deleteKeyCode={null}
            onNodeClick={(_, node) => {
              setSelected(node.id);
              setFocus(node.id);
            }}
            onPaneClick={() => setSelected(null)}
            onInit={(instance) => {
              viewport.current = instance as unknown as ReactFlowInstance;
            }}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            // A big flow keeps only the nodes in view in the page: panning
            // then moves tens of elements, not a thousand.
            onlyRenderVisibleElements={canvas.nodes.length > BIG_FLOW}
            fitView
            fitViewOptions={{ padding: 0.2, maxZoom: 1.1 }}
            colorMode={theme}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={20} />
            <Controls showInteractive={false} />
            {wide && <MiniMap pannable zoomable ariaLabel="Flow overview" className="!bg-card" nodeColor="#64748b" maskColor={theme === "dark" ? "rgba(0,0,0,0.4)" : "rgba(0,0,0,0.12)"} style={{ width: 150, height: 100 }} />}
          </ReactFlow>
          {versionsOpen && flow && (
            <VersionsPanel
              key={flow.name}
              name={flow.name}
              onShow={setCompare}
              onClose={() => setVersionsOpen(false)}
              onRolledBack={(entry, version) => {
                setVersionsOpen(false);
                void reload();
                open(entry);
                setNotice(`rolled back ${entry.name} to v${version} (recorded as a new version)`);
              }}
            />
          )}
          {inspecting && (
            <RunInspector
              key={inspecting}
              runId={inspecting}
              focus={focus}
              onFocus={setFocus}
              onClose={() => setInspecting(null)}
              access={access}
              onEvent={(event) => setRun((current) => applyEvent(event.event.type === "runStarted" ? EMPTY_RUN : current, event))}
              onNewRun={(runId) => {
                if (flow) refreshHistory(flow.name);
                setInspecting(runId);
              }}
            />
          )}
        </div>
        {flow && !selectedNode && !compare && <FlowSettings key={flow.name} flow={flow} readOnly={readOnly} onChange={(next) => edit(() => next)} />}
        {selectedNode && flow && (
          <Inspector
            key={selectedNode.id}
            node={selectedNode}
            problems={problems.filter((problem) => problem.node === selectedNode.id)}
            readOnly={readOnly}
            schema={schema}
            stateKeys={Object.keys(flow.state ?? {})}
            nodeIds={flow.nodes.map((node) => node.id)}
            onApply={(next) => {
              edit((current) => replaceNode(current, selectedNode.id, next));
              setSelected(next.id);
            }}
            onDelete={() => {
              edit((current) => removeNode(current, selectedNode.id));
              setSelected(null);
              refit();
            }}
          />
        )}
      </div>
      {naming && (
        <FlowNameDialog
          action={naming}
          library={library}
          busy={false}
          error={namingError}
          onSubmit={(title, from) => void name(title, from)}
          onClose={() => {
            setNaming(null);
            setNamingError(null);
          }}
        />
      )}
      <RunPanel view={shown} replay={replay} onStep={(index) => setReplay((current) => (current ? { ...current, index } : current))} onCloseReplay={() => {
          // Back to the flow as it is in the library, not the run's copy of it.
          setReplay(null);
          const entry = library.find((candidate) => candidate.name === flow?.name);
          if (entry) open(entry);
        }} onAnswer={(answer) => void resume(answer)}
        busy={running !== null || !mayApprove}
        answerType={(node) => {
          const output = flow?.nodes.find((candidate) => candidate.id === node)?.output;
          return (output && flow?.state[output]) || "any";
        }}
      />
    </div>
  );
}
