import type { ProjectSummary } from "@/ipc/bindings";
import { cn } from "@/lib/utils";
import { ProjectLabel } from "@/features/projects/ProjectLabel";

import type { Access } from "./workspace";

/** The projects panel while a server's workspace is open: its projects,
 * ingested on the server; one picked narrows the chat's asks to it. */
export function ServerProjects({ access, projects, selected, onSelect }: { access: Access; projects: ProjectSummary[]; selected: string | null; onSelect: (name: string | null) => void }) {
  return (
    <div className="flex h-full flex-col gap-3 p-3" data-testid="server-projects">
      <div>
        <h2 className="text-sm font-semibold">Projects of {access.workspace}</h2>
        <p className="text-xs text-muted-foreground">
          Ingested on {access.server} (run <code>codexos ingest</code> with the workspace&apos;s home there). The chat asks them; this machine&apos;s projects come back with “This machine” in the header.
        </p>
      </div>
      <div className="flex-1 space-y-1 overflow-y-auto" data-testid="project-list">
        <button type="button" className={cn("w-full rounded-md px-2 py-1.5 text-left text-sm hover:bg-muted", selected === null && "bg-muted")} onClick={() => onSelect(null)}>
          All projects
        </button>
        {projects.length === 0 && <p className="px-2 text-xs text-muted-foreground">No project is ingested in {access.workspace} yet.</p>}
        {projects.map((project) => (
          <button
            key={project.name}
            type="button"
            data-testid="project"
            title={`${project.root} on the server`}
            className={cn("w-full rounded-md px-2 py-1.5 text-left hover:bg-muted", selected === project.name && "bg-muted")}
            onClick={() => onSelect(project.name)}
          >
            <ProjectLabel project={project} />
          </button>
        ))}
      </div>
    </div>
  );
}
