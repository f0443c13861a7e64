#!/usr/bin/env bash
# The farming simulation (docs/economics.md): the real programs in program-test through
# EPOCHS epochs with two honest relays, an arbitrageur at the market price and a farmer who
# owns a relay, its paying publisher and its keeper, trying each strategy (none, wash,
# wash+pump, ramp+pump). Prints a table per strategy (farmer's cumulative P&L at the market
# price, honest relays' rewards, emission, emitted and burned, all in MEDIA base units) and
# draws the farmer's P&L and the net supply change into PNG.
#
# Usage: bench/economics.sh [EPOCHS (default 12)] [PNG (default target/farming.png)]
# The chart's text needs a TrueType font (Debian's fonts-dejavu-core); without one only the
# tables are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/media-target}"
export RUST_LOG="${RUST_LOG:-error}"
EPOCHS=${1:-12}
PNG=${2:-target/farming.png}
cargo build -q --locked -p media-test-harness --example farming
# Program logs of refused transactions (an accrue with nothing to accrue) go to stderr.
"$CARGO_TARGET_DIR/debug/examples/farming" "$EPOCHS" "$PNG" 2> >(grep -v "AnchorError\|ProgramError" >&2)
