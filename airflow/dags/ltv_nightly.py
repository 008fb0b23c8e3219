"""Nightly at 03:00 UTC, for yesterday: validate Bronze against the contracts,
recompute Silver and Gold with late data, retrain and rescore pLTV, decide the campaigns,
publish the mart, then compact and vacuum the lake (7-day retention).

``optimize-campaigns`` only records proposals unless the worker sets ``LTV_OPTIMIZER_APPLY``
(to anything). Bronze is validated with a 5% ceiling of rejected rows per contract: rejects
below it are quarantined by bronze-to-silver, above it the night stops for a person. Backfill with ``airflow dags backfill ltv_nightly`` or by calling
the binaries with ``--from D --to D``.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from ltv_common import default_args, notify_slack, stage

# A cron schedule triggers at its time: the run's logical date is the night it runs.
YESTERDAY = "{{ macros.ds_add(ds, -1) }}"
# Late events for yesterday arrive in today's Bronze partitions too.
INGEST_DAYS = f"--from {YESTERDAY} --to {{{{ ds }}}}"

with DAG(
    dag_id="ltv_nightly",
    description="contracts, Silver/Gold with late data, train and score pLTV, optimize, mart, maintenance",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args=default_args(retry_delay=timedelta(minutes=5)),
    on_failure_callback=notify_slack,
    tags=["ltv", "nightly"],
) as dag:
    contracts = stage(
        "check_contracts", "check-contracts", f"validate {INGEST_DAYS} --max-failure-pct 5", timedelta(minutes=30)
    )
    silver = stage("bronze_to_silver", "bronze-to-silver", INGEST_DAYS, timedelta(hours=1))
    gold = stage("silver_to_gold", "silver-to-gold", "--changed", timedelta(hours=1))
    train = stage("train_ltv", "train-ltv", f"--as-of {YESTERDAY}", timedelta(hours=1))
    scores = stage("score_ltv", "score-ltv", f"--date {YESTERDAY}", timedelta(minutes=30))
    optimize = stage(
        "optimize_campaigns",
        "optimize-campaigns",
        f'--date {YESTERDAY} ${{LTV_OPTIMIZER_APPLY:+--apply}}',
        timedelta(minutes=30),
    )
    mart = stage("load_mart", "load-mart", "--changed", timedelta(hours=1))
    maintenance = stage("maintain_lake", "maintain-lake", "", timedelta(hours=1))

    contracts >> silver >> gold >> train >> scores >> optimize >> mart >> maintenance
