import type { SearchMode, SearchRequest_Deserialize } from "@/ipc/bindings";

/** The search panel's form, as typed (empty strings: no filter). */
export interface SearchForm {
  query: string;
  mode: SearchMode;
  project: string;
  path: string;
  kind: string;
  language: string;
  /** `YYYY-MM-DD` from a date input: only lines changed on or after it. */
  since: string;
  rev: string;
  k: number;
}

export const emptyForm: SearchForm = {
  query: "",
  mode: "hybrid",
  project: "",
  path: "",
  kind: "",
  language: "",
  since: "",
  rev: "",
  k: 20,
};

export const KINDS = ["markdown", "code", "pdf", "json", "html", "text"] as const;

const orNull = (value: string) => (value.trim() === "" ? null : value.trim());

/** Midnight UTC of a `YYYY-MM-DD` date, in Unix seconds (`null`: none or invalid). */
export function sinceSeconds(date: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const millis = Date.parse(`${date}T00:00:00Z`);
  return Number.isNaN(millis) ? null : Math.floor(millis / 1000);
}

/** The engine's request for a form, or the reason it cannot be sent. */
export function toRequest(form: SearchForm): { request: SearchRequest_Deserialize } | { problem: string } {
  if (form.query.trim() === "") return { problem: "type what to search for" };
  if (form.since !== "" && sinceSeconds(form.since) === null) return { problem: "the date must be YYYY-MM-DD" };
  if (orNull(form.rev) !== null && orNull(form.project) === null) {
    return { problem: "a revision belongs to one project: choose the project first" };
  }
  return {
    request: {
      k: form.k,
      mode: form.mode,
      rerank: "auto",
      rev: orNull(form.rev),
      filter: {
        project: orNull(form.project),
        path: orNull(form.path),
        kind: orNull(form.kind),
        language: orNull(form.language)?.toLowerCase() ?? null,
        since: sinceSeconds(form.since),
      },
    },
  };
}

/** A piece of text, marked when it matches a word of the query. */
export interface Segment {
  text: string;
  match: boolean;
}

/** Words of the query worth marking (two letters or more), longest first. */
function terms(query: string): string[] {
  const words = query
    .toLowerCase()
    .split(/[^\p{L}\p{N}_]+/u)
    .filter((word) => word.length >= 2);
  return [...new Set(words)].sort((a, b) => b.length - a.length);
}

const escape = (word: string) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `text` cut into segments, the query's words marked (case-insensitive). */
export function highlight(text: string, query: string): Segment[] {
  const words = terms(query);
  if (words.length === 0 || text === "") return text === "" ? [] : [{ text, match: false }];
  const pattern = new RegExp(`(${words.map(escape).join("|")})`, "giu");
  return text
    .split(pattern)
    .filter((part) => part !== "")
    .map((part) => ({ text: part, match: words.includes(part.toLowerCase()) }));
}

/**
 * At most `max` characters of `text` around its first match of the query
 * (from the start when nothing matches), with `…` where it was cut.
 */
export function excerpt(text: string, query: string, max = 320): string {
  if (text.length <= max) return text;
  const lower = text.toLowerCase();
  const first = terms(query)
    .map((word) => lower.indexOf(word))
    .filter((at) => at >= 0)
    .sort((a, b) => a - b)[0];
  const start = first === undefined ? 0 : Math.max(0, Math.min(first - Math.floor(max / 3), text.length - max));
  const end = Math.min(text.length, start + max);
  return `${start > 0 ? "…" : ""}${text.slice(start, end)}${end < text.length ? "…" : ""}`;
}
