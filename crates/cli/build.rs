//! Fixes the commit and build profile the binary is built from, for the
//! setup line every benchmark prints (`codexos bench …`).

use std::process::Command;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for watched in [
        ".git/HEAD",
        ".git/refs/heads",
        ".git/packed-refs",
        ".git/index",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    // `+dirty` when the tree differed from the commit at build time.
    let commit = Command::new("git")
        .args([
            "describe",
            "--always",
            "--abbrev=12",
            "--dirty=+dirty",
            "--exclude=*",
        ])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        );
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".to_owned());
    let level = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "?".to_owned());
    println!("cargo:rustc-env=CODEXOS_COMMIT={commit}");
    println!("cargo:rustc-env=CODEXOS_BUILD={profile} (opt-level {level})");
}
