//! A blank Tauri 2 window: one static page, no commands, no engine.
//!
//! `make bench-app` measures it beside CodexOS in the same run, on the same
//! WebKitGTK and display, so the app's idle memory and start time can be read
//! against what any Tauri app costs on the machine (docs/performance.md).

fn main() -> std::process::ExitCode {
    // The choice CodexOS makes (src-tauri/display.rs), so the two are
    // measured alike: no GPU render node, no OpenGL compositing.
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    });
    if !render_node && std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // Before any thread exists: WebKit reads it at start-up.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    match tauri::Builder::default().run(tauri::generate_context!()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codexos-blank-window: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
