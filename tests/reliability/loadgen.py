"""Load workers: one process per user, random valid and invalid requests for a fixed time.

Standard library only (each worker is a fresh process that never imports Django). A worker
returns what it saw; the test decides what was allowed.
"""

import random
import time
from collections import Counter

from tests.reliability.http import Browser

HUGE_ID = "99999999999999999999"


def run_worker(plan: dict) -> dict:
    """Log in as plan["username"] and fire plan["actions"] at random until plan["seconds"] pass."""
    rng = random.Random(plan["seed"])
    browser = Browser("127.0.0.1", plan["port"], timeout=30)
    seen: Counter = Counter()
    unexpected: list[str] = []
    created_titles: list[str] = []
    login = browser.login(plan["username"], plan["password"])
    if login.status != 302:
        return {"seen": {}, "unexpected": [f"login {login.status}"], "created": [], "requests": 0}
    deadline = time.monotonic() + plan["seconds"]
    requests = 0
    while time.monotonic() < deadline:
        action = rng.choice(plan["actions"])
        method, url, data, allowed = action["method"], action["url"], action.get("data"), set(action["allowed"])
        url = url.replace("{task}", str(rng.choice(plan["task_ids"] or [HUGE_ID])))
        url = url.replace("{column}", str(rng.choice(plan["column_ids"])))
        if data is not None:
            data = {
                key: (value.replace("{n}", str(requests)) if isinstance(value, str) else value)
                for key, value in data.items()
            }
            if "{column}" in str(data.values()):
                data = {k: (str(rng.choice(plan["column_ids"])) if v == "{column}" else v) for k, v in data.items()}
        headers = {"HX-Request": "true"} if action.get("htmx") else None
        if action.get("no_csrf"):
            saved = browser.cookies.pop("csrftoken", None)
            response = browser.request(method, url, data=data or {}, headers={"X-CSRFToken": "forged"})
            if saved is not None:
                browser.cookies["csrftoken"] = saved
        elif method == "POST":
            response = browser.post(url, data or {}, headers=headers)
        else:
            response = browser.get(url, headers=headers)
        requests += 1
        seen[f"{action['name']} {response.status}"] += 1
        if response.status not in allowed:
            unexpected.append(f"{action['name']} {method} {url} -> {response.status}")
        if response.status in action.get("creates_on", ()) and data and "title" in data:
            created_titles.append(data["title"])
    return {"seen": dict(seen), "unexpected": unexpected[:50], "created": created_titles, "requests": requests}
