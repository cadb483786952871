#!/usr/bin/env bash
# PROCESSES simultaneous `keychain login` processes (default 64) on one Exact account whose
# token has just expired, ROUNDS times (default 1000), against the emulator; the release build.
# Prints the token requests (expected: exactly one per round), failed processes and rounds
# where the processes printed different tokens. Needs libfaketime (Debian package faketime).
#   benches/login_concurrency.sh 64 1000
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin keychain --example login_stampede
exec target/release/examples/login_stampede "${1:-64}" "${2:-1000}"
