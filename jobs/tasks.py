"""The queue's tasks (procrastinate; workers: `python manage.py procrastinate worker`).

Found by procrastinate's Django app, which imports every installed app's tasks.py.
"""

import datetime as dt

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from aggregates.snapshots import take_daily_snapshots
from jobs import fanout

# A failing consumer (a mail server down) is tried again for about an hour, with growing pauses.
EVENT_RETRY = RetryStrategy(max_attempts=8, exponential_wait=2)


@app.task(name="jobs.fan_out", queue="events", retry=EVENT_RETRY)
def fan_out(project_id: int, first_seq: int, last_seq: int) -> None:
    fanout.fan_out(project_id, first_seq, last_seq)


# Daily, late (TIME_ZONE is UTC, as are procrastinate's crons), filed under the day it was due
# even when a busy queue runs it after midnight. The queueing lock keeps one pending run however
# many workers schedule it; the snapshot itself is safe to repeat (one row per project and day).
@app.periodic(cron="55 23 * * *", periodic_id="daily_snapshot")
@app.task(name="jobs.daily_snapshot", queue="periodic", queueing_lock="daily_snapshot")
def daily_snapshot(timestamp: int) -> int:
    return take_daily_snapshots(dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).date())
