# CodexOS — the two front-door commands are `make app` and `make test`.
# Both install what is missing first (system packages, UI packages, the
# default models, verified by sha256), so they work on a fresh Debian machine.

SHELL := /bin/bash
.DEFAULT_GOAL := app

# One build folder per machine, outside the clone, so fresh clones build incrementally.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/codexos/target
# Models: CODEXOS_MODELS if set, else the models folder of the data home the app uses.
MODELS_DIR := $(or $(CODEXOS_MODELS),$(if $(CODEXOS_HOME),$(CODEXOS_HOME)/models,$(HOME)/.local/share/codexos/models))
# Every Rust build selects the whole workspace with the same features: cargo unifies
# features per selection, so `-p one-crate` would rebuild half the dependency tree.
FEATURES := --features custom-protocol
BIN := $(CARGO_TARGET_DIR)/debug

FUZZ_SECONDS ?= 60
.PHONY: fuzz app run setup setup-test models models-test ui cli lint test test-rust test-ui e2e bindings fmt clean-e2e bench dist bench-app

## Build and launch the desktop app.
app: setup models ui
	cargo build --workspace $(FEATURES) --bin codexos-desktop
	CODEXOS_MODELS="$(MODELS_DIR)" $(BIN)/codexos-desktop

## Build the CLI and link it as ./bin/codexos.
cli: setup models
	cargo build --workspace $(FEATURES) --bin codexos
	mkdir -p bin && ln -sf "$(BIN)/codexos" bin/codexos
	@echo "CLI ready: ./bin/codexos --help   (models: $(MODELS_DIR))"

## Run the whole test suite: lint, Rust tests on real components, UI tests, end-to-end.
test: setup-test models-test ui lint test-rust test-ui e2e

setup:
	scripts/setup.sh app

setup-test:
	scripts/setup.sh test

models:
	scripts/fetch-models.sh "$(MODELS_DIR)"

## The models plus those the tests run (Qwen2.5-Coder-0.5B for tool calling).
models-test:
	scripts/fetch-models.sh --test "$(MODELS_DIR)"

ui:
	cd ui && npm run build

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets $(FEATURES) -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps $(FEATURES)
	cd ui && npm run lint && npm run typecheck

test-rust:
	CODEXOS_MODELS="$(MODELS_DIR)" scripts/with-keyring.sh cargo test --workspace $(FEATURES)
	# The store's unit tests and the team server's suite again, on PostgreSQL
	# (a server the tests start).
	CODEXOS_MODELS="$(MODELS_DIR)" scripts/with-keyring.sh scripts/test-postgres.sh $(FEATURES)

test-ui:
	cd ui && npm test

e2e:
	cargo build --workspace $(FEATURES) --bin codexos-desktop
	CODEXOS_MODELS="$(MODELS_DIR)" scripts/with-keyring.sh scripts/e2e.sh $(BIN)/codexos-desktop

## Build an optimised CLI and run every benchmark (docs/performance.md has the figures).
PROFILING := $(CARGO_TARGET_DIR)/profiling/codexos
BENCH_TREE ?= $(firstword $(wildcard $(HOME)/.cargo/registry/src/*/tokio-1.*))
# The real corpus of `bench search`: the Rust 1.95.0 standard library docs
# (scripts/setup.sh bench installs them).
RUST_DOCS ?= $(HOME)/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/share/doc/rust/html
SEARCH_CORPUS := --corpus $(RUST_DOCS)/std
bench: models
	scripts/setup.sh bench
	cargo build --profile profiling -p codexos-cli
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench retrieval --eval bench/eval/python-library.json
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench retrieval --eval bench/eval/tokio-source.json
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench search $(SEARCH_CORPUS) --eval bench/eval/python-library.json --eval bench/eval/tokio-source.json --sizes 15000,30000,60000,100000,1000000
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench search
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench embed /usr/share/doc/python3.11/html/library --batches 1,8,32,256 --python "$$(scripts/bench-venv.sh)"
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench ingest "$(BENCH_TREE)"
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench llm --llama-bench "$$(scripts/build-llama-bench.sh)"
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench flow --python "$$(scripts/bench-venv.sh langgraph)"
	CODEXOS_MODELS="$(MODELS_DIR)" $(PROFILING) bench watch crates/test-support/fixtures/lumen-docs

## Build the optimised installable package: a .deb (models are not in it:
## the app fetches and verifies them on first run). Release profile (size
## optimised, fat LTO); the package's data compressed with xz, as Debian's own.
DEB_DIR := $(CARGO_TARGET_DIR)/release/bundle/deb
dist: setup ui
	rm -f $(DEB_DIR)/*.deb
	ui/node_modules/.bin/tauri build --bundles deb
	scripts/repack-deb.sh $(DEB_DIR)/*.deb
	@ls -l $(DEB_DIR)/*.deb

## Measure the package: size, start to first painted frame, idle memory (beside
## a blank Tauri window's, crates/blank-window),
## panning a 1,000-node flow, typing while the model generates — the binary
## extracted from the .deb, in the real window under Xvfb (docs/performance.md).
bench-app: dist models
	rm -rf "$(CARGO_TARGET_DIR)/bench-app" && mkdir -p "$(CARGO_TARGET_DIR)/bench-app"
	dpkg-deb -x $(firstword $(wildcard $(DEB_DIR)/*.deb)) "$(CARGO_TARGET_DIR)/bench-app"
	cargo build --release -p codexos-blank-window --features custom-protocol
	CODEXOS_DEB="$(firstword $(wildcard $(DEB_DIR)/*.deb))" CODEXOS_E2E_SCRIPT=bench/app.mjs CODEXOS_MODELS="$(MODELS_DIR)" \
	  CODEXOS_BLANK_APP="$(CARGO_TARGET_DIR)/release/codexos-blank-window" \
	  scripts/with-keyring.sh scripts/e2e.sh "$(CARGO_TARGET_DIR)/bench-app/usr/bin/codexos-desktop"

## Regenerate ui/src/ipc/bindings.ts from the Tauri commands.
bindings:
	CODEXOS_UPDATE_BINDINGS=1 cargo test --workspace $(FEATURES) --lib -- typescript_bindings the_isolation_allow_list

fmt:
	cargo fmt --all

## Run every fuzz target for FUZZ_SECONDS (libFuzzer via cargo-fuzz; stable
## toolchain with RUSTC_BOOTSTRAP). New findings land in fuzz/corpus/.
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for target in flow_file tool_manifest bundle_verify vault_record vault_export; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run $$target corpus/$$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
