import { Channel } from "@tauri-apps/api/core";
import {
  Background,
  Controls,
  ReactFlow,
  type Connection,
  type Edge,
  type NodeChange,
  type EdgeChange,
  type NodeTypes,
  type ReactFlowInstance,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { Play, Save, Square } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import {
  commands,
  type Flow_Deserialize,
  type FlowEntry,
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
  disconnect,
  EMPTY_RUN,
  KINDS,
  moveNode,
  removeNode,
  replaceNode,
  toCanvas,
  viewAt,
  type FlowDoc,
  type Kind,
  type RunView,
} from "./flowGraph";
import { Inspector } from "./Inspector";
import { RunPanel } from "./RunPanel";

// Declared at module scope so React Flow does not remount nodes on render.
const nodeTypes: NodeTypes = { flow: FlowNodeView };

const DEFAULT_FLOW = "rag-qa";

/** The stored events of a run being stepped through. */
export interface Replay {
  runId: string;
  events: RunEvent[];
  index: number;
}

export function FlowCanvas({ project }: { project: string | null }) {
  const [library, setLibrary] = useState<FlowEntry[]>([]);
  const [flow, setFlow] = useState<FlowDoc | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [run, setRun] = useState<RunView>(EMPTY_RUN);
  const [running, setRunning] = useState<string | null>(null);
  const [history, setHistory] = useState<RunSummary[]>([]);
  const [replay, setReplay] = useState<Replay | null>(null);
  const [input, setInput] = useState('{"question": "How do I install it?"}');
  const [notice, setNotice] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const checkTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const viewport = useRef<ReactFlowInstance | null>(null);
  // Show the whole flow again after it changes shape (open, add, delete).
  const refit = useCallback(() => {
    setTimeout(() => void viewport.current?.fitView({ padding: 0.2, maxZoom: 1.1 }), 250);
  }, []);

  const refreshHistory = useCallback((name: string) => {
    void commands.runs(name).then((result) => result.status === "ok" && setHistory(result.data));
  }, []);

  const open = useCallback(
    (entry: FlowEntry | undefined) => {
      if (!entry?.flow) {
        if (entry?.error) setNotice(entry.error);
        return;
      }
      setFlow(entry.flow as FlowDoc);
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
    setFlow((current) => (current ? change(current) : current));
    setDirty(true);
  }, []);

  const shown = replay ? viewAt(replay.events, replay.index) : run;
  const canvas = useMemo(
    () => (flow ? toCanvas(flow, problems, shown.statuses, selected) : { nodes: [], edges: [] }),
    [flow, problems, shown.statuses, selected],
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
    const result = await commands.flowSave(flow as Flow_Deserialize);
    if (result.status !== "ok") {
      setNotice(result.error.message);
      return null;
    }
    setDirty(false);
    setProblems(result.data.problems);
    setNotice(`saved v${result.data.version} · ${result.data.path}`);
    void commands.flowLibrary().then((listed) => listed.status === "ok" && setLibrary(listed.data));
    return result.data;
  }, [flow]);

  const start = useCallback(async () => {
    if (!flow) return;
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
      } else setNotice(result.error.message);
    } finally {
      setRunning(null);
      refreshHistory(flow.name);
    }
  }, [flow, input, project, refreshHistory]);

  const resume = useCallback(
    async (answer: string) => {
      if (!run.runId || !flow) return;
      const id = requestId("resume");
      setRunning(id);
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

  const openRun = useCallback((runId: string) => {
    void commands.runDetail(runId).then((result) => {
      if (result.status !== "ok") return setNotice(result.error.message);
      setFlow(result.data.flow as FlowDoc);
      setReplay({ runId, events: result.data.events, index: result.data.events.length });
      refit();
    });
  }, [refit]);

  const add = (kind: Kind) => {
    const y = Math.max(0, ...(flow?.nodes ?? []).map((node) => node.position?.y ?? 0)) + 120;
    edit((current) => addNode(current, kind, { x: 0, y }));
    refit();
  };

  const errors = problems.filter((problem) => problem.severity === "error");
  const selectedNode = flow?.nodes.find((node) => node.id === selected) ?? null;

  return (
    <div className="flex h-full w-full flex-col" data-testid="flow-canvas">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-3 py-1.5 text-xs">
        <select
          data-testid="flow-picker"
          aria-label="Flow"
          className="rounded border border-border bg-background px-1 py-0.5 text-foreground [color-scheme:dark]"
          value={flow?.name ?? ""}
          onChange={(event) => open(library.find((entry) => entry.name === event.target.value))}
        >
          {library.map((entry) => (
            <option key={entry.path} value={entry.name}>
              {entry.name}
              {entry.error ? " (unreadable)" : ""}
            </option>
          ))}
        </select>
        <Button size="sm" variant="ghost" data-testid="flow-save" onClick={() => void save()} disabled={!flow}>
          <Save className="size-3.5" /> Save{dirty ? " *" : ""}
        </Button>
        <Badge data-testid="flow-check" data-errors={errors.length} title={problems.map((problem) => `${problem.node ?? "flow"}: ${problem.message} — ${problem.fix}`).join("\n")}>
          {errors.length > 0 ? `${errors.length} error(s)` : problems.length > 0 ? `${problems.length} warning(s)` : "checked ✓"}
        </Badge>
        <select
          data-testid="run-history"
          aria-label="Run history"
          className="max-w-[12rem] rounded border border-border bg-background px-1 py-0.5 text-foreground [color-scheme:dark]"
          value={replay?.runId ?? ""}
          onChange={(event) => event.target.value && openRun(event.target.value)}
        >
          <option value="">history ({history.length})</option>
          {history.map((entry) => (
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
          <Button size="sm" data-testid="flow-run" onClick={() => void start()} disabled={!flow || errors.length > 0}>
            <Play className="size-3.5" /> Run
          </Button>
        )}
      </div>
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
              disabled={!flow || replay !== null}
              title={`Add a ${entry.label} node`}
            >
              {entry.label}
            </button>
          ))}
        </div>
        <div className="relative min-w-0 flex-1">
          <ReactFlow
            nodes={canvas.nodes}
            edges={canvas.edges as Edge[]}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onNodeClick={(_, node) => setSelected(node.id)}
            onPaneClick={() => setSelected(null)}
            onInit={(instance) => {
              viewport.current = instance as unknown as ReactFlowInstance;
            }}
            nodesDraggable={replay === null}
            nodesConnectable={replay === null}
            fitView
            fitViewOptions={{ padding: 0.2, maxZoom: 1.1 }}
            colorMode="dark"
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={20} />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        {selectedNode && flow && (
          <Inspector
            key={selectedNode.id}
            node={selectedNode}
            problems={problems.filter((problem) => problem.node === selectedNode.id)}
            readOnly={replay !== null}
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
      <RunPanel view={shown} replay={replay} onStep={(index) => setReplay((current) => (current ? { ...current, index } : current))} onCloseReplay={() => setReplay(null)} onAnswer={(answer) => void resume(answer)} busy={running !== null} />
    </div>
  );
}
