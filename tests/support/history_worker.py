"""A separate OS process that moves cards, for the event log's concurrency test.

Started with multiprocessing's 'spawn' start method: a fresh interpreter that sets Django up
against the test database named in its arguments.
"""

import os
import random
import time


class Rollback(Exception):
    pass


def run(database_url: str, project_id: int, task_ids: list[int], column_ids: list[int], moves: int, seed: int):
    """Move random cards; every fourth move is rolled back. Returns (committed, rolled_back)."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
    import django

    django.setup()
    from django.db import OperationalError, connection, transaction

    from boards import services
    from boards.models import Project

    rng = random.Random(seed)
    project = Project.objects.get(pk=project_id)
    committed = rolled_back = 0
    try:
        for index in range(moves):
            task_id, column_id = rng.choice(task_ids), rng.choice(column_ids)
            try:
                with transaction.atomic():
                    services.move_task(project=project, task_id=task_id, status_id=column_id)
                    if index % 4 == 3:
                        raise Rollback
                committed += 1
            except Rollback:
                rolled_back += 1
            except OperationalError:  # a deadlock victim commits nothing: the log must agree
                rolled_back += 1
                time.sleep(0.01)
    finally:
        connection.close()
    return committed, rolled_back
