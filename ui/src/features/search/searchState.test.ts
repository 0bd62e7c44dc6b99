import { describe, expect, it } from "vitest";

import { emptyForm, excerpt, highlight, sinceSeconds, toRequest } from "./searchState";

describe("search requests", () => {
  it("turns the form into the engine's request, empty fields meaning no filter", () => {
    const result = toRequest({ ...emptyForm, query: "default port", path: " *.md ", language: "Python" });
    expect(result).toEqual({
      request: {
        k: 20,
        mode: "hybrid",
        rerank: "auto",
        rev: null,
        filter: { project: null, path: "*.md", kind: null, language: "python", since: null },
      },
    });
  });

  it("sends a date as midnight UTC in Unix seconds", () => {
    expect(sinceSeconds("2026-01-02")).toBe(1767312000);
    const result = toRequest({ ...emptyForm, query: "x", since: "2026-01-02" });
    expect("request" in result && result.request.filter.since).toBe(1767312000);
  });

  it("refuses what the engine would refuse, saying why", () => {
    expect(toRequest({ ...emptyForm, query: "  " })).toEqual({ problem: "type what to search for" });
    expect(toRequest({ ...emptyForm, query: "x", since: "yesterday" })).toEqual({ problem: "the date must be YYYY-MM-DD" });
    expect(toRequest({ ...emptyForm, query: "x", rev: "HEAD~3" })).toEqual({
      problem: "a revision belongs to one project: choose the project first",
    });
    expect(toRequest({ ...emptyForm, query: "x", rev: "HEAD~3", project: "lumen" })).toMatchObject({
      request: { rev: "HEAD~3", filter: { project: "lumen" } },
    });
  });
});

describe("highlighting", () => {
  it("marks every occurrence of the query's words, whatever the case", () => {
    expect(highlight("The default Port is 8420; port 80 is not.", "default port")).toEqual([
      { text: "The ", match: false },
      { text: "default", match: true },
      { text: " ", match: false },
      { text: "Port", match: true },
      { text: " is 8420; ", match: false },
      { text: "port", match: true },
      { text: " 80 is not.", match: false },
    ]);
  });

  it("treats the query as words, not a pattern", () => {
    expect(highlight("a (b) c", "(b")).toEqual([{ text: "a (b) c", match: false }]);
    expect(highlight("call re.search(x)", "re.search")).toEqual([
      { text: "call ", match: false },
      { text: "re", match: true },
      { text: ".", match: false },
      { text: "search", match: true },
      { text: "(x)", match: false },
    ]);
  });

  it("cuts long text around the first match", () => {
    const text = `${"a ".repeat(300)}needle${" b".repeat(300)}`;
    const cut = excerpt(text, "needle", 100);
    expect(cut).toContain("needle");
    expect(cut.startsWith("…") && cut.endsWith("…")).toBe(true);
    expect(cut.length).toBeLessThanOrEqual(102);
    expect(excerpt("short", "x")).toBe("short");
  });
});
