//! The team servers the app is signed in to (one session per server), the
//! one the Team panel shows, and the server's workspace open in the main
//! window — kept together so a workspace is open only on a server signed
//! in to.

/// Sessions by server address, in the order they were signed in.
#[derive(Debug)]
pub(crate) struct Signed<C> {
    sessions: Vec<(String, C)>,
    /// The server the Team panel shows.
    shown: Option<String>,
    /// The server and workspace open in the main window (`None`: this
    /// machine's data home).
    open: Option<(String, String)>,
}

impl<C> Default for Signed<C> {
    fn default() -> Self {
        Self {
            sessions: Vec::new(),
            shown: None,
            open: None,
        }
    }
}

impl<C: Clone> Signed<C> {
    /// A session on `server`: it replaces one there (answered, to end it
    /// on the server; the window leaves a workspace of that server: another
    /// account may not see it) and is shown.
    pub(crate) fn sign_in(&mut self, server: &str, client: C) -> Option<C> {
        let replaced = if let Some(slot) = self.sessions.iter_mut().find(|(at, _)| at == server) {
            Some(std::mem::replace(&mut slot.1, client))
        } else {
            self.sessions.push((server.to_owned(), client));
            None
        };
        if self.open.as_ref().is_some_and(|(at, _)| at == server) {
            self.open = None;
        }
        self.shown = Some(server.to_owned());
        replaced
    }

    /// Ends the session on `server` (answered, to sign out on the server);
    /// a workspace open there closes, and the panel shows the first server
    /// left.
    pub(crate) fn sign_out(&mut self, server: &str) -> Option<C> {
        let index = self.sessions.iter().position(|(at, _)| at == server)?;
        let (_, client) = self.sessions.remove(index);
        if self.open.as_ref().is_some_and(|(at, _)| at == server) {
            self.open = None;
        }
        if self.shown.as_deref() == Some(server) {
            self.shown = self.sessions.first().map(|(at, _)| at.clone());
        }
        Some(client)
    }

    /// Shows `server` in the Team panel; false when not signed in there.
    pub(crate) fn show(&mut self, server: &str) -> bool {
        let known = self.sessions.iter().any(|(at, _)| at == server);
        if known {
            self.shown = Some(server.to_owned());
        }
        known
    }

    /// The session the Team panel shows.
    pub(crate) fn shown(&self) -> Option<C> {
        let shown = self.shown.as_deref()?;
        self.client(shown)
    }

    /// The session on `server`.
    pub(crate) fn client(&self, server: &str) -> Option<C> {
        self.sessions
            .iter()
            .find(|(at, _)| at == server)
            .map(|(_, client)| client.clone())
    }

    /// Every session, in sign-in order.
    pub(crate) fn all(&self) -> Vec<C> {
        self.sessions
            .iter()
            .map(|(_, client)| client.clone())
            .collect()
    }

    /// Opens `workspace` of `server` in the window (`None`: this machine);
    /// false when not signed in there.
    pub(crate) fn open(&mut self, at: Option<(&str, &str)>) -> bool {
        match at {
            None => {
                self.open = None;
                true
            }
            Some((server, workspace)) => {
                let known = self.sessions.iter().any(|(at, _)| at == server);
                if known {
                    self.open = Some((server.to_owned(), workspace.to_owned()));
                }
                known
            }
        }
    }

    /// The workspace open, with the session of its server.
    pub(crate) fn opened(&self) -> Option<(C, String)> {
        let (server, workspace) = self.open.as_ref()?;
        Some((self.client(server)?, workspace.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::Signed;

    #[test]
    fn sessions_are_one_per_server_and_a_workspace_is_open_only_on_one_signed_in() {
        let mut signed = Signed::default();
        assert!(!signed.open(Some(("http://a", "team"))), "not signed in");
        assert_eq!(signed.sign_in("http://a", "ada@a"), None);
        assert_eq!(signed.sign_in("http://b", "bob@b"), None);
        assert_eq!(signed.all(), ["ada@a", "bob@b"]);
        assert_eq!(signed.shown(), Some("bob@b"), "the newest is shown");
        assert!(signed.show("http://a") && !signed.show("http://c"));
        assert_eq!(signed.shown(), Some("ada@a"));

        assert!(signed.open(Some(("http://b", "team"))));
        assert_eq!(signed.opened(), Some(("bob@b", "team".to_owned())));
        // Signing in again elsewhere keeps it; on its server, it closes.
        assert_eq!(signed.sign_in("http://a", "eve@a"), Some("ada@a"));
        assert_eq!(signed.all(), ["eve@a", "bob@b"], "replaced in place");
        assert_eq!(signed.opened(), Some(("bob@b", "team".to_owned())));
        assert_eq!(signed.sign_in("http://b", "vic@b"), Some("bob@b"));
        assert_eq!(signed.opened(), None);

        // Signing out of the shown server shows the next; an open
        // workspace of another server stays.
        assert!(signed.open(Some(("http://b", "team"))));
        assert!(signed.show("http://a"));
        assert_eq!(signed.sign_out("http://a"), Some("eve@a"));
        assert_eq!(signed.shown(), Some("vic@b"));
        assert_eq!(signed.opened(), Some(("vic@b", "team".to_owned())));
        assert_eq!(signed.sign_out("http://b"), Some("vic@b"));
        assert_eq!((signed.shown(), signed.opened()), (None, None));
        assert_eq!(signed.sign_out("http://b"), None);
        assert!(signed.open(None));
    }
}
