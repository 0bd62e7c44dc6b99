// Pure logic of the agent editor: the form's fields, checks before publish,
// the next free version, and which flows lag behind the newest version.
import type { AgentPin, AgentSpec_Deserialize as AgentSpec, AgentVersion_Serialize as AgentVersion } from "@/ipc/bindings";

export interface AgentForm {
  name: string;
  version: string;
  description: string;
  system: string;
  tools: string[];
  model: string;
  contextProject: string;
  maxSteps: string;
  memory: boolean;
}

export const blankAgent: AgentForm = {
  name: "",
  version: "1.0.0",
  description: "",
  system: "",
  tools: [],
  model: "",
  contextProject: "",
  maxSteps: "4",
  memory: false,
};

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

export function semver(version: string): [number, number, number] | null {
  const match = SEMVER.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

export function compareVersions(left: string, right: string): number {
  const a = semver(left) ?? [0, 0, 0];
  const b = semver(right) ?? [0, 0, 0];
  for (let index = 0; index < 3; index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The published versions of `name`, newest last. */
export function versionsOf(agents: AgentVersion[], name: string): AgentVersion[] {
  return agents.filter((agent) => agent.name === name).sort((a, b) => compareVersions(a.version, b.version));
}

/** The next free patch version after the newest published one. */
export function nextVersion(agents: AgentVersion[], name: string): string {
  const newest = versionsOf(agents, name).at(-1);
  const parts = newest ? semver(newest.version) : null;
  return parts ? `${parts[0]}.${parts[1]}.${parts[2] + 1}` : "1.0.0";
}

/** A published version as the form that would publish it again (with the next version). */
export function formFrom(agent: AgentVersion, agents: AgentVersion[]): AgentForm {
  return {
    name: agent.name,
    version: nextVersion(agents, agent.name),
    description: agent.spec.description,
    system: agent.spec.system,
    tools: [...agent.spec.tools],
    model: agent.spec.model ?? "",
    contextProject: agent.spec.contextProject ?? "",
    maxSteps: String(agent.spec.maxSteps),
    memory: agent.spec.memory,
  };
}

/** Problems that keep the form from publishing, by field (the runtime checks again). */
export function formProblems(form: AgentForm, agents: AgentVersion[]): Partial<Record<keyof AgentForm, string>> {
  const problems: Partial<Record<keyof AgentForm, string>> = {};
  if (!/^[A-Za-z0-9_-]+$/.test(form.name)) problems.name = "Letters, digits, - and _ only (it names the file).";
  if (!semver(form.version)) problems.version = "MAJOR.MINOR.PATCH, e.g. 1.0.0.";
  else if (versionsOf(agents, form.name).some((agent) => agent.version === form.version.trim()))
    problems.version = `${form.name}@${form.version.trim()} is published and never changes — use ${nextVersion(agents, form.name)}.`;
  if (!form.system.trim()) problems.system = "Say what the agent does and how.";
  const steps = Number(form.maxSteps);
  if (!Number.isInteger(steps) || steps < 1 || steps > 50) problems.maxSteps = "A whole number from 1 to 50.";
  return problems;
}

export function specFrom(form: AgentForm): AgentSpec {
  return {
    name: form.name.trim(),
    version: form.version.trim(),
    description: form.description.trim(),
    system: form.system.trim(),
    tools: form.tools,
    contextProject: form.contextProject || null,
    model: form.model || null,
    maxSteps: Number(form.maxSteps),
    memory: form.memory,
  };
}

/** The pins of agent `name`, each with whether a newer version exists. */
export function pinsOf(pins: AgentPin[], agents: AgentVersion[], name: string): Array<AgentPin & { behind: boolean }> {
  const newest = versionsOf(agents, name).at(-1)?.version;
  return pins
    .filter((pin) => pin.agent === name)
    .map((pin) => ({ ...pin, behind: newest !== undefined && (pin.version == null || compareVersions(pin.version, newest) < 0) }));
}
