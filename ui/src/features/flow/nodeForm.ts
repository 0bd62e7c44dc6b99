// Inspector forms generated from the flow-file JSON Schema (the one the
// engine publishes, fetched over IPC): one typed field per setting of a node
// kind, with the schema's description, default, bounds and required list.
// Pure logic, free of React; NodeForm renders it.
import type { FlowNode } from "./flowGraph";

/** The subset of JSON Schema the flow schema uses. */
export interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  format?: string;
}

export type FieldKind =
  | "text" // one line
  | "template" // a prompt template: multi-line, `{{` completes state keys
  | "number"
  | "integer"
  | "boolean"
  | "select" // one of the schema's enum values
  | "stateKey" // one state key (or an expression where the schema allows it)
  | "stateKeys" // several state keys (checkboxes)
  | "nodeRef" // another node's id
  | "lines" // a list of strings, one per line
  | "map" // string → string (state key → expression)
  | "json"; // anything else, as JSON

export interface FormField {
  name: string;
  kind: FieldKind;
  description: string;
  required: boolean;
  /** Whether the value may be left out (the schema allows null or it is optional). */
  optional: boolean;
  options: string[];
  minimum?: number;
  defaultValue?: unknown;
}

/** Fields whose meaning the schema's types do not carry (a string that names a state key or a node). */
const HINTS: Record<string, FieldKind> = {
  "input.fields": "stateKeys",
  "output.keys": "stateKeys",
  "parallel.over": "stateKey",
  "reflect.subject": "stateKey",
  "loop.body": "nodeRef",
  "router.default": "nodeRef",
};

/** Settings the inspector shows outside the generated form. */
const SHARED = new Set(["id", "title", "output", "position", "kind"]);

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace("#/$defs/", "");
  const target = root.$defs?.[name];
  return target ? { ...target, ...schema, $ref: undefined, description: schema.description ?? target.description } : schema;
}

/** The type names a property allows, `null` apart. */
function types(schema: JsonSchema): { names: string[]; nullable: boolean } {
  const raw = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const fromAnyOf = (schema.anyOf ?? []).flatMap((part) => (part.type === undefined ? [] : Array.isArray(part.type) ? part.type : [part.type]));
  const all = [...raw, ...fromAnyOf];
  return { names: all.filter((name) => name !== "null"), nullable: all.includes("null") };
}

function enumValues(schema: JsonSchema): string[] {
  if (schema.enum) return schema.enum.map(String);
  const consts = (schema.oneOf ?? []).map((part) => part.const).filter((value) => typeof value === "string");
  return consts.length > 0 && consts.length === (schema.oneOf ?? []).length ? (consts as string[]) : [];
}

function fieldOf(kind: string, name: string, raw: JsonSchema, root: JsonSchema, required: boolean): FormField {
  const schema = resolve(raw, root);
  const { names, nullable } = types(schema);
  const description = (schema.description ?? "").replace(/\s+/g, " ").trim();
  const options = enumValues(schema);
  let fieldKind: FieldKind = "json";
  const hinted = HINTS[`${kind}.${name}`];
  if (hinted) fieldKind = hinted;
  else if (options.length > 0) fieldKind = "select";
  else if (names.length === 1 && names[0] === "string") fieldKind = /\(template\)/.test(description) ? "template" : "text";
  else if (names.length === 1 && names[0] === "integer") fieldKind = "integer";
  else if (names.length === 1 && names[0] === "number") fieldKind = "number";
  else if (names.length === 1 && names[0] === "boolean") fieldKind = "boolean";
  else if (names.length === 1 && names[0] === "array" && resolve(schema.items ?? {}, root).type === "string") fieldKind = "lines";
  else if (
    names.length === 1 &&
    names[0] === "object" &&
    typeof schema.additionalProperties === "object" &&
    schema.additionalProperties.type === "string"
  )
    fieldKind = "map";
  return {
    name,
    kind: fieldKind,
    description,
    required,
    optional: !required || nullable,
    options,
    minimum: schema.minimum,
    defaultValue: schema.default,
  };
}

