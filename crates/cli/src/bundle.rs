//! `codexos bundle …` (signed bundles of flows, agents and templates) and
//! `codexos keys …` (this home's signing identity and the trust list).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use codexos_runtime::{
    signer_from_file, BundleCheck, BundleContents, BundleImport, Runtime, Signer,
};

/// `codexos bundle …`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write flows, agents and templates to one signed file.
    Export {
        /// The bundle file to write.
        file: PathBuf,
        /// A flow (name or path); repeat for more.
        #[arg(long = "flow")]
        flows: Vec<String>,
        /// A published agent (`name@version`, or `name` for the latest).
        #[arg(long = "agent")]
        agents: Vec<String>,
        /// A template: a flow file meant as a starting point.
        #[arg(long = "template")]
        templates: Vec<PathBuf>,
        /// Bundle name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// Do not sign (importers then need `--allow-unsigned`).
        #[arg(long)]
        unsigned: bool,
    },
    /// Check a bundle without importing it: hashes, both signatures, and
    /// whether the signer is trusted. Exit code 1 unless signed by a
    /// trusted key.
    Verify {
        /// Bundle file.
        file: PathBuf,
    },
    /// Verify a bundle, then import everything in it (all or nothing).
    Import {
        /// Bundle file.
        file: PathBuf,
        /// Import an unsigned bundle (a tampered one never imports).
        #[arg(long)]
        allow_unsigned: bool,
        /// Trust the bundle's signer (after checking its fingerprint with
        /// them) and import.
        #[arg(long)]
        trust: bool,
    },
}

/// `codexos keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make this home's signing keys (Ed25519 + ML-DSA-65), kept in the vault.
    Generate {
        /// The name your signatures carry.
        #[arg(long)]
        name: String,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Show this home's signing identity; `--public FILE` writes it for
    /// others to trust.
    Show {
        /// Write the public identity to this file.
        #[arg(long)]
        public: Option<PathBuf>,
    },
    /// Trust a signer: a public identity file (`keys show --public`) or a
    /// bundle they signed.
    Trust {
        /// Identity or bundle file.
        file: PathBuf,
    },
    /// Stop trusting a signer (fingerprint, or a unique prefix of it).
    Untrust {
        /// Fingerprint.
        fingerprint: String,
    },
    /// The trusted signers.
    List,
}

fn print_check(check: &BundleCheck) {
    println!("bundle:   {}", check.name);
    for file in &check.files {
        println!("  {file}");
    }
    match (&check.signer, &check.fingerprint) {
        (Some(signer), Some(fingerprint)) => {
            let trust = if check.trusted {
                "trusted"
            } else {
                "NOT on your trust list"
            };
            println!(
                "signed:   by `{}`, fingerprint {fingerprint} ({trust})",
                signer.name
            );
        }
        _ => println!("signed:   NO — anyone could have written it"),
    }
}

pub fn bundle(runtime: &Runtime, command: BundleCommand, json: bool) -> anyhow::Result<()> {
    match command {
        BundleCommand::Export {
            file,
            flows,
            agents,
            templates,
            name,
            unsigned,
        } => {
            let name = name.unwrap_or_else(|| {
                file.file_stem().map_or_else(
                    || "bundle".to_owned(),
                    |stem| stem.to_string_lossy().into_owned(),
                )
            });
            let contents = BundleContents {
                flows,
                agents,
                templates,
            };
            let bytes = runtime.export_bundle(&name, &contents, !unsigned)?;
            std::fs::write(&file, &bytes)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            let how = if unsigned { "unsigned" } else { "signed" };
            crate::render::done(
                &format!("wrote {how} bundle `{name}` to {}", file.display()),
                json,
            );
            Ok(())
        }
        BundleCommand::Verify { file } => {
            let (check, _) = runtime.check_bundle(&runtime.read_bundle(&file)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&check)?);
            } else {
                print_check(&check);
            }
            match (&check.signer, check.trusted) {
                (None, _) => anyhow::bail!(
                    "`{}` is not signed — import it only if you trust where it came from (`--allow-unsigned`)",
                    file.display()
                ),
                (Some(signer), false) => anyhow::bail!(
                    "`{}` is signed by `{}`, who is not on your trust list — check the fingerprint with them, then `codexos keys trust {}`",
                    file.display(),
                    signer.name,
                    file.display()
                ),
                (Some(_), true) => Ok(()),
            }
        }
        BundleCommand::Import {
            file,
            allow_unsigned,
            trust,
        } => {
            let options = BundleImport {
                allow_unsigned,
                trust_signer: trust,
                expected_signer: None,
            };
            let report = runtime.import_bundle(&runtime.read_bundle(&file)?, &options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_check(&report.check);
                if report.signer_added {
                    println!("trusted:  the signer was added to your trust list");
                }
                for path in report.flows.iter().chain(&report.templates) {
                    println!("wrote     {}", path.display());
                }
                for agent in &report.agents {
                    println!("agent     {agent}");
                }
            }
            Ok(())
        }
    }
}

fn print_signer(signer: &Signer) {
    println!("{}  {}", signer.fingerprint(), signer.name);
}

pub fn keys(runtime: &Runtime, command: KeysCommand, json: bool) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { name, force } => {
            let signer = runtime.generate_signing_keys(&name, force)?;
            crate::render::done(
                &format!(
                    "made signing keys for `{}` (Ed25519 + ML-DSA-65, in the vault); fingerprint {}",
                    signer.name,
                    signer.fingerprint()
                ),
                json,
            );
        }
        KeysCommand::Show { public } => {
            let signer = runtime
                .signing_identity()?
                .context("this data home has no signing key — make one with `codexos keys generate --name \"YOUR NAME\"`")?;
            if let Some(path) = public {
                std::fs::write(&path, serde_json::to_string_pretty(&signer)?)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "name": signer.name, "fingerprint": signer.fingerprint() })
                );
            } else {
                print_signer(&signer);
            }
        }
        KeysCommand::Trust { file } => {
            let signer = signer_from_file(&runtime.read_bundle(&file)?)?;
            let fingerprint = signer.fingerprint();
            let name = signer.name.clone();
            let added = runtime.trust_signer(signer)?;
            let message = if added {
                format!("now trusting `{name}` (fingerprint {fingerprint})")
            } else {
                format!("`{name}` (fingerprint {fingerprint}) was trusted already")
            };
            crate::render::done(&message, json);
        }
        KeysCommand::Untrust { fingerprint } => {
            let signer = runtime.untrust_signer(&fingerprint)?;
            crate::render::done(
                &format!(
                    "no longer trusting `{}` ({})",
                    signer.name,
                    signer.fingerprint()
                ),
                json,
            );
        }
        KeysCommand::List => {
            let list = runtime.trust_list()?;
            if json {
                let rows: Vec<_> = list
                    .signers
                    .iter()
                    .map(|signer| serde_json::json!({ "name": signer.name, "fingerprint": signer.fingerprint() }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if list.signers.is_empty() {
                println!("no trusted signers — add one with `codexos keys trust FILE`");
            } else {
                list.signers.iter().for_each(print_signer);
            }
        }
    }
    Ok(())
}
