import { Handle, Position, type NodeProps } from "@xyflow/react";
import {
  AlertTriangle,
  ArrowRightLeft,
  Bot,
  Brain,
  Database,
  GitBranch,
  GitFork,
  Hand,
  MessageSquare,
  MessageSquareText,
  Repeat,
  Sparkles,
  Split,
  Workflow,
  Wrench,
} from "lucide-react";
import { memo } from "react";

import { cn } from "@/lib/utils";
import { kindInfo, sourceHandles, type CanvasNode } from "./flowGraph";

const ICONS = {
  input: MessageSquare,
  output: MessageSquareText,
  llm: Sparkles,
  agent: Bot,
  tool: Wrench,
  retrieve: Database,
  router: GitBranch,
  parallel: Split,
  loop: Repeat,
  reflect: GitFork,
  human: Hand,
  memory: Brain,
  transform: ArrowRightLeft,
  subflow: Workflow,
} as const;

const STATUS_RING = {
  idle: "border-border",
  running: "border-primary shadow-[0_0_0_3px] shadow-primary/30",
  done: "border-emerald-500/70",
  failed: "border-destructive",
  waiting: "border-amber-400 shadow-[0_0_0_3px] shadow-amber-400/30",
} as const;

// Handle colours by the type a node writes: typed ports at a glance.
const TYPE_COLOUR: Record<string, string> = {
  string: "!bg-sky-400",
  list: "!bg-violet-400",
  object: "!bg-amber-400",
  any: "!bg-zinc-400",
};

function summary(node: CanvasNode["data"]["node"]): string {
  switch (node.kind) {
    case "llm":
      return node.model ?? "model policy";
    case "agent":
      return node.agent;
    case "tool":
      return node.tool;
    case "retrieve":
      return `top ${node.k} · ${node.query}`;
    case "router":
      return `${node.routes.length} route(s)`;
    case "parallel":
      return `over ${node.over} · ×${node.concurrency}`;
    case "loop":
      return `until ${node.until ?? "—"} · max ${node.max}`;
    case "reflect":
      return `${node.criteria.length} criteria · ${node.rounds} rounds`;
    case "transform":
      return Object.keys(node.set).join(", ") || "no-op";
    case "input":
      return node.fields.join(", ") || "input";
    case "output":
      return node.keys.join(", ");
    case "human":
      return node.mode ?? "approve";
    case "memory":
      return `${node.op} · ${node.namespace}`;
    case "subflow":
      return node.flow;
    default:
      return "";
  }
}

function FlowNodeView({ data }: NodeProps<CanvasNode>) {
  const { node, status, problems, selected } = data;
  const Icon = ICONS[node.kind] ?? Workflow;
  const errors = problems.filter((problem) => problem.severity === "error");
  const result = kindInfo(node.kind).result;
  const handles = sourceHandles(node);
  return (
    <div
      data-testid={`flow-node-${node.kind}`}
      data-node={node.id}
      data-output={node.output ?? ""}
      data-mark={data.mark ?? ""}
      data-status={status}
      title={problems.map((problem) => `${problem.message} — ${problem.fix}`).join("\n") || node.id}
      className={cn(
        "w-56 rounded-lg border-2 bg-card px-3 py-2 text-card-foreground transition-all",
        STATUS_RING[status],
        errors.length > 0 && status === "idle" && "border-destructive/70",
        selected && "ring-2 ring-primary/60",
        data.mark === "added" && "ring-2 ring-emerald-500",
        data.mark === "changed" && "ring-2 ring-amber-400",
        data.mark === "moved" && "ring-1 ring-sky-400/60",
      )}
    >
      {node.kind !== "input" && <Handle type="target" position={Position.Top} />}
      <div className="flex items-center gap-2 text-sm font-semibold">
        <Icon className={cn("size-4", status === "running" && "animate-pulse text-primary")} />
        <span className="truncate" title={node.title || node.id}>
          {node.title || node.id}
        </span>
        {problems.length > 0 && (
          <span data-testid="node-problem" className={cn("ml-auto flex items-center gap-0.5 text-[10px]", errors.length > 0 ? "text-destructive" : "text-amber-800 dark:text-amber-400")}>
            <AlertTriangle className="size-3" />
            {problems.length}
          </span>
        )}
      </div>
      <div className="mt-1 truncate text-xs text-muted-foreground" title={summary(node)}>
        {node.kind} · {summary(node)}
        {node.output ? ` → ${node.output}` : ""}
      </div>
      {handles.map((handle, index) => (
        <Handle
          key={handle.id}
          id={handle.id}
          type="source"
          position={Position.Bottom}
          title={handle.label || (result ? `writes ${result}` : "next")}
          className={cn(result ? TYPE_COLOUR[result] : undefined)}
          style={{ left: `${((index + 1) * 100) / (handles.length + 1)}%` }}
        />
      ))}
    </div>
  );
}

export default memo(FlowNodeView);
