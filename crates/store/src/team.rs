//! A team server's accounts, workspaces, memberships, per-flow grants,
//! credentials (API tokens and app sessions) and failed logins.
//!
//! The store keeps rows; it decides nothing. Password hashes arrive already
//! hashed (Argon2id, by the server), credential secrets as their SHA-256
//! (a credential's secret is 256 random bits, so a fast hash is enough), and
//! roles as names the server validates. Times are Unix milliseconds.

use rusqlite::params;

use crate::db::Optional;
use serde::Serialize;

use crate::{now_ms, signed, sql, Result, Store};

/// An account of the team server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Unix milliseconds of its creation.
    pub created_at_ms: u64,
    /// A disabled account cannot log in and its credentials stop working.
    pub disabled: bool,
    /// Whether it has a password (an OIDC-only account has none).
    pub has_password: bool,
}

/// What a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A personal API token (`Authorization: Bearer …`).
    Token,
    /// An app or browser session (a cookie with a CSRF token).
    Session,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Session => "session",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "session" {
            Self::Session
        } else {
            Self::Token
        }
    }
}

/// A credential as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    /// The public part of the credential (its id).
    pub id: String,
    /// Whose.
    pub account: String,
    /// Token or session.
    pub kind: CredentialKind,
    /// What its owner called it.
    pub label: String,
    /// The scopes it is limited to.
    pub scopes: Vec<String>,
    /// Unix milliseconds of its creation.
    pub created_at_ms: u64,
    /// Unix milliseconds after which it no longer works.
    pub expires_at_ms: u64,
    /// Unix milliseconds of its last use.
    pub last_used_at_ms: Option<u64>,
    /// Unix milliseconds of its revocation.
    pub revoked_at_ms: Option<u64>,
}

/// A credential with what checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// The credential.
    pub credential: Credential,
    /// Hex SHA-256 of its secret.
    pub secret_hash: String,
    /// Hex SHA-256 of a session's CSRF token.
    pub csrf_hash: Option<String>,
}

/// A member of a workspace, or a per-flow grant (`flow` set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// Workspace.
    pub workspace: String,
    /// The flow a grant is for; `None` for the workspace role.
    pub flow: Option<String>,
    /// Account.
    pub account: String,
    /// Role name.
    pub role: String,
}

/// A share link as stored (its signature is not: it is derived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    /// Its id (the link's first part).
    pub id: String,
    /// The workspace it opens.
    pub workspace: String,
    /// `view` (a run, read-only), `run` or `fork` (a flow).
    pub kind: String,
    /// The run id or flow name.
    pub target: String,
    /// The account that made it.
    pub created_by: String,
    /// Unix milliseconds of its creation.
    pub created_at_ms: u64,
    /// Unix milliseconds after which it no longer opens.
    pub expires_at_ms: u64,
    /// Unix milliseconds of its revocation.
    pub revoked_at_ms: Option<u64>,
}

fn share_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<Share> {
    Ok(Share {
        id: row.get(0)?,
        workspace: row.get(1)?,
        kind: row.get(2)?,
        target: row.get(3)?,
        created_by: row.get(4)?,
        created_at_ms: unsigned(row.get(5)?),
        expires_at_ms: unsigned(row.get(6)?),
        revoked_at_ms: row.get::<Option<i64>>(7)?.map(unsigned),
    })
}

