// Leaving the canvas for another workspace (the canvas remounts there):
// the open flow's unsaved edits are saved first, and a run going on in it
// keeps it (stop it or let it finish).

interface Canvas {
  /** Saves unsaved edits; false when they could not be (the canvas says why). */
  keep: () => Promise<boolean>;
  /** Why the canvas cannot be left now, or null. */
  busy: () => string | null;
}

let mounted: Canvas | null = null;

/** The mounted canvas; the returned function unregisters it. */
export function registerCanvas(canvas: Canvas): () => void {
  mounted = canvas;
  return () => {
    if (mounted === canvas) mounted = null;
  };
}

/** Readies the canvas to be left: null when it may be, else why not. */
export async function leaveOpenFlow(): Promise<string | null> {
  if (!mounted) return null;
  const busy = mounted.busy();
  if (busy) return busy;
  return (await mounted.keep()) ? null : "the open flow has unsaved edits that could not be saved — save or undo them first";
}
