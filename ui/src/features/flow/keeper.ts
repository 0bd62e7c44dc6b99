// The open flow's unsaved edits, saved before the canvas is left for
// another workspace (the canvas remounts there, so nothing may be pending).

type Keep = () => Promise<boolean>;

let mounted: Keep | null = null;

/** The mounted canvas's keeper; the returned function unregisters it. */
export function registerKeeper(keep: Keep): () => void {
  mounted = keep;
  return () => {
    if (mounted === keep) mounted = null;
  };
}

/** Saves the open flow's unsaved edits; false when they could not be saved
 * (the canvas says why, and stays). */
export function keepOpenFlow(): Promise<boolean> {
  return mounted ? mounted() : Promise.resolve(true);
}
