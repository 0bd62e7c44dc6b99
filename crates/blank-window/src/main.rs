//! A blank Tauri 2 window: one static page, no commands, no engine.
//!
//! `make bench-app` measures it beside CodexOS in the same run, on the same
//! WebKitGTK and display, so the app's idle memory and start time can be read
//! against what any Tauri app costs on the machine (docs/performance.md).

fn main() -> std::process::ExitCode {
    match tauri::Builder::default().run(tauri::generate_context!()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codexos-blank-window: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
