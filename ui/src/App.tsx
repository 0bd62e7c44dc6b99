import { BarChart3, Bot, Command, FlaskConical, Monitor, Moon, PanelLeft, PanelRight, Search, Settings, Sun, Users } from "lucide-react";
import { useCallback, useEffect, useMemo, useState } from "react";

import { Button } from "@/components/ui/button";

import { AgentsPanel } from "@/features/agents/AgentsPanel";
import { TeamPanel } from "@/features/team/TeamPanel";
import { WorkspaceSwitcher } from "@/features/team/WorkspaceSwitcher";
import { accessOf, type Access, type Place } from "@/features/team/workspace";
import { AnalyticsPanel } from "@/features/analytics/AnalyticsPanel";
import { EvalsPanel } from "@/features/evals/EvalsPanel";
import { ChatPanel } from "@/features/chat/ChatPanel";
import { FilePreviewPanel, type PreviewTarget } from "@/features/files/FilePreviewPanel";
import { FlowCanvas } from "@/features/flow/FlowCanvas";
import { leaveOpenFlow } from "@/features/flow/keeper";
import { clampWidth, gridColumns, loadPanels, savePanels, type Panels } from "@/features/layout/panels";
import { ResizeHandle } from "@/features/layout/ResizeHandle";
import { useActions, type Action } from "@/features/palette/actions";
import { CommandPalette } from "@/features/palette/CommandPalette";
import { ProjectsPanel } from "@/features/projects/ProjectsPanel";
import { Toasts } from "@/features/notify/Toasts";
import { SearchPanel } from "@/features/search/SearchPanel";
import { useTheme, type ThemeChoice } from "@/features/theme/theme";
import { Onboarding } from "@/features/onboarding/Onboarding";
import { SettingsPanel, type Tab as SettingsTab } from "@/features/settings/SettingsPanel";
import { ApprovalDialog } from "@/features/tools/ApprovalDialog";
import { modelChoices, serverModelChoices } from "@/features/settings/settingsState";
import { commands, events, type AppInfo, type IpcError, type LlmSettings, type ProjectSummary, type TeamSession_Serialize as TeamSession, type LinkOpened } from "@/ipc/bindings";
import { inTauri, toIpcError } from "@/ipc/client";

