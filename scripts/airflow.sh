#!/usr/bin/env bash
# Apache Airflow for the DAG tests, in a virtualenv of its own (pinned by airflow/constraints.txt).
#   scripts/airflow.sh install      install once (idempotent); prints nothing when installed
#   scripts/airflow.sh path         the folder of the airflow and pytest executables
# The DAG tests (tests/airflow_dags.rs) call both; `make dags-check` runs the DagBag tests alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${LTV_TOOLS:-$HOME/.cache/ltv-lakehouse/tools}
VENV="$TOOLS/airflow-venv"
# Reinstall when the pins change. Only the files' content is hashed: sha256sum's listing also
# names each file, and a checkout at another path (a CI clone) reinstalled Airflow for nothing.
stamp="$VENV/.installed-$(cat "$here/airflow/constraints.txt" "$here/airflow/requirements.txt" | sha256sum | cut -c1-16)"

case "${1:-}" in
  install)
    if [[ ! -e "$stamp" ]]; then
      echo "installing Apache Airflow into $VENV (a minute or two, once)" >&2
      rm -rf "$VENV"
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        -r "$here/airflow/requirements.txt" -c "$here/airflow/constraints.txt" >&2
      touch "$stamp"
    fi
    ;;
  path)
    echo "$VENV/bin"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
