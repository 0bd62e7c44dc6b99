import { describe, expect, it } from "vitest";

import { approval, typedAnswer } from "./humanAnswer";

describe("answers to human nodes", () => {
  it("approves, or rejects with the reason", () => {
    expect(approval(true, "ignored")).toBe('{"approved":true}');
    expect(approval(false, " too risky ")).toBe('{"approved":false,"comment":"too risky"}');
    expect(approval(false, "")).toBe('{"approved":false,"comment":"rejected in the app"}');
  });

  it("types an input answer by the declared state type", () => {
    expect(typedAnswer("string", 'say "hi"')).toEqual({ json: '"say \\"hi\\""' });
    expect(typedAnswer("number", "42.5")).toEqual({ json: "42.5" });
    expect(typedAnswer("number", "")).toEqual({ error: "a number is needed" });
    expect(typedAnswer("number", "four")).toEqual({ error: "a number is needed" });
    expect(typedAnswer("boolean", "true")).toEqual({ json: "true" });
    expect(typedAnswer("list", "[1, 2]")).toEqual({ json: "[1,2]" });
    expect(typedAnswer("list", '{"a": 1}')).toEqual({ error: "a JSON list ([…]) is needed" });
    expect(typedAnswer("object", "[]")).toEqual({ error: "a JSON object ({…}) is needed" });
    expect(typedAnswer("any", "nope")).toMatchObject({ error: expect.stringMatching(/not valid JSON/) });
    expect(typedAnswer("any", '"text"')).toEqual({ json: '"text"' });
  });
});