const SHARE_COLUMNS: &str =
    "id, workspace, kind, target, created_by, created_at, expires_at, revoked_at";

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn credential_row(row: &crate::db::Row<'_, '_>) -> crate::db::DbResult<StoredCredential> {
    let scopes: String = row.get(5)?;
    Ok(StoredCredential {
        credential: Credential {
            id: row.get(0)?,
            account: row.get(1)?,
            kind: CredentialKind::parse(&row.get::<String>(2)?),
            label: row.get(3)?,
            scopes: scopes
                .split(',')
                .filter(|scope| !scope.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at_ms: unsigned(row.get(7)?),
            expires_at_ms: unsigned(row.get(8)?),
            last_used_at_ms: row.get::<Option<i64>>(9)?.map(unsigned),
            revoked_at_ms: row.get::<Option<i64>>(10)?.map(unsigned),
        },
        secret_hash: row.get(4)?,
        csrf_hash: row.get(6)?,
    })
}

const CREDENTIAL_COLUMNS: &str = "id, account, kind, label, hash, scopes, csrf, created_at, \
                                  expires_at, last_used_at, revoked_at";

impl Store {
    /// Adds an account; `false` when the name is taken.
    pub fn team_add_account(&self, name: &str, password_hash: Option<&str>) -> Result<bool> {
        let added = self
            .connection()
            .execute(
                "INSERT INTO accounts (name, password, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO NOTHING",
                params![name, password_hash, now_ms()],
            )
            .map_err(sql("adding an account"))?;
        Ok(added == 1)
    }

    /// Replaces an account's password hash; `false` when there is no such
    /// account.
    pub fn team_set_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE accounts SET password = ?2 WHERE name = ?1",
                params![name, password_hash],
            )
            .map_err(sql("changing a password"))?;
        Ok(changed == 1)
    }

    /// Disables or enables an account; `false` when there is no such account.
    pub fn team_set_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE accounts SET disabled = ?2 WHERE name = ?1",
                params![name, disabled],
            )
            .map_err(sql("disabling an account"))?;
        Ok(changed == 1)
    }

    /// An account with its password hash.
    pub fn team_account(&self, name: &str) -> Result<Option<(Account, Option<String>)>> {
        self.connection()
            .query_row(
                "SELECT name, created_at, disabled, password FROM accounts WHERE name = ?1",
                params![name],
                |row| {
                    let password: Option<String> = row.get(3)?;
                    Ok((
                        Account {
                            name: row.get(0)?,
                            created_at_ms: unsigned(row.get(1)?),
                            disabled: row.get(2)?,
                            has_password: password.is_some(),
                        },
                        password,
                    ))
                },
            )
            .optional()
            .map_err(sql("reading an account"))
    }

    /// Every account, by name.
    pub fn team_accounts(&self) -> Result<Vec<Account>> {
        let action = "listing accounts";
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT name, created_at, disabled, password IS NOT NULL FROM accounts ORDER BY name",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(&[], |row| {
                Ok(Account {
                    name: row.get(0)?,
                    created_at_ms: unsigned(row.get(1)?),
                    disabled: row.get(2)?,
                    has_password: row.get(3)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Adds a workspace; `false` when the name is taken.
    pub fn team_add_workspace(&self, name: &str) -> Result<bool> {
        let added = self
            .connection()
            .execute(
                "INSERT INTO workspaces (name, created_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                params![name, now_ms()],
            )
            .map_err(sql("adding a workspace"))?;
        Ok(added == 1)
    }

    /// Every workspace, by name.
    pub fn team_workspaces(&self) -> Result<Vec<String>> {
        let action = "listing workspaces";
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT name FROM workspaces ORDER BY name")
            .map_err(sql(action))?;
        let rows = statement
            .query_map(&[], |row| row.get(0))
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Sets an account's role in a workspace (`flow`: for that flow only).
    pub fn team_set_role(
        &self,
        workspace: &str,
        flow: Option<&str>,
        account: &str,
        role: &str,
    ) -> Result<()> {
        let connection = self.connection();
        match flow {
            None => connection.execute(
                "INSERT INTO members (workspace, account, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workspace, account) DO UPDATE SET role = excluded.role",
                params![workspace, account, role],
            ),
            Some(flow) => connection.execute(
                "INSERT INTO grants (workspace, flow, account, role) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace, flow, account) DO UPDATE SET role = excluded.role",
                params![workspace, flow, account, role],
            ),
        }
        .map_err(sql("setting a role"))?;
        Ok(())
    }

    /// Removes a membership or grant; `false` when there was none.
    pub fn team_remove_role(
        &self,
        workspace: &str,
        flow: Option<&str>,
        account: &str,
    ) -> Result<bool> {
        let connection = self.connection();
        let removed = match flow {
            None => connection.execute(
                "DELETE FROM members WHERE workspace = ?1 AND account = ?2",
                params![workspace, account],
            ),
            Some(flow) => connection.execute(
                "DELETE FROM grants WHERE workspace = ?1 AND flow = ?2 AND account = ?3",
                params![workspace, flow, account],
            ),
        }
        .map_err(sql("removing a role"))?;
        Ok(removed == 1)
    }

    /// An account's role in a workspace, and for `flow` its grant there if
    /// it has one (the grant wins).
    pub fn team_role(
        &self,
        workspace: &str,
        flow: Option<&str>,
        account: &str,
    ) -> Result<Option<String>> {
        let connection = self.connection();
        if let Some(flow) = flow {
            let grant: Option<String> = connection
                .query_row(
                    "SELECT role FROM grants WHERE workspace = ?1 AND flow = ?2 AND account = ?3",
                    params![workspace, flow, account],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql("reading a grant"))?;
            if grant.is_some() {
                return Ok(grant);
            }
        }
        connection
            .query_row(
                "SELECT role FROM members WHERE workspace = ?1 AND account = ?2",
                params![workspace, account],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading a role"))
    }

    /// A workspace's members then its grants; or, with `account`, the
    /// workspaces and grants of that account.
    pub fn team_memberships(
        &self,
        workspace: Option<&str>,
        account: Option<&str>,
    ) -> Result<Vec<Membership>> {
        let action = "listing members";
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT workspace, NULL, account, role FROM members
                   WHERE (CAST(?1 AS TEXT) IS NULL OR workspace = ?1)
                     AND (CAST(?2 AS TEXT) IS NULL OR account = ?2)
                 UNION ALL
                 SELECT workspace, flow, account, role FROM grants
                   WHERE (CAST(?1 AS TEXT) IS NULL OR workspace = ?1)
                     AND (CAST(?2 AS TEXT) IS NULL OR account = ?2)
                 ORDER BY 1, 2 NULLS FIRST, 3",
            )
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![workspace, account], |row| {
                Ok(Membership {
                    workspace: row.get(0)?,
                    flow: row.get(1)?,
                    account: row.get(2)?,
                    role: row.get(3)?,
                })
            })
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Stores a new credential.
    pub fn team_add_credential(&self, stored: &StoredCredential) -> Result<()> {
        let credential = &stored.credential;
        self.connection()
            .execute(
                &format!(
                    "INSERT INTO credentials ({CREDENTIAL_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL)"
                ),
                params![
                    credential.id,
                    credential.account,
                    credential.kind.as_str(),
                    credential.label,
                    stored.secret_hash,
                    credential.scopes.join(","),
                    stored.csrf_hash,
                    signed(credential.created_at_ms),
                    signed(credential.expires_at_ms),
                ],
            )
            .map_err(sql("storing a credential"))?;
        Ok(())
    }

    /// A credential by id, with its hashes.
    pub fn team_credential(&self, id: &str) -> Result<Option<StoredCredential>> {
        self.connection()
            .query_row(
                &format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?1"),
                params![id],
                credential_row,
            )
            .optional()
            .map_err(sql("reading a credential"))
    }

    /// An account's credentials of a kind, newest first (revoked and expired
    /// ones included: they are history).
    pub fn team_credentials(&self, account: &str, kind: CredentialKind) -> Result<Vec<Credential>> {
        let action = "listing credentials";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account = ?1 AND kind = ?2
                 ORDER BY created_at DESC, id"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![account, kind.as_str()], credential_row)
            .map_err(sql(action))?;
        rows.map(|row| row.map(|stored| stored.credential))
            .collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Revokes a credential of `account`; `false` when it has none by that
    /// id or it was already revoked.
    pub fn team_revoke(&self, account: &str, id: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE credentials SET revoked_at = ?3
                 WHERE id = ?1 AND account = ?2 AND revoked_at IS NULL",
                params![id, account, now_ms()],
            )
            .map_err(sql("revoking a credential"))?;
        Ok(changed == 1)
    }

    /// Notes that a credential was used now.
    pub fn team_touch(&self, id: &str) -> Result<()> {
        self.connection()
            .execute(
                "UPDATE credentials SET last_used_at = ?2 WHERE id = ?1",
                params![id, now_ms()],
            )
            .map_err(sql("noting a credential's use"))?;
        Ok(())
    }

    /// Reserves a login attempt of `account` from `address`, atomically: a
    /// failure is recorded first (cleared by a success) unless `max`
    /// failures since `since_ms` already lock the account. Returns `None`
    /// when the attempt may go on, else when the oldest counted failure was.
    pub fn team_login_attempt(
        &self,
        account: &str,
        address: &str,
        since_ms: u64,
        max: u32,
    ) -> Result<Option<u64>> {
        let action = "recording a login attempt";
        let mut connection = self.connection();
        let transaction = connection
            .transaction_with(crate::db::Begin::Immediate)
            .map_err(sql(action))?;
        let (count, oldest): (i64, i64) = transaction
            .query_row(
                "SELECT count(*), coalesce(min(at_ms), 0) FROM login_failures
                 WHERE account = ?1 AND at_ms >= ?2",
                params![account, signed(since_ms)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(sql(action))?;
        if count >= i64::from(max) {
            return Ok(Some(unsigned(oldest)));
        }
        transaction
            .execute(
                "INSERT INTO login_failures (account, address, at_ms) VALUES (?1, ?2, ?3)",
                params![account, address, now_ms()],
            )
            .map_err(sql(action))?;
        transaction.commit().map_err(sql(action))?;
        Ok(None)
    }

    /// Stores a new share link.
    pub fn team_add_share(&self, share: &Share) -> Result<()> {
        self.connection()
            .execute(
                &format!(
                    "INSERT INTO shares ({SHARE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)"
                ),
                params![
                    share.id,
                    share.workspace,
                    share.kind,
                    share.target,
                    share.created_by,
                    signed(share.created_at_ms),
                    signed(share.expires_at_ms),
                ],
            )
            .map_err(sql("storing a share link"))?;
        Ok(())
    }

    /// A share link by id.
    pub fn team_share(&self, id: &str) -> Result<Option<Share>> {
        self.connection()
            .query_row(
                &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE id = ?1"),
                params![id],
                share_row,
            )
            .optional()
            .map_err(sql("reading a share link"))
    }

    /// A workspace's share links, newest first.
    pub fn team_shares(&self, workspace: &str) -> Result<Vec<Share>> {
        let action = "listing share links";
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {SHARE_COLUMNS} FROM shares WHERE workspace = ?1 ORDER BY created_at DESC, id"
            ))
            .map_err(sql(action))?;
        let rows = statement
            .query_map(params![workspace], share_row)
            .map_err(sql(action))?;
        rows.collect::<crate::db::DbResult<_>>()
            .map_err(sql(action))
    }

    /// Revokes a workspace's share link; `false` when it has no live one by
    /// that id.
    pub fn team_revoke_share(&self, workspace: &str, id: &str) -> Result<bool> {
        let changed = self
            .connection()
            .execute(
                "UPDATE shares SET revoked_at = ?3
                 WHERE id = ?1 AND workspace = ?2 AND revoked_at IS NULL",
                params![id, workspace, now_ms()],
            )
            .map_err(sql("revoking a share link"))?;
        Ok(changed == 1)
    }

    /// The account an OIDC provider's subject signs in as.
    pub fn team_oidc_account(&self, issuer: &str, subject: &str) -> Result<Option<String>> {
        self.connection()
            .query_row(
                "SELECT account FROM oidc_links WHERE issuer = ?1 AND subject = ?2",
                params![issuer, subject],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading an OIDC link"))
    }

    /// Links a provider's subject to `account`; `false` when the account is
    /// already linked to another subject of that provider.
    pub fn team_oidc_link(&self, issuer: &str, subject: &str, account: &str) -> Result<bool> {
        let linked = self
            .connection()
            .execute(
                "INSERT INTO oidc_links (issuer, subject, account, linked_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![issuer, subject, account, now_ms()],
            )
            .map_err(sql("linking an OIDC subject"))?;
        Ok(linked == 1)
    }

    /// Records a failed login for `account` from `address`.
    pub fn team_login_failed(&self, account: &str, address: &str) -> Result<()> {
        self.connection()
            .execute(
                "INSERT INTO login_failures (account, address, at_ms) VALUES (?1, ?2, ?3)",
                params![account, address, now_ms()],
            )
            .map_err(sql("recording a failed login"))?;
        Ok(())
    }

    /// Failed logins of `account` since `since_ms`, and the newest one's time.
    pub fn team_login_failures(&self, account: &str, since_ms: u64) -> Result<(u32, u64)> {
        self.connection()
            .query_row(
                "SELECT count(*), coalesce(max(at_ms), 0) FROM login_failures
                 WHERE account = ?1 AND at_ms >= ?2",
                params![account, signed(since_ms)],
                |row| {
                    Ok((
                        u32::try_from(row.get::<i64>(0)?).unwrap_or(u32::MAX),
                        unsigned(row.get(1)?),
                    ))
                },
            )
            .map_err(sql("counting failed logins"))
    }

    /// Forgets `account`'s failed logins (after a successful one).
    pub fn team_clear_login_failures(&self, account: &str) -> Result<()> {
        self.connection()
            .execute(
                "DELETE FROM login_failures WHERE account = ?1",
                params![account],
            )
            .map_err(sql("clearing failed logins"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(id: &str, account: &str) -> StoredCredential {
        StoredCredential {
            credential: Credential {
                id: id.to_owned(),
                account: account.to_owned(),
                kind: CredentialKind::Token,
                label: "ci".to_owned(),
                scopes: vec!["read".to_owned(), "run".to_owned()],
                created_at_ms: 1,
                expires_at_ms: 2,
                last_used_at_ms: None,
                revoked_at_ms: None,
            },
            secret_hash: "ab".repeat(32),
            csrf_hash: None,
        }
    }

    #[test]
    fn roles_grants_credentials_and_failures_round_trip() {
        let (_dir, store) = crate::scratch();
        assert!(store
            .team_add_account("ada", Some("$argon2id$x"))
            .expect("add"));
        assert!(!store.team_add_account("ada", None).expect("taken"));
        assert!(store.team_add_account("bob", None).expect("add"));
        assert!(store.team_add_workspace("team").expect("workspace"));
        store
            .team_set_role("team", None, "bob", "viewer")
            .expect("member");
        store
            .team_set_role("team", Some("deploy"), "bob", "executor")
            .expect("grant");
        assert_eq!(
            store
                .team_role("team", None, "bob")
                .expect("role")
                .as_deref(),
            Some("viewer")
        );
        assert_eq!(
            store
                .team_role("team", Some("deploy"), "bob")
                .expect("grant")
                .as_deref(),
            Some("executor")
        );
        assert_eq!(
            store
                .team_role("team", Some("other"), "bob")
                .expect("no grant")
                .as_deref(),
            Some("viewer")
        );
        assert_eq!(store.team_role("team", None, "ada").expect("none"), None);
        let listed = store.team_memberships(Some("team"), None).expect("list");
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert_eq!(listed[0].flow, None);

        store
            .team_add_credential(&credential("tok1", "bob"))
            .expect("credential");
        let stored = store.team_credential("tok1").expect("read").expect("some");
        assert_eq!(stored.credential.scopes, ["read", "run"]);
        assert!(!store.team_revoke("ada", "tok1").expect("not hers"));
        assert!(store.team_revoke("bob", "tok1").expect("revoke"));
        assert!(!store.team_revoke("bob", "tok1").expect("already"));
        assert!(store
            .team_credential("tok1")
            .expect("read")
            .expect("kept")
            .credential
            .revoked_at_ms
            .is_some());

        store.team_login_failed("ada", "127.0.0.1").expect("fail");
        store.team_login_failed("ada", "127.0.0.1").expect("fail");
        assert_eq!(store.team_login_failures("ada", 0).expect("count").0, 2);
        store.team_clear_login_failures("ada").expect("clear");
        assert_eq!(store.team_login_failures("ada", 0).expect("count").0, 0);

        // Deleting an account takes its roles and credentials with it.
        store
            .connection()
            .execute("DELETE FROM accounts WHERE name = 'bob'", &[])
            .expect("delete");
        assert!(store
            .team_memberships(None, Some("bob"))
            .expect("list")
            .is_empty());
        assert!(store.team_credential("tok1").expect("read").is_none());
    }
}
