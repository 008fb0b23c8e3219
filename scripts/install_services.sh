#!/usr/bin/env bash
# Installs the services the tests and the demo start (idempotent; skips what is installed):
# - tansu, a Kafka-protocol broker, from crates.io, with SQLite storage (`dynostore,libsql`);
# - moto's S3 server, from PyPI, in a virtualenv (its conditional PUT is safe for delta-rs).
set -euo pipefail
TOOLS=${LTV_TOOLS:-$HOME/.cache/ltv-lakehouse/tools}
TANSU_VERSION=0.6.0
MOTO_VERSION=5.2.5

mkdir -p "$TOOLS"
if [[ ! -x "$TOOLS/bin/tansu" ]]; then
  echo "installing tansu $TANSU_VERSION (a few minutes, once)"
  # tansu's default features store nothing; SQLite storage needs dynostore and libsql.
  CARGO_TARGET_DIR="$TOOLS/build" cargo install --quiet --locked --root "$TOOLS" --version "$TANSU_VERSION" \
    --features dynostore,libsql tansu
fi
if [[ ! -x "$TOOLS/venv/bin/moto_server" ]]; then
  echo "installing moto[server] $MOTO_VERSION"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION"
fi
