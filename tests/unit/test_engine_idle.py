"""The engine slows DBOS's background jobs by setting a module constant of DBOS's; a DBOS
upgrade that renames it or stops reading it at call time must fail here, not quietly bring
back two queries a second."""

from dbos import _workflow_commands as dbos_background


def test_dbos_reads_the_background_jobs_interval_from_the_constant_the_engine_sets():
    assert isinstance(dbos_background._BACKGROUND_JOBS_INTERVAL_SEC, float)
    reads = dbos_background.background_jobs_thread.__code__.co_names
    assert "_BACKGROUND_JOBS_INTERVAL_SEC" in reads
