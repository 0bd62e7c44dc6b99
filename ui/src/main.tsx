import "./lib/locale";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import App from "./App";
import { commands } from "./ipc/bindings";
import "./index.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The first frame is on screen once the frame after the first render starts:
// tell the app (logged; the start-up benchmark waits for it).
requestAnimationFrame(() => requestAnimationFrame(() => void commands.uiPainted().catch(() => undefined)));
