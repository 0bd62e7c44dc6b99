// The flow's budget as typed in the flow settings: a token and/or dollar
// limit and what crossing it does. Pure logic.
import type { Budget, BudgetAction, Budget_Serialize } from "@/ipc/bindings";

export interface BudgetFields {
  tokens: string;
  dollars: string;
  onExceed: BudgetAction;
}

export function budgetFields(budget: Budget | null | undefined): BudgetFields {
  return {
    tokens: budget?.tokens != null ? String(budget.tokens) : "",
    dollars: budget?.costUsd != null ? String(budget.costUsd) : "",
    onExceed: budget?.onExceed ?? "stop",
  };
}

/** The budget the fields describe (`null`: none), or why they do not. */
export function parseBudget(fields: BudgetFields): { budget: Budget_Serialize | null } | { error: string } {
  const tokens = fields.tokens.trim();
  const dollars = fields.dollars.trim();
  if (!tokens && !dollars) return { budget: null };
  const budget: Budget_Serialize = { onExceed: fields.onExceed };
  if (tokens) {
    if (!/^\d+$/.test(tokens) || Number(tokens) < 1) return { error: "tokens: a whole number, 1 or more" };
    budget.tokens = Number(tokens);
  }
  if (dollars) {
    const value = Number(dollars.replace(/^\$/, ""));
    if (!Number.isFinite(value) || value < 0) return { error: "dollars: a number, 0 or more (e.g. 0.50)" };
    budget.costUsd = value;
  }
  return { budget };
}
