import { describe, expect, it } from "vitest";

import { applyIngestEvent, fraction, planDrop, startIngest } from "./ingestState";

describe("ingest progress", () => {
  it("goes from unknown to complete", () => {
    let state = startIngest("/docs");
    expect(fraction(state)).toBeNull();
    state = applyIngestEvent(state, { type: "scanned", project: "docs", total: 4 });
    expect(fraction(state)).toBe(0);
    state = applyIngestEvent(state, { type: "skipped", file: { path: "a.bin", reason: "binary file" } });
    state = applyIngestEvent(state, { type: "progress", done: 2, total: 4, path: "b.md" });
    expect(fraction(state)).toBe(0.5);
    expect(state.current).toBe("b.md");
    expect(state.skipped).toBe(1);
  });

  it("counts files sent to a server, then files indexed there", () => {
    let state = applyIngestEvent(startIngest("/repo"), { type: "uploading", done: 1, total: 4, path: "" });
    expect(state.phase).toBe("upload");
    expect(fraction(state)).toBe(0.25);
    state = applyIngestEvent(state, { type: "uploading", done: 4, total: 4, path: "src/lib.rs" });
    expect(fraction(state)).toBe(1);
    state = applyIngestEvent(state, { type: "scanned", project: "repo", total: 4 });
    expect(state.phase).toBe("index");
    expect(fraction(state)).toBe(0);
  });

  it("treats an empty folder as done", () => {
    const state = applyIngestEvent(startIngest("/empty"), { type: "scanned", project: "e", total: 0 });
    expect(fraction(state)).toBe(1);
  });
});

describe("a drop", () => {
  it("sends folders, single files, models and missing paths each their own way", () => {
    const plan = planDrop(["/a", "/n.md", "/m.GGUF", "/gone", "/b", "/x.pdf"], ["folder", "file", "file", "missing", "folder", "file"], true);
    expect(plan).toEqual({ models: ["/m.GGUF"], folders: ["/a", "/b"], files: ["/n.md", "/x.pdf"], missing: ["/gone"] });
    // Without a model import, a .gguf is a file like any other (and refused there with its reason).
    expect(planDrop(["/m.gguf"], ["file"], false).files).toEqual(["/m.gguf"]);
    expect(planDrop(["/late"], [], true).missing).toEqual(["/late"]);
  });
});
