import { FolderOpen } from "lucide-react";

import type { ProjectSummary } from "@/ipc/bindings";

/** A project as listed: its name, files and chunks. */
export function ProjectLabel({ project }: { project: ProjectSummary }) {
  return (
    <>
      <div className="flex items-center gap-2 text-sm">
        <FolderOpen className="size-4 text-primary" />
        <span className="flex-1 truncate">{project.name}</span>
      </div>
      <div className="pl-6 text-[11px] text-muted-foreground">
        {project.files} file{project.files === 1 ? "" : "s"} · {project.chunks} chunk{project.chunks === 1 ? "" : "s"}
      </div>
    </>
  );
}
