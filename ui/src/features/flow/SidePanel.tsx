import { X } from "lucide-react";
import type { ReactNode } from "react";

import { Button } from "@/components/ui/button";

/** A panel over the right of the canvas: a header with its title and a close
 * button, an error line when there is one, then its content. */
export function SidePanel({
  testId,
  label,
  title,
  closeLabel,
  error,
  onClose,
  children,
  wide = false,
}: {
  testId: string;
  label: string;
  title: ReactNode;
  closeLabel: string;
  error: string | null;
  onClose: () => void;
  children: ReactNode;
  /** Room for two columns side by side. */
  wide?: boolean;
}) {
  return (
    <aside className={`absolute inset-y-0 right-0 z-10 flex ${wide ? "w-[56rem]" : "w-[30rem]"} max-w-full flex-col border-l border-border bg-card text-xs shadow-xl`} data-testid={testId} aria-label={label}>
      <div className="flex items-center gap-2 border-b border-border px-2 py-1.5">
        {title}
        <Button size="icon" variant="ghost" className="ml-auto size-6" aria-label={closeLabel} onClick={onClose}>
          <X className="size-3.5" />
        </Button>
      </div>
      {error && (
        <div className="border-b border-border px-2 py-1 text-destructive" role="alert">
          {error}
        </div>
      )}
      {children}
    </aside>
  );
}
