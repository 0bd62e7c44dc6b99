// The Tauri isolation application: every IPC message from the window passes
// through this hook, in a sandboxed frame the window's scripts cannot reach,
// before Tauri encrypts it for the core. It lets through only the shapes the
// app sends: its own commands (snake_case names) and the core plugins'
// `plugin:event|…`, `plugin:window|…`, `plugin:webview|…`, `plugin:app|…`.
// Anything else (a compromised dependency calling another plugin) is sent on
// renamed, so the core refuses it and the caller's promise rejects.
const ALLOWED = /^(?:[a-z][a-z0-9_]*|plugin:(?:event|window|webview|app|resources|path|menu|image|tray)\|[a-z][a-z0-9_]*)$/;

window.__TAURI_ISOLATION_HOOK__ = (payload) => {
  if (payload && typeof payload.cmd === "string" && ALLOWED.test(payload.cmd)) {
    return payload;
  }
  console.error("CodexOS isolation: refused an IPC message", payload && payload.cmd);
  return { ...payload, cmd: "refused_by_the_isolation_hook", payload: {} };
};
