//! The desktop binary: everything lives in the library so tests can reach it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Before any thread: llama.cpp's OpenMP settings are read at start-up.
    codexos_runtime::prepare_process();
    match codexos_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("codexos-desktop: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
