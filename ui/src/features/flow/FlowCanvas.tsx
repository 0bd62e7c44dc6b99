import { Background, Controls, ReactFlow, type NodeTypes } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";

import type { Phase } from "@/features/chat/chatState";
import { defaultFlow } from "./defaultFlow";
import StepNodeView from "./StepNodeView";

// Declared at module scope so React Flow does not remount nodes on render.
const nodeTypes: NodeTypes = { step: StepNodeView };

export function FlowCanvas({ phase, model }: { phase: Phase | null; model: string }) {
  const { nodes, edges } = useMemo(() => defaultFlow(phase, model), [phase, model]);
  return (
    <div className="h-full w-full" data-testid="flow-canvas">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ padding: 0.3, maxZoom: 1.25 }}
        nodesConnectable={false}
        colorMode="dark"
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={20} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
