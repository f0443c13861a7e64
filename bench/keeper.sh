#!/usr/bin/env bash
# Keeper ingest throughput against the machine's own ceiling, measured in one run:
#   1. raw batch ed25519 verification of the same receipts (two signatures each), and
#   2. receipts/s the keeper ingests durably (HTTP, batch verification, chain checks, redb
#      commit before the answer), driven with binary batches over several connections,
# printed side by side with their ratio; then receipts per settlement transaction.
#
# Usage: bench/keeper.sh [RECEIPTS (default 200000)] [BATCH (default 1000)]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/media-target}"
RECEIPTS=${1:-200000}
BATCH=${2:-1000}
# The bench's own localnet would otherwise print program-test's debug log of every instruction.
export RUST_LOG="${RUST_LOG:-error}"
echo "== building (profile bench-fast)"
cargo build -q --locked --profile bench-fast -p media-keeper --example keeper_bench
exec "$CARGO_TARGET_DIR/bench-fast/examples/keeper_bench" "$RECEIPTS" "$BATCH"
