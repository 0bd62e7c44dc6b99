// Settings → Telemetry: the form of a new OTLP endpoint and what it sends.
// Pure logic.

/** The add form. */
export interface OtlpDraft {
  name: string;
  endpoint: string;
  protocol: "http/protobuf" | "grpc";
  /** A header whose value is a vault secret (e.g. Authorization). */
  secretHeader: string;
  secretName: string;
  /** Other headers, one `Name: value` per line. */
  headers: string;
  captureContent: boolean;
  pastRuns: boolean;
  unchecked: boolean;
}

export function otlpDraft(taken: string[]): OtlpDraft {
  let name = "collector";
  for (let index = 2; taken.includes(name); index += 1) name = `collector-${index}`;
  return { name, endpoint: "http://127.0.0.1:4318", protocol: "http/protobuf", secretHeader: "Authorization", secretName: "", headers: "", captureContent: false, pastRuns: false, unchecked: false };
}

/** The conventional port of each protocol, for a URL that still has the other's. */
export function switchProtocol(draft: OtlpDraft, protocol: OtlpDraft["protocol"]): OtlpDraft {
  const [from, to] = protocol === "grpc" ? [":4318", ":4317"] : [":4317", ":4318"];
  return { ...draft, protocol, endpoint: draft.endpoint.replace(from, to) };
}

/** `Name: value` lines as a header map; the first bad line as an error. */
export function parseHeaders(text: string): { headers: Record<string, string>; problem: string | null } {
  const headers: Record<string, string> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!/^[A-Za-z0-9-]+$/.test(name)) return { headers, problem: `line ${index + 1} is not \`Name: value\`` };
    headers[name] = line.slice(colon + 1).trim();
  }
  return { headers, problem: null };
}

/** Why the draft cannot be added yet, or null. */
export function otlpDraftProblem(draft: OtlpDraft, taken: string[]): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(draft.name.trim())) return "a name of letters, digits, - _ .";
  if (taken.includes(draft.name.trim())) return `an endpoint named ${draft.name.trim()} exists`;
  if (!/^https?:\/\/[^\s/]+/.test(draft.endpoint.trim())) return "the URL starts with http:// or https://";
  if (draft.secretName.trim() && !/^[A-Za-z0-9-]+$/.test(draft.secretHeader.trim())) return "name the header the secret goes in";
  return parseHeaders(draft.headers).problem;
}

/** The draft as the engine's `[[otlp]]` entry. */
export function otlpConfig(draft: OtlpDraft) {
  const secret = draft.secretName.trim();
  return {
    name: draft.name.trim(),
    endpoint: draft.endpoint.trim(),
    protocol: draft.protocol,
    headers: parseHeaders(draft.headers).headers,
    secret_headers: secret ? { [draft.secretHeader.trim()]: secret } : {},
    capture_content: draft.captureContent,
    max_backlog: 100_000,
    timeout_secs: 10,
  };
}
