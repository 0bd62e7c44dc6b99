import { describe, expect, it } from "vitest";

import { canRedo, canUndo, record, redo, start, undo } from "./history";

describe("the undo stack", () => {
  it("undoes and redoes edits in order", () => {
    let history = start("a");
    history = record(history, "b");
    history = record(history, "c");
    expect(canUndo(history)).toBe(true);
    history = undo(history);
    expect(history.present).toBe("b");
    history = undo(history);
    expect(history.present).toBe("a");
    expect(canUndo(history)).toBe(false);
    expect(undo(history)).toBe(history);
    history = redo(history);
    history = redo(history);
    expect(history.present).toBe("c");
    expect(canRedo(history)).toBe(false);
    expect(redo(history)).toBe(history);
  });

  it("drops the redo branch on a new edit and ignores no-op edits", () => {
    let history = record(record(start(1), 2), 3);
    history = undo(history);
    history = record(history, 4);
    expect(history).toEqual({ past: [1, 2], present: 4, future: [] });
    expect(record(history, 4)).toBe(history);
  });

  it("keeps at most the limit of steps", () => {
    let history = start(0);
    for (let step = 1; step <= 10; step += 1) history = record(history, step, 3);
    expect(history.past).toEqual([7, 8, 9]);
    history = undo(undo(undo(history)));
    expect(history.present).toBe(7);
    expect(canUndo(history)).toBe(false);
  });
});
