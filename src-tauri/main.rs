//! The desktop binary: everything lives in the library so tests can reach it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Before any thread: llama.cpp's OpenMP settings are read at start-up.
    codexos_runtime::prepare_process();
    // Also before any thread, and after `prepare_process` (which may re-execute
    // the program): WebKit reads its compositing mode at start-up.
    codexos_desktop::display::prepare();
    match codexos_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codexos-desktop: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
