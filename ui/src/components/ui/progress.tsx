import { cn } from "@/lib/utils";

/** A determinate bar; `value` in 0..1, or `null` for an indeterminate pulse. */
export function Progress({ value, className }: { value: number | null; className?: string }) {
  return (
    <div
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value === null ? undefined : Math.round(value * 100)}
      className={cn("h-1.5 w-full overflow-hidden rounded-full bg-muted", className)}
    >
      <div
        className={cn("h-full bg-primary transition-all", value === null && "w-1/3 animate-pulse")}
        style={value === null ? undefined : { width: `${Math.min(100, value * 100)}%` }}
      />
    </div>
  );
}
