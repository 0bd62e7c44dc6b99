import { getCurrentWebview } from "@tauri-apps/api/webview";
import { useEffect, useState } from "react";

import { inTauri } from "@/ipc/client";

/**
 * Listens for folders dropped onto the window (Tauri's native drag-and-drop,
 * which gives real paths) and reports whether something is being dragged over.
 */
export function useFolderDrop(onDrop: ((paths: string[]) => void) | null): boolean {
  const [hovering, setHovering] = useState(false);
  useEffect(() => {
    // Nothing to drop onto (a role that may not add projects): no listener.
    if (!inTauri() || !onDrop) return;
    let unlisten: (() => void) | undefined;
    let disposed = false;
    void getCurrentWebview()
      .onDragDropEvent((event) => {
        if (event.payload.type === "enter" || event.payload.type === "over") setHovering(true);
        else if (event.payload.type === "leave") setHovering(false);
        else if (event.payload.type === "drop") {
          setHovering(false);
          onDrop(event.payload.paths);
        }
      })
      .then((stop) => {
        if (disposed) stop();
        else unlisten = stop;
      });
    return () => {
      disposed = true;
      unlisten?.();
    };
  }, [onDrop]);
  return hovering;
}
