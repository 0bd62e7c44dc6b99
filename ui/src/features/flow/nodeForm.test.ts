import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

import type { FlowNode } from "./flowGraph";
import { KINDS } from "./flowGraph";
import { complete, completions, display, formFor, parse, withValue, type JsonSchema } from "./nodeForm";

// The schema the engine publishes (a golden test in Rust keeps this file in step with the types).
const schema = JSON.parse(readFileSync(resolve(__dirname, "../../../../docs/schema/flow.schema.json"), "utf8")) as JsonSchema;

describe("forms generated from the flow schema", () => {
  it("gives every node kind of the palette a form", () => {
    for (const { kind } of KINDS) {
      const fields = formFor(schema, kind);
      expect(fields.map((field) => field.name), kind).toContain("retries");
      expect(fields.map((field) => field.name)).not.toContain("kind");
      expect(fields.map((field) => field.name)).not.toContain("id");
    }
    expect(formFor(schema, "no-such-kind")).toEqual([]);
  });

  it("types each llm setting from the schema", () => {
    const fields = Object.fromEntries(formFor(schema, "llm").map((field) => [field.name, field]));
    expect(fields.prompt).toMatchObject({ kind: "template", required: true, optional: false });
    expect(fields.system).toMatchObject({ kind: "template", required: false });
    expect(fields.model).toMatchObject({ kind: "text", optional: true });
    expect(fields.maxTokens).toMatchObject({ kind: "integer", minimum: 0, optional: true });
    expect(fields.temperature?.kind).toBe("number");
    expect(fields.outputSchema?.kind).toBe("json");
    expect(fields.timeoutMs?.kind).toBe("integer");
  });

  it("turns enums into selects and names state keys and nodes", () => {
    const human = Object.fromEntries(formFor(schema, "human").map((field) => [field.name, field]));
    expect(human.mode).toMatchObject({ kind: "select", options: ["approve", "input"], defaultValue: "approve" });
    const memory = Object.fromEntries(formFor(schema, "memory").map((field) => [field.name, field]));
    expect(memory.op?.options).toEqual(["write", "read", "search"]);
    expect(formFor(schema, "output").find((field) => field.name === "keys")?.kind).toBe("stateKeys");
    expect(formFor(schema, "loop").find((field) => field.name === "body")?.kind).toBe("nodeRef");
    expect(formFor(schema, "reflect").find((field) => field.name === "criteria")?.kind).toBe("lines");
    expect(formFor(schema, "transform").find((field) => field.name === "set")?.kind).toBe("map");
    expect(formFor(schema, "router").find((field) => field.name === "routes")?.kind).toBe("json");
  });

  it("validates inline and round-trips values", () => {
    const fields = Object.fromEntries(formFor(schema, "llm").map((field) => [field.name, field]));
    expect(parse(fields.prompt!, "  ")).toEqual({ error: "prompt is required" });
    expect(parse(fields.maxTokens!, "12.5")).toEqual({ error: "maxTokens must be a whole number" });
    expect(parse(fields.maxTokens!, "-1")).toEqual({ error: "maxTokens must be at least 0" });
    expect(parse(fields.maxTokens!, "abc")).toEqual({ error: "maxTokens must be a number" });
    expect(parse(fields.maxTokens!, "")).toEqual({ value: undefined });
    expect(parse(fields.maxTokens!, "64")).toEqual({ value: 64 });
    expect("error" in parse(fields.outputSchema!, "{nope")).toBe(true);
    const human = formFor(schema, "human").find((field) => field.name === "mode")!;
    expect(parse(human, "maybe")).toEqual({ error: "mode must be one of approve, input" });
    const criteria = formFor(schema, "reflect").find((field) => field.name === "criteria")!;
    expect(parse(criteria, "is short\n\n cites a file \n")).toEqual({ value: ["is short", "cites a file"] });
    expect(display(criteria, ["a", "b"])).toBe("a\nb");
    const node = { id: "a", kind: "llm", prompt: "hi", maxTokens: 5 } as FlowNode;
    expect(withValue(node, "maxTokens", undefined)).toEqual({ id: "a", kind: "llm", prompt: "hi" });
    expect(withValue(node, "system", "be brief")).toMatchObject({ system: "be brief" });
  });
});

describe("template completion", () => {
  const keys = ["question", "hits", "history"];
  it("offers the state keys after an unclosed {{", () => {
    expect(completions("Answer {{ h", 11, keys)).toEqual({ from: 7, matches: ["hits", "history"] });
    expect(completions("Answer {{", 9, keys)?.matches).toEqual(keys);
    expect(completions("Answer {{ hits }} now", 21, keys)).toBeNull();
    expect(completions("no braces", 9, keys)).toBeNull();
    expect(completions("{{ x.y", 6, keys)).toBeNull();
  });
  it("completes to a closed expression and moves the caret past it", () => {
    expect(complete("Answer {{ qu", 12, 7, "question")).toEqual({ text: "Answer {{ question }}", caret: 21 });
    expect(complete("A {{ qu }} B", 7, 2, "question")).toEqual({ text: "A {{ question }} B", caret: 16 });
  });
});
