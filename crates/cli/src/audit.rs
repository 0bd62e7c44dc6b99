//! `codexos audit`: the append-only, hash-chained log of every change and
//! every secret use — a thin shell over the runtime.

use codexos_runtime::Runtime;

use crate::render;

/// `codexos audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// The newest entries first: who, what, when, from where.
    List {
        /// Only this action or those under it (`secret` takes `secret.use`,
        /// `secret.set`, …).
        #[arg(long, default_value = "")]
        action: String,
        /// Only entries whose target or detail contains this text.
        #[arg(long, default_value = "")]
        search: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Checks every link of the chain: exit 1 naming the first entry that
    /// was edited, deleted or inserted. Prints the head (the last entry's
    /// hash): record it elsewhere and pass it back with `--head` to catch a
    /// log rewritten from some point on.
    Verify {
        /// A head printed by an earlier `audit verify`: it must still be in
        /// the log.
        #[arg(long)]
        head: Option<String>,
    },
}

/// Runs an audit command.
pub fn audit(runtime: &Runtime, command: AuditCommand, json: bool) -> anyhow::Result<()> {
    match command {
        AuditCommand::List {
            action,
            search,
            limit,
        } => {
            let entries = runtime.audit_entries(&action, &search, limit)?;
            if json {
                return render::print_json(&entries);
            }
            if entries.is_empty() {
                println!("no audit entries match");
            }
            for entry in &entries {
                let detail = if entry.detail == "{}" {
                    String::new()
                } else {
                    format!("  {}", entry.detail)
                };
                println!(
                    "{:>6}  {}  {:<18} {:<24} {} ({}){detail}",
                    entry.seq,
                    render::utc_ms(entry.at_ms),
                    entry.action,
                    entry.target,
                    entry.who,
                    entry.origin
                );
            }
            Ok(())
        }
        AuditCommand::Verify { head } => {
            let check = runtime.audit_verify(head.as_deref())?;
            if json {
                render::print_json(&check)?;
            } else if check.broken.is_none() {
                println!(
                    "the audit log is whole: {} entries · head {}",
                    check.entries, check.head
                );
                if let Some(at) = check.given_head_at {
                    println!("the head given is entry {at}: nothing before it changed");
                }
            }
            match check.broken {
                Some(broken) if broken.seq == 0 => Err(anyhow::anyhow!(
                    "the audit log was tampered with: {}",
                    broken.reason
                )),
                Some(broken) => Err(anyhow::anyhow!(
                    "the audit log was tampered with at entry {}: {}",
                    broken.seq,
                    broken.reason
                )),
                None => Ok(()),
            }
        }
    }
}
