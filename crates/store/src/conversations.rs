//! Saved chat conversations: a header (title, mode, target) and its messages
//! in order. Each message keeps a JSON `meta` text the runtime owns
//! (citations, the prompt as sent, statistics, tool calls).

use rusqlite::params;

use crate::db::Optional;
use serde::Serialize;

use crate::runs::now;
use crate::{sql, Result, Store};

/// A conversation as listed.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// Title (the first question until renamed).
    pub title: String,
    /// `ask`, `chat` or `agent`.
    pub mode: String,
    /// The project (ask), model (chat) or `agent@version` (agent), if any.
    pub target: Option<String>,
    /// Unix seconds it was created.
    pub created_at: f64,
    /// Unix seconds of its last message or rename.
    pub updated_at: f64,
    /// Messages stored.
    pub messages: u32,
    /// For a search: the start of the first message that matched.
    pub snippet: Option<String>,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Position in the conversation, from 0.
    pub index: u32,
    /// `user` or `assistant`.
    pub role: String,
    /// The text shown.
    pub text: String,
    /// The runtime's JSON.
    pub meta: String,
    /// Unix seconds.
    pub created_at: f64,
}

const SUMMARY: &str = "SELECT c.id, c.title, c.mode, c.target, c.created_at, c.updated_at, \
     (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation = c.id) FROM conversations c";

