import { X } from "lucide-react";
import { useEffect, useRef, useState } from "react";

import { Button } from "@/components/ui/button";
import { commands, type FilePreview, type IpcError } from "@/ipc/bindings";
import { toIpcError } from "@/ipc/client";
import { cn } from "@/lib/utils";

/** What to preview: a project's file, optionally with lines to highlight. */
export interface PreviewTarget {
  project: string;
  path: string;
  startLine?: number;
  endLine?: number;
  /** A project of the server's workspace open (read there). */
  server?: boolean;
}

export function FilePreviewPanel({ target, onClose }: { target: PreviewTarget; onClose: () => void }) {
  const [preview, setPreview] = useState<FilePreview | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const firstHighlighted = useRef<HTMLDivElement | null>(null);

  useEffect(() => {
    let current = true;
    setPreview(null);
    setError(null);
    (target.server ? commands.workspaceFilePreview(target.project, target.path) : commands.filePreview(target.project, target.path))
      .then((result) => {
        if (!current) return;
        if (result.status === "ok") setPreview(result.data);
        else setError(result.error);
      })
      .catch((caught: unknown) => current && setError(toIpcError(caught)));
    return () => {
      current = false;
    };
  }, [target.project, target.path, target.server]);

  useEffect(() => {
    firstHighlighted.current?.scrollIntoView({ block: "center" });
  }, [preview, target.startLine]);

  const lines = preview?.text.split("\n") ?? [];
  const highlighted = (line: number) =>
    target.startLine !== undefined && target.endLine !== undefined && line >= target.startLine && line <= target.endLine;

  return (
    <div className="absolute inset-3 z-10 flex flex-col rounded-lg border border-border bg-card shadow-xl" data-testid="file-preview">
      <div className="flex items-center justify-between border-b border-border px-3 py-2">
        <div className="truncate font-mono text-xs">
          <span className="text-muted-foreground">{target.project}/</span>
          {target.path}
          {target.startLine !== undefined && (
            <span className="text-primary">
              {" "}:{target.startLine}-{target.endLine}
            </span>
          )}
        </div>
        <Button variant="ghost" size="sm" aria-label="Close preview" onClick={onClose}>
          <X />
        </Button>
      </div>
      <div className="flex-1 overflow-auto p-2 font-mono text-xs">
        {error && <div className="text-destructive">{error.message}</div>}
        {!preview && !error && <div className="text-muted-foreground">Loading…</div>}
        {lines.map((line, index) => {
          const number = index + 1;
          const marked = highlighted(number);
          return (
            <div
              key={number}
              ref={marked && number === target.startLine ? firstHighlighted : undefined}
              className={cn("flex whitespace-pre-wrap", marked && "bg-primary/15")}
            >
              <span className="w-12 shrink-0 select-none pr-3 text-right text-muted-foreground">{number}</span>
              <span>{line}</span>
            </div>
          );
        })}
        {preview?.truncated && <div className="mt-2 text-muted-foreground">(preview cut at 256 KiB)</div>}
      </div>
    </div>
  );
}
