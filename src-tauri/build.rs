//! Build script: compiles the Tauri context. Capabilities live in
//! `src-tauri/capabilities/`, which a plain `tauri_build::build()` would not see
//! (it looks beside the manifest, at the root), so the pattern is given explicitly.

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=tauri.conf.json");
    // The isolation hook and its generated allow-list are embedded.
    println!("cargo:rerun-if-changed=ui/isolation");
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {error:#}");
    }
}
