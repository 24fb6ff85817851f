# Switchboard: build, run and test. See scripts/setup.sh and scripts/test.sh for the details.
#
#   make setup   install the toolchain pieces (wasm target, wasm-bindgen CLI matching Cargo.lock,
#                end2end npm packages incl. wasm-opt 132 and esbuild)
#   make build   release build: target/release/switchboard + target/site (scripts/build.sh, plain
#                cargo: no cargo-leptos)
#   make dev     the edit loop: `cargo leptos watch` (installs cargo-leptos 0.3.5 first, ~16 min)
#   make run     build, then serve on 127.0.0.1:3000 (SQLite in data/ unless told otherwise)
#   make test    every test: cargo test (SQLite + PostgreSQL), release build, Playwright,
#                schemathesis against GET /api/openapi.json
#   make bench   benchmarks that print figures (the session hot path against tower-sessions; a login
#                flood against the release binary; a cleanup backlog; a 10-minute soak; the browser
#                figures from Playwright in Chromium).
#                docs/BENCHMARKS.md
#   make clean   remove build outputs and test artifacts (keeps data/ and node_modules)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# wasm-opt must be npm binaryen 132 from end2end/node_modules/.bin, first on PATH: Debian's
# binaryen (wasm-opt 108) builds a release whose page never hydrates. The wasm-bindgen CLI (and
# cargo-leptos, for `make dev`) live in cargo's bin dir.
CARGO_BIN_DIR := $(if $(CARGO_HOME),$(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(CARGO_BIN_DIR):$(PATH)
# Paths below assume the default target dir (target/release/switchboard, target/site).
unexport CARGO_TARGET_DIR

SWITCHBOARD_PROFILE ?= dev
SWITCHBOARD_DATABASE_URL ?= sqlite://data/switchboard.db

.PHONY: all setup build run dev test bench clean

all: build

setup:
	bash scripts/setup.sh

build: setup
	bash scripts/build.sh

run: build
	mkdir -p data
	SWITCHBOARD_PROFILE='$(SWITCHBOARD_PROFILE)' \
	SWITCHBOARD_DATABASE_URL='$(SWITCHBOARD_DATABASE_URL)' \
	target/release/switchboard serve

dev:
	bash scripts/setup.sh --dev
	mkdir -p data
	SWITCHBOARD_PROFILE='$(SWITCHBOARD_PROFILE)' \
	SWITCHBOARD_DATABASE_URL='$(SWITCHBOARD_DATABASE_URL)' \
	cargo leptos watch -- serve

test:
	bash scripts/test.sh

bench:
	cargo bench -p server --features bench-baseline --bench hot_path
	cargo bench -p server --bench login_flood
	cargo bench -p server --bench cleanup
	cargo bench -p server --bench soak
	bash scripts/test.sh --browser-figures

clean:
	cargo clean
	rm -rf end2end/test-results end2end/playwright-report
