import { CheckCircle2, X, XCircle } from "lucide-react";

import { dismiss, useToasts } from "./notify";

/** The toasts of finished jobs, bottom right; announced to screen readers. */
export function Toasts() {
  const toasts = useToasts();
  return (
    <div className="pointer-events-none fixed left-4 bottom-4 z-50 flex w-80 flex-col gap-2" aria-live="polite" role="status">
      {toasts.map((toast) => (
        <div key={toast.id} className="pointer-events-auto flex items-start gap-2 rounded-md border border-border bg-card p-3 text-sm shadow-lg" data-testid="toast" data-kind={toast.kind}>
          {toast.kind === "done" ? <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-emerald-800 dark:text-emerald-400" /> : <XCircle className="mt-0.5 size-4 shrink-0 text-destructive" />}
          <div className="min-w-0 flex-1">
            <div className="font-medium">{toast.title}</div>
            {toast.body && <div className="truncate text-xs text-muted-foreground" title={toast.body}>{toast.body}</div>}
          </div>
          <button type="button" aria-label="Dismiss" className="text-muted-foreground hover:text-foreground" onClick={() => dismiss(toast.id)}>
            <X className="size-4" />
          </button>
        </div>
      ))}
    </div>
  );
}
