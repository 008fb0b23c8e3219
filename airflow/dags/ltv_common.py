"""What the LTV lakehouse DAGs share: how a stage binary is called, retries, and the Slack
alert on failure.

Every task is a BashOperator running one binary of the lakehouse. The binaries read their
settings from the worker's environment (``append_env=True``): ``LTV_BIN_DIR`` (where the
binaries are), ``LAKE_URI``, ``DATABASE_URL``, ``PII_HASH_KEY``, ``KAFKA_BROKERS``, the
ad-platform tokens and ``SLACK_WEBHOOK_URL``. The DAG adds the run's identity: ``RUN_ID`` (the
Airflow run id, recorded in every Delta commit and the mart's load log), JSON logs, and a
Prometheus textfile per task under ``LTV_METRICS_DIR`` when it is set.

A binary exits 0 when done, 1 on a runtime or data failure and 2 on a usage error; both fail
the task, and Airflow retries it (a rerun of a stage is idempotent, so a retry is always safe).
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import timedelta

from airflow.providers.standard.operators.bash import BashOperator

def stage(task_id: str, binary: str, args: str, timeout: timedelta) -> BashOperator:
    """A task that runs ``$LTV_BIN_DIR/<binary> <args>``; ``args`` may use Jinja templates.
    ``LTV_TASK_TIMEOUT_SCALE`` (read when the DAG is parsed) multiplies every timeout: a
    first load of a long history, or debug binaries in the DAG tests, need more than a
    five-minute batch."""
    timeout = timeout * float(os.environ.get("LTV_TASK_TIMEOUT_SCALE", "1"))
    command = (
        'if [ -n "${LTV_METRICS_DIR:-}" ]; then '
        f'export METRICS_FILE="$LTV_METRICS_DIR/{task_id}.prom"; fi; '
        f'exec "${{LTV_BIN_DIR:?set LTV_BIN_DIR to the folder of the lakehouse binaries}}/{binary}" '
        f"{args}"
    )
    return BashOperator(
        task_id=task_id,
        bash_command=command,
        env={"RUN_ID": "{{ run_id }}", "LOG_FORMAT": "json"},
        append_env=True,
        execution_timeout=timeout,
        # Every non-zero exit fails the task (no exit code means "skipped").
        skip_on_exit_code=None,
    )


def notify_slack(context) -> None:
    """Posts a failed task to ``SLACK_WEBHOOK_URL`` (nothing when it is not set). The webhook is
    a secret: it never reaches a log."""
    webhook = os.environ.get("SLACK_WEBHOOK_URL")
    if not webhook:
        return
    ti = context["task_instance"]
    text = (
        f":red_circle: {ti.dag_id}.{ti.task_id} failed (try {ti.try_number}) "
        f"in run {context['run_id']}"
    )
    request = urllib.request.Request(
        webhook,
        data=json.dumps({"text": text}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except OSError as err:  # an alert must not hide the failure it reports
        print(f"cannot post the failure to Slack: {type(err).__name__}")


def default_args(retry_delay: timedelta) -> dict:
    return {
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "on_failure_callback": notify_slack,
    }