export default function App() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [fatal, setFatal] = useState<IpcError | null>(null);
  const [projects, setProjects] = useState<ProjectSummary[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [watching, setWatching] = useState<string[]>([]);
  const [preview, setPreview] = useState<PreviewTarget | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [settingsTab, setSettingsTab] = useState<SettingsTab>("providers");
  const [searchOpen, setSearchOpen] = useState(false);
  const [agentsOpen, setAgentsOpen] = useState(false);
  const [teamOpen, setTeamOpen] = useState(false);
  // A codexos:// link the system opened: shown in the Team panel, to open there.
  const [opened, setOpened] = useState<LinkOpened | null>(null);
  const [evalsOpen, setEvalsOpen] = useState(false);
  const [analyticsOpen, setAnalyticsOpen] = useState(false);
  const { choice: themeChoice, theme, choose: chooseTheme } = useTheme();
  const [llm, setLlm] = useState<LlmSettings | null>(null);
  const [model, setModel] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // The team servers signed in to, and the workspace open in the canvas.
  const [sessions, setSessions] = useState<TeamSession[]>([]);
  const refreshSessions = useCallback(() => {
    void commands.teamSessions().then((result) => result.status === "ok" && setSessions(result.data));
  }, []);
  const [access, setAccess] = useState<Access | null>(null);
  const [switching, setSwitching] = useState(false);
  const openWorkspace = useCallback(async (place: Place | null) => {
    // The canvas remounts on the other side: its unsaved edits are saved
    // first, and a run going on keeps it.
    const refused = await leaveOpenFlow();
    if (refused) return setNotice(refused);
    setSwitching(true);
    await commands
      .workspaceOpen(place?.server ?? null, place?.workspace ?? null)
      .then((result) => {
        if (result.status === "ok") setAccess(accessOf(result.data));
        else setNotice(result.error.message);
      })
      .catch((error: unknown) => setNotice(toIpcError(error).message))
      .finally(() => setSwitching(false));
  }, []);
  // A sign-in or sign-out on the server of the open workspace brings the
  // backend back to this machine (another account may not see it; other
  // servers' sessions stay): the window follows what the backend says.
  const adoptSession = useCallback(() => {
    refreshSessions();
    void commands.workspaceCurrent().then((result) => setAccess(result.status === "ok" ? accessOf(result.data) : null));
  }, [refreshSessions]);
  const [panels, setPanels] = useState<Panels>(() => loadPanels(typeof localStorage === "undefined" ? undefined : localStorage));
  const layout = useCallback((change: Partial<Panels>) => {
    setPanels((current) => {
      const next = { ...current, ...change };
      savePanels(typeof localStorage === "undefined" ? undefined : localStorage, next);
      return next;
    });
  }, []);

  const refreshLlm = useCallback(() => {
    commands
      .llmSettings()
      .then((result) => {
        if (result.status === "ok") setLlm(result.data);
      })
      .catch((error: unknown) => setFatal(toIpcError(error)));
  }, []);

  const importModel = useCallback(
    (path: string) => {
      setNotice(`importing ${path}…`);
      commands
        .importModel(path)
        .then((result) => {
          setNotice(result.status === "ok" ? `imported ${result.data.path}` : result.error.message);
          refreshLlm();
        })
        .catch((error: unknown) => setNotice(toIpcError(error).message));
    },
    [refreshLlm],
  );

  const refreshProjects = useCallback(() => {
    commands
      .projects()
      .then((result) => {
        if (result.status === "ok") setProjects(result.data);
      })
      .catch((error: unknown) => setFatal(toIpcError(error)));
    commands
      .watches()
      .then((result) => {
        if (result.status === "ok") setWatching(result.data.map((watch) => watch.project));
      })
      .catch((error: unknown) => setFatal(toIpcError(error)));
  }, []);

  // A server's workspace opened: its projects are listed, none picked.
  const where = access ? `${access.server}|${access.workspace}` : "here";
  const [serverProjects, setServerProjects] = useState<ProjectSummary[]>([]);
  const [serverProject, setServerProject] = useState<string | null>(null);
  // What the panels are told of the server's workspace open (stable objects:
  // the panels' callbacks depend on them).
  const projectsPlace = useMemo(() => (access ? { server: access.server, workspace: access.workspace, role: access.role, canEdit: access.permissions.includes("edit") } : null), [access]);
  const vaultPlace = useMemo(() => (access ? { label: `${access.workspace} on ${access.server}`, role: access.role, canList: access.permissions.includes("edit"), canSet: access.permissions.includes("secrets"), canRun: access.permissions.includes("run") } : null), [access]);
  const evalsPlace = useMemo(() => (access ? { label: `${access.workspace} on ${access.server}`, canRun: access.permissions.includes("run"), canEdit: access.permissions.includes("edit") } : null), [access]);
  const agentsPlace = useMemo(() => (access ? { label: `${access.workspace} on ${access.server}`, canEdit: access.permissions.includes("edit"), role: access.role } : null), [access]);
  // The models the server's workspace answers chats with.
  const [serverModels, setServerModels] = useState<string[]>([]);
  const [serverModel, setServerModel] = useState<string | null>(null);
  const refreshServerProjects = useCallback(() => {
    void commands.workspaceProjects().then((result) => {
      if (result.status === "ok") setServerProjects(result.data);
      else setNotice(result.error.message);
    });
  }, []);
  const refreshServerModels = useCallback(() => {
    void commands.workspaceModels().then((result) => {
      if (result.status === "ok") setServerModels(result.data);
    });
  }, []);
  useEffect(() => {
    setServerProject(null);
    setServerProjects([]);
    setServerModels([]);
    setServerModel(null);
    setPreview(null);
    if (where === "here") return;
    refreshServerProjects();
    refreshServerModels();
  }, [where, refreshServerProjects, refreshServerModels]);

  // Links opened from outside (at start, or later through a second launch).
  useEffect(() => {
    if (!inTauri()) return;
    const take = () =>
      void commands.linkPending().then((link) => {
        if (link) {
          setOpened(link);
          setTeamOpen(true);
        }
      });
    take();
    const stop = events.linkOpened.listen(take);
    return () => void stop.then((unlisten) => unlisten());
  }, []);

  // Watched folders report every re-index; keep counts and watch badges live.
  useEffect(() => {
    if (!inTauri()) return;
    const stops = [
      events.projectUpdated.listen(() => refreshProjects()),
      events.watchStopped.listen((event) => {
        if (event.payload.error) setFatal(event.payload.error);
        refreshProjects();
      }),
    ];
    return () => {
      for (const stop of stops) void stop.then((unlisten) => unlisten());
    };
  }, [refreshProjects]);

  const [paletteOpen, setPaletteOpen] = useState(false);
  const appActions = useMemo<Action[]>(
    () => [
      { id: "search", group: "View", title: "Search the projects", shortcut: "Ctrl+Shift+F", keywords: "find grep", run: () => setSearchOpen(true) },
      { id: "agents", group: "View", title: "Edit and publish agents", keywords: "agent sub-agent version pin publish", run: () => setAgentsOpen(true) },
      { id: "team", group: "View", title: "Team server: sign in, run, share, fork, open a shared run", keywords: "team server share link fork workspace role sign in", run: () => setTeamOpen(true) },
      { id: "analytics", group: "View", title: "Analytics: runs, tokens, cost and latency", keywords: "dashboard analytics cost tokens latency failures fallback chart", run: () => setAnalyticsOpen(true) },
      { id: "evals", group: "View", title: "Evals: run a flow over a dataset, scores, baselines", keywords: "eval evaluation dataset score judge baseline regression ci test", run: () => setEvalsOpen(true) },
      { id: "settings", group: "View", title: "Open settings", keywords: "preferences providers models tools vault", run: () => setSettingsOpen(true) },
      {
        id: "audit",
        group: "View",
        title: "Audit log: every change and secret use",
        keywords: "audit security log secret history who changed verify tamper",
        run: () => {
          setSettingsTab("audit");
          setSettingsOpen(true);
        },
      },
      {
        id: "telemetry",
        group: "View",
        title: "Telemetry: OpenTelemetry endpoints",
        keywords: "otel otlp opentelemetry traces export langfuse jaeger",
        run: () => {
          setSettingsTab("telemetry");
          setSettingsOpen(true);
        },
      },
      { id: "toggle-projects", group: "View", title: panels.leftOpen ? "Hide the projects panel" : "Show the projects panel", run: () => layout({ leftOpen: !panels.leftOpen }) },
      { id: "toggle-chat", group: "View", title: panels.rightOpen ? "Hide the chat panel" : "Show the chat panel", run: () => layout({ rightOpen: !panels.rightOpen }) },
      {
        id: "focus-chat",
        group: "Chat",
        title: "Ask about the project",
        keywords: "question chat",
        run: () => {
          layout({ rightOpen: true });
          setTimeout(() => document.querySelector<HTMLElement>('[data-testid="chat-input"]')?.focus(), 0);
        },
      },
      {
        id: "ingest",
        group: "Projects",
        title: "Ingest a folder or git URL",
        keywords: "add project index",
        run: () => {
          layout({ leftOpen: true });
          setTimeout(() => document.querySelector<HTMLElement>('[data-testid="ingest-path"]')?.focus(), 0);
        },
      },
      ...projects.map((project) => ({ id: `project-${project.name}`, group: "Projects", title: `Select ${project.name}`, run: () => setSelected(project.name) })),
      { id: "all-projects", group: "Projects", title: "Select all projects", run: () => setSelected(null) },
      ...(["system", "light", "dark"] as ThemeChoice[]).map((option) => ({
        id: `theme-${option}`,
        group: "View",
        title: option === "system" ? "Theme: follow the OS" : `Theme: ${option}`,
        keywords: "appearance colour color mode",
        disabled: themeChoice === option,
        run: () => chooseTheme(option),
      })),
    ],
    [panels, layout, projects, themeChoice, chooseTheme],
  );
  useActions("app", appActions);

  // Ctrl/Cmd+Shift+F opens search, as in editors; Ctrl/Cmd+K the command palette.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.shiftKey && event.key.toLowerCase() === "f") {
        event.preventDefault();
        setSearchOpen(true);
      }
      if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        setPaletteOpen((open) => !open);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    commands
      .appInfo()
      .then((result) => (result.status === "ok" ? setInfo(result.data) : setFatal(result.error)))
      .catch((error: unknown) => setFatal(toIpcError(error)));
    refreshProjects();
    refreshLlm();
    if (inTauri()) refreshSessions();
  }, [refreshProjects, refreshLlm, refreshSessions]);

  return (
    <div className="flex h-full flex-col">
      <header className="flex items-center justify-between border-b border-border px-4 py-2">
        <div className="flex items-center gap-2">
          <img src="/icon.png" alt="" className="size-6" />
          <span className="font-semibold">CodexOS</span>
          <span className="text-xs text-muted-foreground">local-first agent command center</span>
        </div>
        <div className="flex items-center gap-2">
          <WorkspaceSwitcher sessions={sessions} access={access} busy={switching} onOpen={(place) => void openWorkspace(place)} />
          <div className="truncate font-mono text-[11px] text-muted-foreground" title="data home">
            {info ? `${info.home} · v${info.version}` : ""}
          </div>
          <Button
            size="icon"
            variant="ghost"
            aria-label={panels.leftOpen ? "Hide projects" : "Show projects"}
            aria-pressed={panels.leftOpen}
            title={panels.leftOpen ? "Hide projects" : "Show projects"}
            data-testid="toggle-projects"
            onClick={() => layout({ leftOpen: !panels.leftOpen })}
          >
            <PanelLeft />
          </Button>
          <Button
            size="icon"
            variant="ghost"
            aria-label={panels.rightOpen ? "Hide chat" : "Show chat"}
            aria-pressed={panels.rightOpen}
            title={panels.rightOpen ? "Hide chat" : "Show chat"}
            data-testid="toggle-chat"
            onClick={() => layout({ rightOpen: !panels.rightOpen })}
          >
            <PanelRight />
          </Button>
          <Button
            size="sm"
            variant="ghost"
            aria-label="Command palette (Ctrl+K)"
            title="Command palette (Ctrl+K)"
            data-testid="open-palette"
            className="text-xs text-muted-foreground"
            onClick={() => setPaletteOpen(true)}
          >
            <Command className="size-3.5" /> K
          </Button>
          <Button
            size="icon"
            variant="ghost"
            aria-label="Search (Ctrl+Shift+F)"
            title="Search (Ctrl+Shift+F)"
            data-testid="open-search"
            onClick={() => setSearchOpen(true)}
          >
            <Search />
          </Button>
          <Button
            size="icon"
            variant="ghost"
            aria-label={`Theme: ${themeChoice === "system" ? `follows the OS (${theme})` : theme}`}
            title={`Theme: ${themeChoice === "system" ? `follows the OS (${theme})` : theme} — click to change`}
            data-testid="theme-toggle"
            data-theme-choice={themeChoice}
            onClick={() => chooseTheme(themeChoice === "system" ? "light" : themeChoice === "light" ? "dark" : "system")}
          >
            {themeChoice === "system" ? <Monitor /> : themeChoice === "light" ? <Sun /> : <Moon />}
          </Button>
          <Button size="icon" variant="ghost" aria-label="Analytics" title="Analytics" data-testid="open-analytics" onClick={() => setAnalyticsOpen(true)}>
            <BarChart3 />
          </Button>
          <Button size="icon" variant="ghost" aria-label="Evals" title="Evals" data-testid="open-evals" onClick={() => setEvalsOpen(true)}>
            <FlaskConical />
          </Button>
          <Button size="icon" variant="ghost" aria-label="Agents" title="Agents" data-testid="open-agents" onClick={() => setAgentsOpen(true)}>
            <Bot />
          </Button>
          <Button size="icon" variant="ghost" aria-label="Team server" title="Team server" data-testid="open-team" onClick={() => setTeamOpen(true)}>
            <Users />
          </Button>
          <Button size="icon" variant="ghost" aria-label="Settings" data-testid="open-settings" onClick={() => setSettingsOpen(true)}>
            <Settings />
          </Button>
        </div>
      </header>
      <Onboarding
        settings={llm}
        onOpenModels={() => {
          setSettingsTab("models");
          setSettingsOpen(true);
        }}
      />
      {notice && (
        <div className="border-b border-border bg-muted px-4 py-1 text-xs" role="status" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      {fatal && (
        <div className="border-b border-destructive bg-destructive/15 px-4 py-2 text-sm" role="alert">
          {fatal.message}
        </div>
      )}
      <main className="relative grid min-h-0 flex-1" style={{ gridTemplateColumns: gridColumns(panels) }}>
        {/* Evals need the whole width: a report beside its form and a case table. */}
        {evalsOpen && <EvalsPanel key={where} project={access ? serverProject : selected} server={evalsPlace} onClose={() => setEvalsOpen(false)} />}
        <aside className="relative min-h-0 border-r border-border" hidden={!panels.leftOpen} aria-label="Projects panel">
          <ResizeHandle label="Resize projects" width={panels.left} sign={1} testId="resize-projects" onResize={(width) => layout({ left: clampWidth(width) })} />
          {access ? (
            <ProjectsPanel
              key={where}
              server={projectsPlace}
              projects={serverProjects}
              selected={serverProject}
              onSelect={setServerProject}
              onIngested={refreshServerProjects}
              onOpenFile={(project, path) => setPreview({ project, path, server: true })}
              onDropModel={importModel}
            />
          ) : (
            <ProjectsPanel
              projects={projects}
              selected={selected}
              onSelect={setSelected}
              onIngested={refreshProjects}
              watching={watching}
              onOpenFile={(project, path) => setPreview({ project, path })}
              onUnwatch={(project) => void commands.unwatch(project).then(refreshProjects)}
              onDropModel={importModel}
            />
          )}
        </aside>
        <section className="relative min-h-0 min-w-0">
          <FlowCanvas key={access ? `${access.server}|${access.workspace}` : "here"} project={access ? null : selected} theme={theme} access={access} />
          {searchOpen && (
            <SearchPanel
              key={where}
              projects={access ? serverProjects : projects}
              project={access ? serverProject : selected}
              server={access ? `${access.workspace} on ${access.server}` : null}
              onOpen={setPreview}
              onClose={() => setSearchOpen(false)}
            />
          )}
          {preview && <FilePreviewPanel target={preview} onClose={() => setPreview(null)} />}
          {analyticsOpen && <AnalyticsPanel key={where} dark={theme === "dark"} server={access ? `${access.workspace} on ${access.server}` : null} onClose={() => setAnalyticsOpen(false)} />}
          {teamOpen && (
            <TeamPanel
              opened={opened}
              onClose={() => {
                setTeamOpen(false);
                setOpened(null);
              }}
              onSession={adoptSession}
            />
          )}
          {agentsOpen && (
            <AgentsPanel
              key={where}
              projects={access ? serverProjects : projects}
              models={access ? serverModelChoices(serverModels) : modelChoices(llm)}
              server={agentsPlace}
              onClose={() => setAgentsOpen(false)}
            />
          )}
          {settingsOpen && (
            <SettingsPanel
              key={where}
              initialTab={settingsTab}
              onClose={() => {
                setSettingsOpen(false);
                setSettingsTab("providers");
              }}
              onChanged={access ? refreshServerModels : refreshLlm}
              project={selected}
              server={vaultPlace}
            />
          )}
          <ApprovalDialog />
          <Toasts />
          {paletteOpen && <CommandPalette onClose={() => setPaletteOpen(false)} />}
        </section>
        <aside className="relative min-h-0 border-l border-border" hidden={!panels.rightOpen} aria-label="Chat panel">
          <ResizeHandle label="Resize chat" width={panels.right} sign={-1} testId="resize-chat" onResize={(width) => layout({ right: clampWidth(width) })} />
          <ChatPanel
            // Another workspace: a new conversation (the open one asks the other side).
            key={where}
            project={access ? serverProject : selected}
            server={access ? `${access.workspace} on ${access.server}` : null}
            refusal={access && !access.permissions.includes("run") ? `Your role (${access.role}) in ${access.workspace} reads conversations' runs but may not ask or chat there` : null}
            model={access ? serverModel : model}
            picker={
              <select
                className="max-w-[14rem] truncate rounded border border-border bg-background px-1 py-0.5 text-xs text-foreground"
                aria-label={access ? `Model of ${access.workspace}` : "Model"}
                data-testid="model-picker"
                value={(access ? serverModel : model) ?? ""}
                onChange={(event) => (access ? setServerModel : setModel)(event.target.value === "" ? null : event.target.value)}
              >
                {(access ? serverModelChoices(serverModels) : modelChoices(llm)).map((choice) => (
                  <option key={choice.value ?? ""} value={choice.value ?? ""}>
                    {choice.label}
                  </option>
                ))}
              </select>
            }
            // A server's citations open its file, read there.
            onOpenCitation={(citation) =>
              setPreview({
                project: citation.project,
                path: citation.path,
                startLine: citation.page === null ? citation.start_line : undefined,
                endLine: citation.page === null ? citation.end_line : undefined,
                server: access !== null,
              })
            }
          />
        </aside>
      </main>
    </div>
  );
}
