"""Load-generating client processes: plain http.client, no Django, one keep-alive connection each."""

import http.client
import random
import time
from urllib.parse import urlencode


def moves(job: dict) -> dict:
    """POST random moves (a random card to the bottom of a random column) until the deadline."""
    rng = random.Random(job["seed"])
    connection = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
    headers = {
        "Cookie": f"sessionid={job['session']}; csrftoken={job['csrf']}",
        "X-CSRFToken": job["csrf"],
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    latencies, statuses, errors = [], {}, []
    while time.time() < job["start_at"]:
        time.sleep(0.005)
    deadline = job["start_at"] + job["seconds"]
    while (now := time.perf_counter()) and time.time() < deadline:
        task_id = rng.choice(job["task_ids"])
        body = urlencode({"status_id": rng.choice(job["columns"])})
        path = job["path"].format(task_id=task_id)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
        latencies.append((time.perf_counter() - now) * 1000)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status != 200 and len(errors) < 5:
            errors.append(f"{status} on {path}")
    connection.close()
    return {"latencies": latencies, "statuses": statuses, "errors": errors}
