//! Signed bundles of flows, agents and templates: the signing identity (in
//! the vault), the trust list (a file in the data home), export, and an
//! import that checks everything before it writes anything.

use std::path::{Path, PathBuf};

use codexos_bundle::{File, Kind, Signer, SigningKeys, TrustList};
use codexos_flow::ports::AgentSpec;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::{Error, Result, Runtime};

/// Vault secret holding this home's signing keys.
pub const SIGNING_SECRET: &str = "codexos.signing";
/// Store setting with the name signatures carry.
const SIGNER_NAME: &str = "signing.name";

/// What a bundle holds and who vouches for it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleCheck {
    /// Bundle name.
    pub name: String,
    /// Unix seconds it was made.
    pub created_at: u64,
    /// `flow NAME`, `agent NAME@VERSION`, `template NAME`.
    pub files: Vec<String>,
    /// The signer, when signed (the signature verified).
    pub signer: Option<Signer>,
    /// The signer's fingerprint.
    pub fingerprint: Option<String>,
    /// Whether the signer is on the trust list.
    pub trusted: bool,
}

/// How an import may proceed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleImport {
    /// Import an unsigned bundle (a tampered one never imports).
    pub allow_unsigned: bool,
    /// Add an unknown signer to the trust list and import.
    pub trust_signer: bool,
    /// The fingerprint the user saw when they verified the bundle: a file
    /// signed by anyone else (replaced since) is refused, never trusted.
    pub expected_signer: Option<String>,
}

/// What an import wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleImported {
    /// What was checked.
    pub check: BundleCheck,
    /// Flow files written (a new version when the flow existed).
    pub flows: Vec<PathBuf>,
    /// Agents published (`name@version`); ones already published with the
    /// same definition are listed too.
    pub agents: Vec<String>,
    /// Template files written.
    pub templates: Vec<PathBuf>,
    /// Whether the signer was added to the trust list.
    pub signer_added: bool,
}

/// A bundle's files, parsed and checked, not yet written.
struct Staged {
    flows: Vec<codexos_flow::Flow>,
    agents: Vec<(AgentSpec, String)>,
    templates: Vec<codexos_flow::Flow>,
}

/// What goes into a bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleContents {
    /// Flows by name or path.
    pub flows: Vec<String>,
    /// Published agents: `name@version`, or `name` for the latest.
    pub agents: Vec<String>,
    /// Template files (flow files meant as starting points).
    pub templates: Vec<PathBuf>,
}

fn describe(file: &File) -> String {
    match file.kind {
        Kind::Flow => format!("flow {}", file.name),
        Kind::Agent => format!("agent {}", file.name),
        Kind::Template => format!("template {}", file.name),
    }
}

impl Runtime {
    fn trust_path(&self) -> PathBuf {
        self.home.root().join("trust.json")
    }

