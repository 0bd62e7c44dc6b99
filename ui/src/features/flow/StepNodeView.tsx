import { Handle, Position, type NodeProps } from "@xyflow/react";
import { Bot, Database, MessageSquare, MessageSquareText } from "lucide-react";
import { memo } from "react";

import { cn } from "@/lib/utils";
import type { StepNode } from "./defaultFlow";

const ICONS = {
  input: MessageSquare,
  retrieve: Database,
  llm: Bot,
  output: MessageSquareText,
} as const;

const STATUS_RING = {
  idle: "border-border",
  active: "border-primary shadow-[0_0_0_3px] shadow-primary/30",
  done: "border-emerald-500/70",
  error: "border-destructive",
} as const;

function StepNodeView({ data }: NodeProps<StepNode>) {
  const Icon = ICONS[data.kind];
  return (
    <div
      data-testid={`flow-node-${data.kind}`}
      data-status={data.status}
      className={cn(
        "w-56 rounded-lg border-2 bg-card px-3 py-2 text-card-foreground transition-all",
        STATUS_RING[data.status],
      )}
    >
      {data.kind !== "input" && <Handle type="target" position={Position.Top} />}
      <div className="flex items-center gap-2 text-sm font-semibold">
        <Icon className={cn("size-4", data.status === "active" && "animate-pulse text-primary")} />
        {data.title}
      </div>
      <div className="mt-1 truncate text-xs text-muted-foreground">{data.detail}</div>
      {data.kind !== "output" && <Handle type="source" position={Position.Bottom} />}
    </div>
  );
}

export default memo(StepNodeView);
