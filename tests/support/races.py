"""Two writers at the same moment, each on its own database connection, for the tests of locks."""

import contextlib
import threading

from django.db import close_old_connections, connection


def run_together(*operations):
    """Run the operations in threads that start at the same moment, each on its own connection;
    what each returned or raised."""
    barrier = threading.Barrier(len(operations))
    results: list = [None] * len(operations)

    def run(index, operation):
        try:
            barrier.wait(timeout=10)
            results[index] = operation()
        except Exception as error:  # noqa: BLE001 - the test looks at what each raised
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, op)) for i, op in enumerate(operations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    close_old_connections()
    return results


def widen_the_race(monkeypatch, module, name, parties=2, wait=1.0):
    """Make each caller of module.name wait, after it returns, up to `wait` seconds for the others
    to get there too: without a lock both read before either writes (the race, every time); with
    one, the second is still blocked in the lock, the first goes on alone after the wait."""
    original = getattr(module, name)
    arrived = threading.Barrier(parties)

    def slowed(*args, **kwargs):
        result = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            arrived.wait(timeout=wait)
        return result

    monkeypatch.setattr(module, name, slowed)