    fn signing_keys(&self) -> Result<Option<(SigningKeys, String)>> {
        let stored = match self.vault.get_for(SIGNING_SECRET, "signing keys") {
            Ok(stored) => stored,
            Err(codexos_vault::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let keys = SigningKeys::from_stored(stored.expose_secret())?;
        let name = self
            .store
            .meta(SIGNER_NAME)?
            .unwrap_or_else(|| "CodexOS user".to_owned());
        Ok(Some((keys, name)))
    }

    /// Makes this home's signing keys (Ed25519 + ML-DSA-65), kept in the
    /// vault. An existing key is replaced only with `replace`.
    pub fn generate_signing_keys(&self, name: &str, replace: bool) -> Result<Signer> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::BundleContent {
                name: "signing keys".to_owned(),
                message: "the signer name must be 1 to 200 characters (who you are: `--name \"Ada Lovelace\"`)".to_owned(),
            });
        }
        if let Some((keys, old_name)) = self.signing_keys()? {
            if !replace {
                return Err(Error::SigningKeyExists {
                    fingerprint: keys.public(&old_name).fingerprint(),
                });
            }
        }
        let keys = SigningKeys::generate();
        self.set_secret(SIGNING_SECRET, &keys.to_stored())?;
        self.store.set_meta(SIGNER_NAME, name)?;
        Ok(keys.public(name))
    }

    /// This home's public signing identity, if it has keys.
    pub fn signing_identity(&self) -> Result<Option<Signer>> {
        Ok(self.signing_keys()?.map(|(keys, name)| keys.public(&name)))
    }

    /// The signers whose bundles import without a question.
    pub fn trust_list(&self) -> Result<TrustList> {
        Ok(TrustList::load(&self.trust_path())?)
    }

    /// Adds a signer to the trust list; `false` when already there.
    pub fn trust_signer(&self, signer: Signer) -> Result<bool> {
        let mut list = self.trust_list()?;
        let name = signer.name.clone();
        let key = signer.ed25519.clone();
        let added = list.add(signer);
        if added {
            list.save(&self.trust_path())?;
            self.audited("signer.trust", &name, serde_json::json!({ "ed25519": key }));
        }
        Ok(added)
    }

    /// Removes the signer with this fingerprint (or unique prefix).
    pub fn untrust_signer(&self, fingerprint: &str) -> Result<Signer> {
        let mut list = self.trust_list()?;
        let removed = list
            .remove(fingerprint)
            .ok_or_else(|| Error::UnknownSigner {
                fingerprint: fingerprint.to_owned(),
            })?;
        list.save(&self.trust_path())?;
        self.audited("signer.untrust", fingerprint, serde_json::json!({}));
        Ok(removed)
    }

    /// Makes a bundle file: signed with this home's keys, or unsigned when
    /// `signed` is false.
    pub fn export_bundle(
        &self,
        name: &str,
        contents: &BundleContents,
        signed: bool,
    ) -> Result<Vec<u8>> {
        let mut files = Vec::new();
        for flow in &contents.flows {
            let path = self.find_flow(flow)?;
            let parsed = crate::flows::read_flow(&path)?;
            files.push(File::new(
                Kind::Flow,
                &parsed.name,
                &parsed.to_pretty_json(),
            ));
        }
        for reference in &contents.agents {
            let agent = self.agent(reference)?;
            let text =
                serde_json::to_string_pretty(&agent.spec).map_err(|error| Error::AgentFile {
                    path: PathBuf::from(reference),
                    message: error.to_string(),
                })?;
            files.push(File::new(
                Kind::Agent,
                &format!("{}@{}", agent.name, agent.version),
                &text,
            ));
        }
        for path in &contents.templates {
            let parsed = crate::flows::read_flow(path)?;
            files.push(File::new(
                Kind::Template,
                &parsed.name,
                &parsed.to_pretty_json(),
            ));
        }
        if files.is_empty() {
            return Err(Error::BundleContent {
                name: name.to_owned(),
                message: "it would be empty: name at least one flow, agent or template".to_owned(),
            });
        }
        if !signed {
            return Ok(codexos_bundle::unsigned(name, files)?);
        }
        let (keys, signer_name) = self.signing_keys()?.ok_or(Error::NoSigningKey)?;
        Ok(codexos_bundle::sign(name, files, &keys, &signer_name)?)
    }

    /// Reads a bundle file, refusing one larger than a bundle can be
    /// ([`MAX_BUNDLE_BYTES`](crate::MAX_BUNDLE_BYTES)) before reading it.
    pub fn read_bundle(&self, path: &Path) -> Result<Vec<u8>> {
        let io = |source| Error::Home {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > crate::MAX_BUNDLE_BYTES as u64 {
            return Err(Error::BundleContent {
                name: path.display().to_string(),
                message: format!(
                    "the file is {size} bytes, larger than a bundle can be ({} MiB), so it was not read",
                    crate::MAX_BUNDLE_BYTES / (1024 * 1024)
                ),
            });
        }
        std::fs::read(path).map_err(io)
    }

    /// [`Runtime::export_bundle`] into the data home's `exports/` folder as
    /// `NAME.codexos-bundle` (replacing one of that name); returns the file.
    pub fn export_bundle_file(
        &self,
        name: &str,
        contents: &BundleContents,
        signed: bool,
    ) -> Result<PathBuf> {
        if !crate::flows::valid_flow_name(name) {
            return Err(Error::BundleContent {
                name: name.to_owned(),
                message: "its name must be letters, digits, `-` and `_` (it becomes a file name)"
                    .to_owned(),
            });
        }
        let bytes = self.export_bundle(name, contents, signed)?;
        crate::flows::write_in_place(
            &self.home.exports(),
            &format!("{name}.codexos-bundle"),
            &bytes,
        )
    }

    /// Checks a bundle: tampered or malformed bundles are errors; unsigned
    /// ones and unknown signers are reported, not refused.
    pub fn check_bundle(&self, bytes: &[u8]) -> Result<(BundleCheck, Vec<File>)> {
        match codexos_bundle::verify(bytes, &self.trust_list()?) {
            Ok(verified) => Ok((
                BundleCheck {
                    name: verified.manifest.name,
                    created_at: verified.manifest.created_at,
                    files: verified.files.iter().map(describe).collect(),
                    signer: Some(verified.signer),
                    fingerprint: Some(verified.fingerprint),
                    trusted: verified.trusted,
                },
                verified.files,
            )),
            Err(codexos_bundle::Error::Unsigned { .. }) => {
                let inspected = codexos_bundle::inspect(bytes)?;
                Ok((
                    BundleCheck {
                        name: inspected.manifest.name,
                        created_at: inspected.manifest.created_at,
                        files: inspected.files.iter().map(describe).collect(),
                        signer: None,
                        fingerprint: None,
                        trusted: false,
                    },
                    inspected.files,
                ))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Parses and checks every file of a bundle, writing nothing.
    fn stage(&self, bundle: &str, files: &[File]) -> Result<Staged> {
        let mut flows = Vec::new();
        let mut agents: Vec<(AgentSpec, String)> = Vec::new();
        let mut templates = Vec::new();
        let invalid = |file: &File, message: String| Error::BundleContent {
            name: bundle.to_owned(),
            message: format!("{}: {message}", describe(file)),
        };
        for file in files {
            match file.kind {
                Kind::Flow | Kind::Template => {
                    let flow = codexos_flow::model::parse(&file.content)
                        .map_err(|error| invalid(file, error.to_string()))?;
                    if !crate::flows::valid_flow_name(&flow.name) {
                        return Err(invalid(
                            file,
                            "its name must be letters, digits, `-` and `_` (it becomes a file name)"
                                .to_owned(),
                        ));
                    }
                    if flow.name != file.name {
                        return Err(invalid(
                            file,
                            format!("it holds a flow named `{}`", flow.name),
                        ));
                    }
                    if file.kind == Kind::Flow {
                        flows.push(flow);
                    } else {
                        templates.push(flow);
                    }
                }
                Kind::Agent => {
                    let spec: AgentSpec = serde_json::from_str(&file.content)
                        .map_err(|error| invalid(file, error.to_string()))?;
                    if format!("{}@{}", spec.name, spec.version) != file.name {
                        return Err(invalid(
                            file,
                            format!("it holds agent `{}@{}`", spec.name, spec.version),
                        ));
                    }
                    let stored = serde_json::to_string(&spec)
                        .map_err(|error| invalid(file, error.to_string()))?;
                    if let Some(existing) = self.store.agent(&spec.name, &spec.version)? {
                        let same = serde_json::from_str::<AgentSpec>(&existing)
                            .is_ok_and(|known| known == spec);
                        if !same {
                            return Err(invalid(
                                file,
                                "this version is published here with another definition, and published versions never change".to_owned(),
                            ));
                        }
                    }
                    agents.push((spec, stored));
                }
            }
        }
        Ok(Staged {
            flows,
            agents,
            templates,
        })
    }

    /// Imports a bundle: verified first, then every file checked, then
    /// written — a problem anywhere writes nothing.
    pub fn import_bundle(&self, bytes: &[u8], options: &BundleImport) -> Result<BundleImported> {
        let (check, files) = self.check_bundle(bytes)?;
        if let Some(expected) = &options.expected_signer {
            if check.fingerprint.as_deref() != Some(expected.as_str()) {
                return Err(Error::BundleContent {
                    name: check.name.clone(),
                    message: format!(
                        "it is signed by {} now, not by the key {expected} you verified — the file changed since; verify it again",
                        check.fingerprint.as_deref().unwrap_or("nobody")
                    ),
                });
            }
        }
        let mut signer_added = false;
        match (&check.signer, check.trusted) {
            (None, _) if !options.allow_unsigned => {
                return Err(codexos_bundle::Error::Unsigned {
                    name: check.name.clone(),
                }
                .into())
            }
            (Some(signer), false) if !options.trust_signer => {
                return Err(Error::UntrustedSigner {
                    name: check.name.clone(),
                    signer: signer.name.clone(),
                    fingerprint: check.fingerprint.clone().unwrap_or_default(),
                })
            }
            _ => {}
        }
        // Everything is parsed and checked before anything is written.
        let staged = self.stage(&check.name, &files)?;
        if let (Some(signer), false, true) = (&check.signer, check.trusted, options.trust_signer) {
            signer_added = self.trust_signer(signer.clone())?;
        }
        let mut report = BundleImported {
            check,
            flows: Vec::new(),
            agents: Vec::new(),
            templates: Vec::new(),
            signer_added,
        };
        for (spec, stored) in staged.agents {
            self.store
                .publish_agent(&spec.name, &spec.version, &stored)?;
            report
                .agents
                .push(format!("{}@{}", spec.name, spec.version));
        }
        // An imported flow is a fork of the bundle's: it records where it
        // came from and who signed it (a bundle carries no version numbers).
        for mut flow in staged.flows {
            flow.forked_from = Some(codexos_flow::ForkOrigin {
                origin: format!("bundle:{}", report.check.name),
                flow: flow.name.clone(),
                version: 0,
                signer: report.check.fingerprint.clone(),
            });
            report.flows.push(self.save_flow(&flow)?.0);
        }
        let folder = self.home.root().join("templates");
        for template in staged.templates {
            report
                .templates
                .push(crate::flows::write_flow_file(&folder, &template)?);
        }
        self.audited(
            "bundle.import",
            "",
            serde_json::json!({ "report": &report }),
        );
        Ok(report)
    }
}

/// A signer from a file someone shared: their public identity (`keys show
/// --public`) or a bundle they signed.
pub fn signer_from_file(bytes: &[u8]) -> Result<Signer> {
    if let Ok(signer) = serde_json::from_slice::<Signer>(bytes) {
        return Ok(signer);
    }
    let verified = codexos_bundle::verify(bytes, &TrustList::default())?;
    Ok(verified.signer)
}

#[cfg(test)]
mod tests {
    use codexos_bundle::{File, Kind};

    use crate::{BundleImport, Error, Home, Runtime};

    #[test]
    fn a_bundled_name_that_is_not_a_file_name_stops_the_import_before_any_write() {
        let home = tempfile::tempdir().expect("temp dir");
        let runtime = Runtime::open(Home::new(home.path().join("home"), None)).expect("runtime");
        let good = r#"{"version": 2, "name": "fine", "state": {}, "nodes": [], "edges": []}"#;
        let evil =
            r#"{"version": 2, "name": "../../escape", "state": {}, "nodes": [], "edges": []}"#;
        let bytes = codexos_bundle::unsigned(
            "hostile",
            vec![
                File::new(Kind::Flow, "fine", good),
                File::new(Kind::Template, "../../escape", evil),
            ],
        )
        .expect("bundle");
        let options = BundleImport {
            allow_unsigned: true,
            trust_signer: false,
            expected_signer: None,
        };
        let error = runtime
            .import_bundle(&bytes, &options)
            .expect_err("refused");
        assert!(
            matches!(&error, Error::BundleContent { message, .. } if message.contains("file name")),
            "{error}"
        );
        assert!(
            !home.path().join("home/flows/fine.flow.json").exists(),
            "nothing written"
        );
        assert!(!home.path().join("escape.flow.json").exists());
    }
}
