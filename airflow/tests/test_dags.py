"""The DAGs import cleanly and chain the stages as designed: a DagBag check, no scheduler."""

from pathlib import Path

import pytest
from airflow.models.dagbag import DagBag

DAGS = Path(__file__).resolve().parent.parent / "dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def chain(dag) -> list[str]:
    """The tasks in order, following the single downstream of each from the only root."""
    roots = [t for t in dag.tasks if not t.upstream_task_ids]
    assert len(roots) == 1, f"{dag.dag_id} has roots {[t.task_id for t in roots]}"
    order, task = [], roots[0]
    while True:
        order.append(task.task_id)
        downstream = list(task.downstream_task_ids)
        if not downstream:
            return order
        assert len(downstream) == 1, f"{task.task_id} fans out to {downstream}"
        task = dag.get_task(downstream[0])


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"ltv_micro_batch", "ltv_nightly"}


def test_micro_batch_order(dagbag):
    dag = dagbag.dags["ltv_micro_batch"]
    assert chain(dag) == ["ingest_drain", "bronze_to_silver", "silver_to_gold", "score_ltv", "load_mart"]
    assert dag.max_active_runs == 1
    assert dag.schedule == "*/5 * * * *"


def test_nightly_order(dagbag):
    dag = dagbag.dags["ltv_nightly"]
    assert chain(dag) == [
        "check_contracts",
        "bronze_to_silver",
        "silver_to_gold",
        "train_ltv",
        "score_ltv",
        "optimize_campaigns",
        "load_mart",
        "maintain_lake",
    ]
    assert dag.max_active_runs == 1
    assert dag.schedule == "0 3 * * *"


@pytest.mark.parametrize("dag_id", ["ltv_micro_batch", "ltv_nightly"])
def test_every_task_retries_times_out_and_passes_the_run(dagbag, dag_id):
    for task in dagbag.dags[dag_id].tasks:
        assert task.retries >= 2, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.append_env is True, task.task_id
        assert task.env["RUN_ID"] == "{{ run_id }}", task.task_id
        assert task.on_failure_callback, task.task_id
        assert "$LTV_BIN_DIR" in task.bash_command or "${LTV_BIN_DIR" in task.bash_command
