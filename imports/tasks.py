"""The import's task on the queue (procrastinate finds this module in every installed app)."""

from procrastinate.contrib.django import app

from imports import services


# No retry: a file that fails fails the same way again, and a failure has already said why on
# the progress page. The import commits whole or not at all, so a rerun could not double it anyway.
@app.task(name="imports.import_board", queue="imports")
def import_board(job_id: int) -> None:
    services.run_import(job_id)
