//! Build script: compiles the Tauri context of the blank window.

fn main() {
    tauri_build::build();
}