fn summary(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<ConversationSummary> {
    Ok(ConversationSummary {
        id: row.get(0)?,
        title: row.get(1)?,
        mode: row.get(2)?,
        target: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        messages: row.get(6)?,
        snippet: None,
    })
}

/// `text` as a LIKE pattern matching it anywhere, `\` escaping.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// About 120 characters of `text` around the first case-insensitive match.
fn snippet(text: &str, query: &str) -> String {
    let lower = text.to_lowercase();
    let at = lower.find(&query.to_lowercase()).unwrap_or(0);
    let chars: Vec<char> = text.chars().collect();
    // `at` is a byte offset into the lowercased text; count characters to it.
    let at_char = lower[..at.min(lower.len())].chars().count();
    let start = at_char.saturating_sub(40).min(chars.len());
    let end = (start + 120).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    out = out.replace('\n', " ");
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

impl Store {
    /// Stores a new, empty conversation.
    pub fn create_conversation(
        &self,
        id: &str,
        mode: &str,
        target: Option<&str>,
        title: &str,
    ) -> Result<ConversationSummary> {
        let now = now();
        self.connection()
            .execute(
                "INSERT INTO conversations (id, title, mode, target, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, title, mode, target, now],
            )
            .map_err(sql("storing a new conversation"))?;
        Ok(ConversationSummary {
            id: id.to_owned(),
            title: title.to_owned(),
            mode: mode.to_owned(),
            target: target.map(str::to_owned),
            created_at: now,
            updated_at: now,
            messages: 0,
            snippet: None,
        })
    }

    /// One conversation's header, if it exists.
    pub fn conversation(&self, id: &str) -> Result<Option<ConversationSummary>> {
        self.connection()
            .query_row(&format!("{SUMMARY} WHERE c.id = ?1"), params![id], summary)
            .optional()
            .map_err(sql("reading a conversation"))
    }

    /// Conversations, newest first; with `query`, only those whose title or
    /// a message contains it (case-insensitive), each with a snippet.
    pub fn conversations(
        &self,
        query: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>> {
        let connection = self.connection();
        let query = query.map(str::trim).filter(|query| !query.is_empty());
        let Some(query) = query else {
            let mut statement = connection
                .prepare(&format!(
                    "{SUMMARY} ORDER BY c.updated_at DESC, c.id LIMIT ?1"
                ))
                .map_err(sql("listing conversations"))?;
            let rows = statement
                .query_map(params![limit], summary)
                .map_err(sql("listing conversations"))?;
            return rows
                .collect::<crate::db::DbResult<_>>()
                .map_err(sql("listing conversations"));
        };
        let pattern = contains_pattern(query);
        let mut statement = connection
            .prepare(&format!(
                "{SUMMARY} WHERE c.title LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM conversation_messages m \
                 WHERE m.conversation = c.id AND m.text LIKE ?1 ESCAPE '\\') ORDER BY c.updated_at DESC, c.id LIMIT ?2"
            ))
            .map_err(sql("searching conversations"))?;
        let mut found: Vec<ConversationSummary> = statement
            .query_map(params![pattern, limit], summary)
            .map_err(sql("searching conversations"))?
            .collect::<crate::db::DbResult<_>>()
            .map_err(sql("searching conversations"))?;
        let mut first_match = connection
            .prepare(
                "SELECT text FROM conversation_messages WHERE conversation = ?1 AND text LIKE ?2 ESCAPE '\\' ORDER BY idx LIMIT 1",
            )
            .map_err(sql("searching conversations"))?;
        for conversation in &mut found {
            let text: Option<String> = first_match
                .query_row(params![conversation.id, pattern], |row| row.get(0))
                .optional()
                .map_err(sql("searching conversations"))?;
            conversation.snippet = Some(snippet(
                text.as_deref().unwrap_or(&conversation.title),
                query,
            ));
        }
        Ok(found)
    }

    /// A conversation's messages in order.
    pub fn conversation_messages(&self, id: &str) -> Result<Vec<MessageRow>> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT idx, role, text, meta, created_at FROM conversation_messages WHERE conversation = ?1 ORDER BY idx",
            )
            .map_err(sql("reading a conversation's messages"))?;
        let rows = statement
            .query_map(params![id], |row| {
                Ok(MessageRow {
                    index: row.get(0)?,
                    role: row.get(1)?,
                    text: row.get(2)?,
                    meta: row.get(3)?,
                    created_at: row.get(4)?,
                })
            })
            .map_err(sql("reading a conversation's messages"))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql("reading a conversation's messages"))
    }

    /// Appends a message and returns its index.
    pub fn append_message(&self, id: &str, role: &str, text: &str, meta: &str) -> Result<u32> {
        let now = now();
        let mut connection = self.connection();
        // Immediate: the next index is read, then written.
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql("storing a message"))?;
        let index: u32 = transaction
            .query_row(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM conversation_messages WHERE conversation = ?1",
                params![id],
                |row| row.get(0),
            )
            .map_err(sql("storing a message"))?;
        transaction
            .execute(
                "INSERT INTO conversation_messages (conversation, idx, role, text, meta, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, index, role, text, meta, now],
            )
            .map_err(sql("storing a message"))?;
        transaction
            .execute(
                "UPDATE conversations SET updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(sql("storing a message"))?;
        transaction.commit().map_err(sql("storing a message"))?;
        Ok(index)
    }

    /// Replaces a message's meta.
    pub fn set_message_meta(&self, id: &str, index: u32, meta: &str) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE conversation_messages SET meta = ?3 WHERE conversation = ?1 AND idx = ?2",
                params![id, index, meta],
            )
            .map_err(sql("updating a message"))?;
        Ok(())
    }

    /// Deletes the messages from index `from` on (regenerate, edit and
    /// resend); returns how many went.
    pub fn truncate_conversation(&self, id: &str, from: u32) -> Result<usize> {
        self.connection()
            .execute(
                "DELETE FROM conversation_messages WHERE conversation = ?1 AND idx >= ?2",
                params![id, from],
            )
            .map_err(sql("truncating a conversation"))
    }

    /// Renames a conversation; false when it does not exist.
    pub fn rename_conversation(&self, id: &str, title: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE conversations SET title = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, title, now()],
            )
            .map_err(sql("renaming a conversation"))?;
        Ok(changed > 0)
    }

    /// Deletes a conversation and its messages; false when it did not exist.
    pub fn delete_conversation(&self, id: &str) -> Result<bool> {
        let action = "deleting a conversation";
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(sql(action))?;
        // Its ask and chat turns' runs hold its text too.
        transaction
            .execute(
                "DELETE FROM runs WHERE json_extract(header, '$.exchange') IS NOT NULL
                   AND json_extract(header, '$.input.conversation') = ?1",
                params![id],
            )
            .map_err(sql(action))?;
        let deleted = transaction
            .execute("DELETE FROM conversations WHERE id = ?1", params![id])
            .map_err(sql(action))?;
        transaction.commit().map_err(sql(action))?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::scratch as store;

    #[test]
    fn messages_keep_their_order_and_go_with_their_conversation() {
        let (_dir, store) = store();
        store
            .create_conversation("c1", "chat", None, "first")
            .expect("created");
        assert_eq!(
            store.append_message("c1", "user", "hi", "{}").expect("q"),
            0
        );
        assert_eq!(
            store
                .append_message("c1", "assistant", "hello", "{}")
                .expect("a"),
            1
        );
        assert_eq!(
            store
                .append_message("c1", "user", "again", "{}")
                .expect("q"),
            2
        );
        let texts: Vec<_> = store
            .conversation_messages("c1")
            .expect("messages")
            .into_iter()
            .map(|message| message.text)
            .collect();
        assert_eq!(texts, ["hi", "hello", "again"]);
        assert_eq!(store.truncate_conversation("c1", 1).expect("cut"), 2);
        assert_eq!(
            store
                .conversation("c1")
                .expect("read")
                .expect("exists")
                .messages,
            1
        );
        assert!(store.delete_conversation("c1").expect("deleted"));
        assert!(!store.delete_conversation("c1").expect("gone"));
        let left: i64 = store
            .connection()
            .query_row("SELECT COUNT(*) FROM conversation_messages", &[], |row| {
                row.get(0)
            })
            .expect("count");
        assert_eq!(left, 0, "messages are deleted with their conversation");
    }

    #[test]
    fn search_matches_titles_and_messages_literally() {
        let (_dir, store) = store();
        store
            .create_conversation("a", "ask", Some("docs"), "Release notes")
            .expect("a");
        store
            .create_conversation("b", "chat", None, "Other")
            .expect("b");
        store
            .append_message(
                "b",
                "user",
                "What does 100% coverage of the_parser mean?",
                "{}",
            )
            .expect("message");
        assert_eq!(store.conversations(None, 10).expect("all").len(), 2);
        let by_title = store.conversations(Some("release"), 10).expect("title");
        assert_eq!(by_title.len(), 1);
        assert_eq!(by_title[0].id, "a");
        let by_text = store.conversations(Some("100% cov"), 10).expect("text");
        assert_eq!(by_text.len(), 1, "the % is literal");
        assert!(by_text[0]
            .snippet
            .as_deref()
            .unwrap_or("")
            .contains("100% coverage"));
        // Near misses that `%` and `_` as wildcards would match.
        store
            .create_conversation("c", "chat", None, "Decoy")
            .expect("c");
        store
            .append_message("c", "user", "thexparser and 100 percent coverage", "{}")
            .expect("decoy");
        let ids = |query: &str| -> Vec<String> {
            store
                .conversations(Some(query), 10)
                .expect("search")
                .into_iter()
                .map(|found| found.id)
                .collect()
        };
        assert_eq!(ids("the_parser"), ["b"], "_ is literal");
        assert_eq!(ids("100%"), ["b"], "% is literal");
        assert_eq!(
            ids("coverage").len(),
            2,
            "positive control: both match a plain word"
        );
    }

    #[test]
    fn snippets_cut_around_the_match_on_character_boundaries() {
        let text = format!("{}needle{}", "é".repeat(100), "ü".repeat(100));
        let cut = snippet(&text, "NEEDLE");
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains("needle"));
    }
}
