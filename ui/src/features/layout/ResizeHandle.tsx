import { useRef } from "react";

/** A vertical splitter: drag it, or focus it and use the arrow keys. `sign`
 * is +1 when moving right widens the panel (left panel), −1 otherwise. */
export function ResizeHandle({ label, width, sign, onResize, testId }: { label: string; width: number; sign: 1 | -1; onResize: (width: number) => void; testId: string }) {
  const drag = useRef<{ x: number; width: number } | null>(null);
  return (
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-valuenow={width}
      tabIndex={0}
      data-testid={testId}
      className="absolute inset-y-0 z-20 w-1.5 cursor-col-resize hover:bg-primary/40 focus-visible:bg-primary/60 focus-visible:outline-none"
      style={sign === 1 ? { right: -3 } : { left: -3 }}
      onPointerDown={(event) => {
        drag.current = { x: event.clientX, width };
        event.currentTarget.setPointerCapture(event.pointerId);
      }}
      onPointerMove={(event) => {
        if (drag.current) onResize(drag.current.width + sign * (event.clientX - drag.current.x));
      }}
      onPointerUp={() => {
        drag.current = null;
      }}
      onKeyDown={(event) => {
        if (event.key === "ArrowLeft") onResize(width - sign * 16);
        if (event.key === "ArrowRight") onResize(width + sign * 16);
      }}
    />
  );
}
