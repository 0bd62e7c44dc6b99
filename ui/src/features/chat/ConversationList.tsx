import { Bot, MessageSquare, Pencil, Search, Trash2, X } from "lucide-react";
import { useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { commands, type ConversationSummary_Serialize as ConversationSummary } from "@/ipc/bindings";

function when(seconds: number): string {
  const date = new Date(seconds * 1000);
  const today = new Date();
  return date.toDateString() === today.toDateString()
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString();
}

/** Saved conversations: search, open, rename, delete. */
export function ConversationList({
  current,
  onOpen,
  onClose,
  onRenamed,
  onDeleted,
}: {
  current: string | null;
  onOpen: (id: string) => void;
  onClose: () => void;
  onRenamed: (summary: ConversationSummary) => void;
  onDeleted: (id: string) => void;
}) {
  const [query, setQuery] = useState("");
  const [list, setList] = useState<ConversationSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  const [version, setVersion] = useState(0);
  const [confirming, setConfirming] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    const timer = window.setTimeout(() => {
      void commands.conversations(query.trim() || null).then((result) => {
        if (stale) return;
        if (result.status === "ok") {
          setList(result.data);
          setError(null);
        } else setError(result.error.message);
      });
    }, 150);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, version]);

  async function rename(id: string, title: string) {
    const result = await commands.conversationRename(id, title);
    if (result.status === "error") {
      setError(result.error.message);
      return;
    }
    setRenaming(null);
    onRenamed(result.data);
    setVersion((value) => value + 1);
  }

  async function remove(summary: ConversationSummary) {
    setConfirming(null);
    const result = await commands.conversationDelete(summary.id);
    if (result.status === "error") {
      setError(result.error.message);
      return;
    }
    onDeleted(summary.id);
    setVersion((value) => value + 1);
  }

  return (
    <div className="absolute inset-x-0 bottom-0 top-[5.5rem] z-20 flex flex-col border-t border-border bg-background/95 backdrop-blur" data-testid="conversation-list" role="dialog" aria-label="Conversations">
      <div className="flex items-center gap-2 border-b border-border p-2">
        <Search className="size-4 text-muted-foreground" />
        <Input
          autoFocus
          className="h-8 text-xs"
          placeholder="Search titles and messages…"
          aria-label="Search conversations"
          data-testid="conversation-search"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Escape") onClose();
          }}
        />
        <Button size="icon" variant="ghost" aria-label="Close conversations" onClick={onClose}>
          <X />
        </Button>
      </div>
      {error && (
        <p className="px-3 py-2 text-xs text-destructive" role="alert">
          {error}
        </p>
      )}
      <ul className="flex-1 overflow-y-auto p-2">
        {list?.length === 0 && (
          <li className="p-2 text-xs text-muted-foreground">{query.trim() ? `No conversation mentions “${query.trim()}”.` : "No saved conversations yet."}</li>
        )}
        {list?.map((summary) => (
          <li key={summary.id} data-testid="conversation-item" data-id={summary.id} data-title={summary.title} className={`group rounded-md px-2 py-1.5 ${summary.id === current ? "bg-primary/15" : "hover:bg-card"}`}>
            {renaming?.id === summary.id ? (
              <form
                className="flex gap-1"
                onSubmit={(event) => {
                  event.preventDefault();
                  void rename(summary.id, renaming.title);
                }}
              >
                <Input
                  autoFocus
                  className="h-7 text-xs"
                  aria-label="Conversation title"
                  data-testid="conversation-rename-input"
                  value={renaming.title}
                  onChange={(event) => setRenaming({ id: summary.id, title: event.target.value })}
                  onKeyDown={(event) => {
                    if (event.key === "Escape") setRenaming(null);
                  }}
                />
                <Button type="submit" size="sm" data-testid="conversation-rename-save">
                  Save
                </Button>
              </form>
            ) : (
              <div className="flex items-center gap-2">
                <button type="button" className="min-w-0 flex-1 text-left" onClick={() => onOpen(summary.id)} data-testid="conversation-open">
                  <div className="flex items-center gap-1 text-sm">
                    {summary.mode === "agent" ? <Bot className="size-3 shrink-0 text-muted-foreground" /> : <MessageSquare className="size-3 shrink-0 text-muted-foreground" />}
                    <span className="truncate">{summary.title}</span>
                  </div>
                  <div className="truncate text-[11px] text-muted-foreground">
                    {summary.mode}
                    {summary.target ? ` · ${summary.target}` : ""} · {summary.messages} messages · {when(summary.updatedAt ?? 0)}
                  </div>
                  {summary.snippet && <div className="truncate text-[11px] text-foreground/80" data-testid="conversation-snippet" title={summary.snippet}>{summary.snippet}</div>}
                </button>
                <Button size="icon" variant="ghost" className="size-7" aria-label={`Rename ${summary.title}`} data-testid="conversation-rename" onClick={() => setRenaming({ id: summary.id, title: summary.title })}>
                  <Pencil className="size-3" />
                </Button>
                {confirming === summary.id ? (
                  <Button size="sm" variant="destructive" className="h-7 text-xs" data-testid="conversation-delete-confirm" onClick={() => void remove(summary)} onBlur={() => setConfirming(null)} autoFocus>
                    Delete {summary.messages} messages
                  </Button>
                ) : (
                  <Button size="icon" variant="ghost" className="size-7" aria-label={`Delete ${summary.title}`} data-testid="conversation-delete" onClick={() => setConfirming(summary.id)}>
                    <Trash2 className="size-3" />
                  </Button>
                )}
              </div>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
