"""Every 5 minutes: Kafka to Bronze, Silver and Gold for the current day, fresh pLTV scores,
and the mart. Runs never overlap (``max_active_runs=1``): each drains what the previous left.

The day is the run's logical date (the time it was triggered), so a backfill of a past run
recomputes that day. Backfill with ``airflow dags backfill ltv_micro_batch --start-date ... --end-date
...`` or, equally, by calling a binary with ``--from D --to D``.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from ltv_common import default_args, notify_slack, stage

# A cron schedule triggers at its time: the run's logical date is now.
DAY = "{{ ds }}"

with DAG(
    dag_id="ltv_micro_batch",
    description="Kafka -> Bronze -> Silver -> Gold -> pLTV scores -> mart, every 5 minutes",
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    on_failure_callback=notify_slack,
    tags=["ltv", "micro-batch"],
) as dag:
    ingest = stage(
        "ingest_drain",
        "ingest-drain",
        f'--date {DAY} --source "${{LTV_INGEST_SOURCE:-kafka}}"',
        timedelta(minutes=4),
    )
    silver = stage("bronze_to_silver", "bronze-to-silver", f"--date {DAY}", timedelta(minutes=4))
    gold = stage("silver_to_gold", "silver-to-gold", "--changed", timedelta(minutes=4))
    scores = stage("score_ltv", "score-ltv", f"--date {DAY}", timedelta(minutes=4))
    mart = stage("load_mart", "load-mart", "--changed", timedelta(minutes=4))

    ingest >> silver >> gold >> scores >> mart
