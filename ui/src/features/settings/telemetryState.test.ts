import { describe, expect, it } from "vitest";

import { otlpConfig, otlpDraft, otlpDraftProblem, parseHeaders, switchProtocol } from "./telemetryState";

describe("the telemetry endpoint form", () => {
  it("suggests a free name and the local collector's HTTP port", () => {
    expect(otlpDraft([]).name).toBe("collector");
    expect(otlpDraft(["collector", "collector-2"]).name).toBe("collector-3");
    const grpc = switchProtocol(otlpDraft([]), "grpc");
    expect(grpc.endpoint).toBe("http://127.0.0.1:4317");
    expect(switchProtocol(grpc, "http/protobuf").endpoint).toBe("http://127.0.0.1:4318");
  });

  it("reads headers one per line and names the bad line", () => {
    expect(parseHeaders("x-team: core\n\nX-Env:  prod ")).toEqual({ headers: { "x-team": "core", "X-Env": "prod" }, problem: null });
    expect(parseHeaders("x-team core").problem).toBe("line 1 is not `Name: value`");
  });

  it("refuses a taken name, a URL without a scheme and a bad header, then builds the entry", () => {
    const draft = { ...otlpDraft([]), secretName: "langfuse-auth", headers: "x-team: core" };
    expect(otlpDraftProblem(draft, ["collector"])).toMatch(/exists/);
    expect(otlpDraftProblem({ ...draft, endpoint: "127.0.0.1:4318" }, [])).toMatch(/http/);
    expect(otlpDraftProblem({ ...draft, headers: "nonsense" }, [])).toMatch(/line 1/);
    expect(otlpDraftProblem(draft, [])).toBeNull();
    expect(otlpConfig(draft)).toMatchObject({ name: "collector", protocol: "http/protobuf", headers: { "x-team": "core" }, secret_headers: { Authorization: "langfuse-auth" }, capture_content: false });
    expect(otlpConfig({ ...draft, secretName: " " }).secret_headers).toEqual({});
  });
});