/** The form of a node kind: the kind's own settings, then the settings every node has. */
export function formFor(schema: JsonSchema, kind: string): FormField[] {
  const node = schema.$defs?.Node;
  if (!node) return [];
  const variant = (node.oneOf ?? []).find((part) => part.properties?.kind?.const === kind);
  if (!variant) return [];
  const own = Object.entries(variant.properties ?? {})
    .filter(([name]) => !SHARED.has(name))
    .map(([name, property]) => fieldOf(kind, name, property, schema, (variant.required ?? []).includes(name)));
  const common = Object.entries(node.properties ?? {})
    .filter(([name]) => !SHARED.has(name))
    .map(([name, property]) => fieldOf(kind, name, property, schema, (node.required ?? []).includes(name)));
  return [...own, ...common];
}

/** What an input of the form shows for a node's value. */
export function display(field: FormField, value: unknown): string {
  if (value === undefined || value === null) return "";
  switch (field.kind) {
    case "lines":
      return Array.isArray(value) ? value.join("\n") : String(value);
    case "json":
      return JSON.stringify(value, null, 2);
    case "boolean":
      return value ? "true" : "false";
    default:
      return typeof value === "string" ? value : JSON.stringify(value);
  }
}

/** The value a form input stands for, or the reason it is not valid. */
export function parse(field: FormField, text: string): { value: unknown } | { error: string } {
  const blank = text.trim() === "";
  if (blank && field.kind !== "boolean") {
    if (field.required && !field.optional) return { error: `${field.name} is required` };
    return { value: undefined };
  }
  switch (field.kind) {
    case "integer":
    case "number": {
      const number = Number(text);
      if (!Number.isFinite(number)) return { error: `${field.name} must be a number` };
      if (field.kind === "integer" && !Number.isInteger(number)) return { error: `${field.name} must be a whole number` };
      if (field.minimum !== undefined && number < field.minimum) return { error: `${field.name} must be at least ${field.minimum}` };
      return { value: number };
    }
    case "boolean":
      return { value: text === "true" };
    case "select":
      return field.options.includes(text) ? { value: text } : { error: `${field.name} must be one of ${field.options.join(", ")}` };
    case "lines":
    case "stateKeys":
      return {
        value: text
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line !== ""),
      };
    case "json":
    case "map":
      try {
        return { value: JSON.parse(text) as unknown };
      } catch (caught) {
        return { error: `${field.name} is not valid JSON: ${caught instanceof Error ? caught.message : String(caught)}` };
      }
    default:
      return { value: text };
  }
}

/** The node with one setting changed (left out when `value` is undefined). */
export function withValue(node: FlowNode, name: string, value: unknown): FlowNode {
  const next: Record<string, unknown> = { ...node };
  if (value === undefined) delete next[name];
  else next[name] = value;
  return next as unknown as FlowNode;
}

/** A node's value for a field. */
export function valueOf(node: FlowNode, name: string): unknown {
  return (node as unknown as Record<string, unknown>)[name];
}

/** The state keys a template field could complete at the caret: after an
 * unclosed `{{`, the declared keys that start with what is typed. */
export function completions(text: string, caret: number, keys: string[]): { from: number; matches: string[] } | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("{{");
  if (open < 0 || before.indexOf("}}", open) >= 0) return null;
  const typed = before.slice(open + 2);
  if (!/^\s*[A-Za-z0-9_]*$/.test(typed)) return null;
  const prefix = typed.trim();
  const matches = keys.filter((key) => key.startsWith(prefix) && key !== prefix);
  return matches.length > 0 ? { from: open, matches } : null;
}

/** `text` with the `{{ …` at `from` (up to the caret) completed to `{{ key }}`; the new caret. */
export function complete(text: string, caret: number, from: number, key: string): { text: string; caret: number } {
  const insert = `{{ ${key} }}`;
  const after = text.slice(caret).replace(/^\s*\}\}/, "");
  return { text: text.slice(0, from) + insert + after, caret: from + insert.length };
}
