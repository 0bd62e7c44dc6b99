// The answer to a `human` node as the engine takes it: an approval object,
// or a value of the type the flow declares for the node's output key. Pure.
import type { ValueType } from "@/ipc/bindings";

/** `{"approved": …}`, with the reason when rejected. */
export function approval(approved: boolean, reason: string): string {
  const comment = reason.trim();
  return JSON.stringify(approved ? { approved: true } : { approved: false, comment: comment || "rejected in the app" });
}

/** The JSON of a typed answer, or why the text is not one. */
export function typedAnswer(type: ValueType, text: string): { json: string } | { error: string } {
  switch (type) {
    case "string":
      return { json: JSON.stringify(text) };
    case "number": {
      const number = Number(text);
      return text.trim() !== "" && Number.isFinite(number) ? { json: JSON.stringify(number) } : { error: "a number is needed" };
    }
    case "boolean":
      return text === "true" || text === "false" ? { json: text } : { error: "yes or no is needed" };
    default: {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (caught) {
        return { error: `not valid JSON: ${caught instanceof Error ? caught.message : String(caught)}` };
      }
      if (type === "list" && !Array.isArray(value)) return { error: "a JSON list ([…]) is needed" };
      if (type === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) return { error: "a JSON object ({…}) is needed" };
      return { json: JSON.stringify(value) };
    }
  }
}
