"""The import's task on the queue (procrastinate finds this module in every installed app)."""

from procrastinate.contrib.django import app

from imports import services


# No retry: a file that fails fails the same way again, and a failure has already said why on
# the progress page. The import commits whole or not at all, so a rerun could not double it anyway.
@app.task(name="imports.import_board", queue="imports")
def import_board(job_id: int) -> None:
    services.run_import(job_id)


# Uploads left on their preview page hold their whole file: gone after a day, checked nightly.
@app.periodic(cron="30 3 * * *", periodic_id="forget_import_drafts")
@app.task(name="imports.forget_drafts", queue="periodic", queueing_lock="forget_import_drafts")
def forget_drafts(timestamp: int) -> int:
    return services.forget_drafts()
