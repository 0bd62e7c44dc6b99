//! Integration tests of the LLM layer on real parts: llama.cpp with the
//! SmolLM2-135M GGUF from `CODEXOS_MODELS` (`make test` sets it; the Qwen
//! 0.5B tool-call test runs when its file is there too), and remote
//! protocols against real HTTP servers on 127.0.0.1.

mod local;
mod remote;
mod router;
mod scripted;
