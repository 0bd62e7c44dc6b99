import { describe, expect, it } from "vitest";

import { session } from "./fixtures";
import { can, forkTargets, lineage, parseShareLink, roleIn, triggerWhen, workspaces } from "./team";

describe("team", () => {
  it("reads roles and grants, the grant winning on its flow", () => {
    expect(workspaces(session)).toEqual(["team", "other"]);
    expect(roleIn(session, "team")?.role).toBe("executor");
    expect(can(session, "team", "run", "gate")).toBe(true);
    expect(can(session, "team", "run", "draft")).toBe(false);
    expect(can(session, "team", "edit")).toBe(false);
    expect(can(session, "nowhere", "view")).toBe(false);
    expect(forkTargets(session, "team")).toEqual(["other"]);
    expect(forkTargets(session, "other")).toEqual([]);
  });

  it("reads share links as pasted and refuses anything else", () => {
    const link = "0123456789abcdef-0123456789abcdef0123456789abcdef";
    expect(parseShareLink(`codexos://share?server=http%3A%2F%2F127.0.0.1%3A7420&link=${link}`, "")).toEqual({ server: "http://127.0.0.1:7420", link });
    expect(parseShareLink(`http://10.0.0.2:7420/share/${link}`, "")).toEqual({ server: "http://10.0.0.2:7420", link });
    expect(parseShareLink(link, "http://s:1")).toEqual({ server: "http://s:1", link });
    expect(parseShareLink(link, "")).toBeNull();
    expect(parseShareLink("javascript:alert(1)", "http://s:1")).toBeNull();
  });

  it("says where a fork came from", () => {
    expect(lineage(null)).toBeNull();
    expect(lineage({ origin: "workspace:team", flow: "gate", version: 3 })).toBe("forked from workspace:team › gate v3");
    expect(lineage({ origin: "bundle:kit", flow: "gate", version: 0, signer: "ab12" })).toBe("forked from bundle:kit › gate, signed by ab12");
  });

  it("says when a trigger fires next and when it last did, in UTC", () => {
    const at = Date.UTC(2026, 11, 6, 9, 0);
    expect(triggerWhen({ nextAtMs: at, firedAtMs: null, lastRun: null })).toBe("next 2026-12-06 09:00 UTC · never fired");
    expect(triggerWhen({ nextAtMs: null, firedAtMs: at, lastRun: "3cf30aee-83f1" })).toBe("last fired 2026-12-06 09:00 UTC (run 3cf30aee)");
  });
});
