import { useState } from "react";

import type { RunComparison_Serialize as RunComparison } from "@/ipc/bindings";
import { runLine, sections, sideFigures } from "./runCompare";

const BLOCK = "max-h-40 overflow-auto whitespace-pre-wrap break-words rounded border p-1.5 font-mono text-[11px]";

/** Two runs side by side, node by node, opened at the first node where they
 * part ways. */
export function RunCompare({ comparison, onFocus, onClose }: { comparison: RunComparison; onFocus: (node: string) => void; onClose: () => void }) {
  const [picked, setPicked] = useState<string | null>(comparison.firstDivergence ?? comparison.nodes[0]?.node ?? null);
  const shown = comparison.nodes.find((node) => node.node === picked) ?? null;
  const differing = comparison.nodes.filter((node) => node.differs.length > 0).length;
  const pick = (node: string) => {
    setPicked(node);
    onFocus(node);
  };
  return (
    <div className="flex min-h-0 flex-1 flex-col" data-testid="run-compare" data-first-divergence={comparison.firstDivergence ?? ""}>
      <div className="flex flex-col gap-0.5 border-b border-border px-2 py-1.5">
        {(["a", "b"] as const).map((key) => (
          <div key={key} className="truncate" data-testid={`compare-run-${key}`} title={runLine(comparison[key])}>
            <span className="font-semibold">{key.toUpperCase()}</span> <span className="font-mono">{comparison[key].id.slice(0, 8)}</span> {runLine(comparison[key])}
          </div>
        ))}
        {comparison.a.flowHash !== comparison.b.flowHash && <div className="text-amber-800 dark:text-amber-400">The flow changed between the runs: nodes whose settings differ say “definition”.</div>}
        <div className={differing === 0 ? "text-emerald-800 dark:text-emerald-400" : "text-amber-800 dark:text-amber-400"} data-testid="compare-summary">
          {differing === 0
            ? `All ${comparison.nodes.length} nodes did the same; output ${comparison.sameOutput ? "the same" : "different"}.`
            : `${differing} of ${comparison.nodes.length} nodes differ, first at ${comparison.firstDivergence}; output ${comparison.sameOutput ? "the same" : "different"}.`}
          <button type="button" className="ml-2 underline" onClick={onClose} data-testid="compare-close">
            Close comparison
          </button>
        </div>
      </div>
      <div className="flex min-h-0 flex-1">
        <ul className="w-44 shrink-0 overflow-y-auto border-r border-border py-1" aria-label="Nodes of both runs">
          {comparison.nodes.map((node) => {
            const first = node.node === comparison.firstDivergence;
            const same = node.differs.length === 0;
            return (
              <li key={node.node}>
                <button
                  type="button"
                  data-testid={`compare-pick-${node.node}`}
                  data-differs={node.differs.join(",")}
                  aria-current={picked === node.node}
                  title={same ? "the same in both runs" : `differs: ${node.differs.join(", ")}`}
                  className={`w-full truncate px-2 py-0.5 text-left font-mono ${picked === node.node ? "bg-muted" : ""} ${same ? "text-muted-foreground" : first ? "font-semibold text-amber-800 dark:text-amber-400" : "text-amber-800 dark:text-amber-300"}`}
                  onClick={() => pick(node.node)}
                >
                  {same ? "=" : first ? "▶" : "≠"} {node.node}
                </button>
              </li>
            );
          })}
        </ul>
        {shown ? (
          <div className="min-w-0 flex-1 overflow-y-auto p-2" data-testid="compare-node">
            <div className="mb-1 flex flex-wrap gap-x-2">
              <span className="font-mono font-semibold">{shown.node}</span>
              <span className={shown.differs.length === 0 ? "text-muted-foreground" : "text-amber-800 dark:text-amber-400"}>{shown.differs.length === 0 ? "the same in both" : `differs: ${shown.differs.join(", ")}`}</span>
            </div>
            <div className="grid grid-cols-2 gap-x-2 text-[11px] text-muted-foreground">
              <div data-testid="compare-figures-a">A · {sideFigures(shown.a)}</div>
              <div data-testid="compare-figures-b">B · {sideFigures(shown.b)}</div>
            </div>
            {sections(shown).map((section) => (
              <div key={section.name} className="mt-1.5" data-testid={`compare-section-${section.name}`} data-differs={section.differs}>
                <div className={`text-[10px] uppercase ${section.differs ? "font-semibold text-amber-800 dark:text-amber-400" : "text-muted-foreground"}`}>
                  {section.name}
                  {section.differs ? " — differs" : ""}
                </div>
                <div className="grid grid-cols-2 gap-x-2">
                  {[section.a, section.b].map((text, index) => (
                    <div key={index} className={`${BLOCK} ${section.differs ? "border-amber-500 bg-amber-50 dark:bg-amber-950/30" : "border-border bg-background"}`}>
                      {text || "—"}
                    </div>
                  ))}
                </div>
              </div>
            ))}
          </div>
        ) : (
          <div className="p-2 text-muted-foreground">no node ran in either run</div>
        )}
      </div>
    </div>
  );
}
