// The default agent graph (Retrieve → LLM → Answer), as framework-free data.
import type { Edge, Node } from "@xyflow/react";

import type { Phase } from "@/features/chat/chatState";

export type StepStatus = "idle" | "active" | "done" | "error";

export type StepKind = "input" | "retrieve" | "llm" | "output";

interface Step {
  id: string;
  kind: StepKind;
  title: string;
  detail: string;
}

export interface StepData extends Record<string, unknown> {
  kind: StepKind;
  title: string;
  detail: string;
  status: StepStatus;
}

export type StepNode = Node<StepData, "step">;

const STEPS: Step[] = [
  { id: "question", kind: "input", title: "Question", detail: "from the chat panel" },
  { id: "retrieve", kind: "retrieve", title: "Retrieve", detail: "top 6 chunks · LanceDB" },
  { id: "llm", kind: "llm", title: "LLM", detail: "local llama.cpp" },
  { id: "answer", kind: "output", title: "Answer", detail: "streamed, with citations" },
];

/** Which step is working, finished or failed during a given ask phase. */
export function stepStatus(stepIndex: number, phase: Phase | null): StepStatus {
  const activeIndex = phase === "retrieving" ? 1 : phase === "generating" ? 2 : null;
  if (phase === null || phase === "cancelled") return "idle";
  if (phase === "done") return "done";
  if (phase === "error") return stepIndex === 0 ? "done" : "error";
  if (activeIndex === null) return "idle";
  if (stepIndex < activeIndex) return "done";
  return stepIndex === activeIndex ? "active" : "idle";
}

export function defaultFlow(phase: Phase | null, model: string): { nodes: StepNode[]; edges: Edge[] } {
  const nodes: StepNode[] = STEPS.map((step, index) => ({
    id: step.id,
    type: "step",
    position: { x: 0, y: index * 120 },
    data: {
      kind: step.kind,
      title: step.title,
      detail: step.kind === "llm" && model ? model : step.detail,
      status: stepStatus(index, phase),
    },
  }));
  const edges: Edge[] = STEPS.slice(1).map((step, index) => ({
    id: `${STEPS[index]?.id}->${step.id}`,
    source: STEPS[index]?.id ?? "",
    target: step.id,
    animated: nodes[index + 1]?.data.status === "active",
  }));
  return { nodes, edges };
}
