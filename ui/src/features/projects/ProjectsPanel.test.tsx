import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { IngestReport } from "@/ipc/bindings";
import { ProjectsPanel } from "./ProjectsPanel";

const report: IngestReport = {
  project: "lumen-docs",
  root: "/home/me/lumen-docs",
  revision: null,
  git: false,
  files_seen: 6,
  files_indexed: 5,
  files_unchanged: 0,
  files_removed: 0,
  chunks_added: 14,
  chunks_reused: 0,
  chunks_total: 14,
  skipped: [{ path: "docs/logo.png", reason: "binary file" }],
  elapsed_ms: 900,
  timings: { read_ms: 10, embed_ms: 700, store_ms: 150 },
};

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("ProjectsPanel", () => {
  it("marks watched projects and stops a watch on request", () => {
    const stopped: string[] = [];
    const project = { name: "lumen", root: "/l", files: 5, chunks: 14, updated_at: 0 };
    render(
      <ProjectsPanel
        projects={[project, { ...project, name: "other" }]}
        selected={null}
        onSelect={() => {}}
        onIngested={() => {}}
        watching={["lumen"]}
        onUnwatch={(name) => stopped.push(name)}
      />,
    );
    const badges = screen.getAllByTestId("watch-state");
    expect(badges).toHaveLength(1);
    act(() => badges[0]?.click());
    expect(stopped).toEqual(["lumen"]);
  });

  it("ingests a folder dropped onto the window and reports the result", async () => {
    const ingested: unknown[] = [];
    let refreshed = 0;
    mockWindows("main");
    mockIPC(
      (cmd, payload) => {
        if (cmd === "path_kinds") return (payload as { paths: string[] }).paths.map((path) => (path.includes(".") ? "file" : "folder"));
        if (cmd === "ingest") {
          ingested.push(payload);
          return report;
        }
        if (cmd === "ingest_files") {
          ingested.push(payload);
          return { added: ["notes.md"], refused: [{ path: "/home/me/photo.png", reason: "binary file" }], report: { ...report, project: "files" } };
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    render(<ProjectsPanel projects={[]} selected={null} onSelect={() => {}} onIngested={() => (refreshed += 1)} />);
    // Let the drag-and-drop listeners register.
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
    await act(async () => {
      await emit("tauri://drag-drop", { paths: ["/home/me/lumen-docs"], position: { x: 10, y: 10 } });
    });
    await waitFor(() => expect(screen.getByTestId("ingest-status").dataset.status).toBe("done"));
    expect(ingested[0]).toMatchObject({ path: "/home/me/lumen-docs", project: null });
    expect(screen.getByTestId("ingest-report").textContent).toContain("5 indexed");
    expect(screen.getByTestId("ingest-report").textContent).toContain("skipped docs/logo.png: binary file");
    expect(refreshed).toBe(1);
    // Several at once: the folder first, then the single files together into `files`.
    await act(async () => {
      await emit("tauri://drag-drop", { paths: ["/home/me/notes.md", "/home/me/other", "/home/me/photo.png"], position: { x: 10, y: 10 } });
    });
    await waitFor(() => expect(ingested).toHaveLength(3));
    expect(ingested[1]).toMatchObject({ path: "/home/me/other" });
    expect(ingested[2]).toMatchObject({ paths: ["/home/me/notes.md", "/home/me/photo.png"] });
    await waitFor(() => expect(screen.getByTestId("drop-note").textContent).toBe("Not ingested: photo.png (binary file)"));
  });

  it("sends a typed file path into `files` and a typed clone URL to the ingest", async () => {
    const calls: Array<{ cmd: string; payload: unknown }> = [];
    mockWindows("main");
    mockIPC((cmd, payload) => {
      calls.push({ cmd, payload });
      if (cmd === "path_kinds") return ["file"];
      if (cmd === "ingest_files") return { added: ["notes.md"], refused: [], report: { ...report, project: "files" } };
      if (cmd === "ingest") return report;
      return null;
    });
    render(<ProjectsPanel projects={[]} selected={null} onSelect={() => {}} onIngested={() => {}} />);
    const input = screen.getByTestId("ingest-path");
    fireEvent.change(input, { target: { value: " /home/me/notes.md " } });
    fireEvent.click(screen.getByTestId("ingest-button"));
    await waitFor(() => expect(calls.find((call) => call.cmd === "ingest_files")?.payload).toMatchObject({ paths: ["/home/me/notes.md"] }));
    fireEvent.change(input, { target: { value: "https://example.com/repo.git" } });
    fireEvent.click(screen.getByTestId("ingest-button"));
    await waitFor(() => expect(calls.find((call) => call.cmd === "ingest")?.payload).toMatchObject({ path: "https://example.com/repo.git" }));
  });
});
