//! How the window is drawn on a machine without a GPU driver.
//!
//! WebKitGTK composites the page with OpenGL. Where the kernel exposes no
//! GPU render node (no `/dev/dri/renderD*`: most servers, containers, CI and
//! Xvfb sessions), Mesa runs that OpenGL on the CPU (llvmpipe), which is
//! slower than WebKit's own CPU painting and keeps extra layers in memory
//! (measured in docs/performance.md, "GPU compositing on a machine without a
//! GPU"). So the app turns compositing off there, before GTK starts, unless
//! the user chose. A render node does not prove hardware OpenGL (a VM's
//! virtual GPU has one too); `CODEXOS_GPU_COMPOSITING=0` turns compositing off
//! on such a machine, `=1` keeps it everywhere.

use std::path::Path;
use std::sync::OnceLock;

/// The variable WebKitGTK reads at start-up.
const WEBKIT_VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
/// The user's override: `1` keeps GPU compositing, `0` turns it off.
pub const OVERRIDE_VARIABLE: &str = "CODEXOS_GPU_COMPOSITING";

/// What the app decided, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compositing {
    /// WebKit's default: composited with OpenGL on the GPU.
    Gpu,
    /// Off because no GPU render node exists (OpenGL would run on the CPU).
    OffNoGpu,
    /// As the user set it (`WEBKIT_DISABLE_COMPOSITING_MODE` or the override).
    AsSet,
}

/// The pure decision, and whether to turn compositing off: `webkit_set` is
/// whether WebKit's own variable is in the environment, `choice` the
/// override's value, `render_node` whether a GPU render node exists.
#[must_use]
pub fn decide(webkit_set: bool, choice: Option<&str>, render_node: bool) -> (Compositing, bool) {
    if webkit_set {
        return (Compositing::AsSet, false);
    }
    match choice.map(str::trim) {
        Some("1") => (Compositing::AsSet, false),
        Some("0") => (Compositing::AsSet, true),
        _ if render_node => (Compositing::Gpu, false),
        _ => (Compositing::OffNoGpu, true),
    }
}

/// Whether `dir` (normally `/dev/dri`) holds a render node.
#[must_use]
pub fn has_render_node(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    })
}

static DECISION: OnceLock<Compositing> = OnceLock::new();

/// What [`prepare`] decided (`Gpu` if it did not run).
#[must_use]
pub fn decision() -> Compositing {
    DECISION.get().copied().unwrap_or(Compositing::Gpu)
}

/// Applies the decision to this process's environment. Call first thing in
/// `main`, before any thread exists (the environment is process-wide).
pub fn prepare() -> Compositing {
    *DECISION.get_or_init(|| {
        if cfg!(target_os = "linux") {
            linux()
        } else {
            Compositing::Gpu
        }
    })
}

fn linux() -> Compositing {
    let choice = std::env::var(OVERRIDE_VARIABLE).ok();
    let (decision, disable) = decide(
        std::env::var_os(WEBKIT_VARIABLE).is_some(),
        choice.as_deref(),
        has_render_node(Path::new("/dev/dri")),
    );
    if disable {
        std::env::set_var(WEBKIT_VARIABLE, "1");
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositing_is_turned_off_only_without_a_gpu_and_without_a_choice() {
        assert_eq!(decide(false, None, true), (Compositing::Gpu, false));
        assert_eq!(decide(false, None, false), (Compositing::OffNoGpu, true));
        assert_eq!(decide(false, Some("1"), false), (Compositing::AsSet, false));
        assert_eq!(decide(false, Some("0"), true), (Compositing::AsSet, true));
        assert_eq!(decide(true, Some("0"), false), (Compositing::AsSet, false));
    }

    #[test]
    fn a_render_node_is_found_by_its_name() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("card0"), "")?;
        assert!(!has_render_node(dir.path()));
        std::fs::write(dir.path().join("renderD128"), "")?;
        assert!(has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("missing")));
        Ok(())
    }
}
