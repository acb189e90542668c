"""Load workers: one process per user, random valid and invalid requests for a fixed time.

Standard library only (each worker is a fresh process that never imports Django). A worker
returns what it saw; the test decides what was allowed.

Optional parts of a plan, for the soak benchmark (bench/soak.py):
- "pause": seconds between requests (paced traffic rather than a flood), "max_requests": a bound;
- "record": return "timings", one [seconds since start, action name, status, milliseconds] per request;
- "weight" on an action: how often it is picked (default 1);
- "open" on an action: a GET made first ({"name", "url", "capture": {key: regex}}), recorded as an
  action of its own, whose captured groups fill "{key}" in the action's data (an edit's version);
- "replay" on an action: {"name", "allowed"}: the same POST sent again, so it is answered as a copy
  gone stale (a deliberate conflict), recorded under its own name.
"""

import http.client
import random
import re
import time
from collections import Counter

from tests.reliability.http import Browser, Response

HUGE_ID = "99999999999999999999"


def run_worker(plan: dict) -> dict:
    """Log in as plan["username"] and fire plan["actions"] at random until plan["seconds"] pass."""
    rng = random.Random(plan["seed"])
    browser = Browser("127.0.0.1", plan["port"], timeout=30)
    seen: Counter = Counter()
    unexpected: list[str] = []
    created_titles: list[str] = []
    timings: list[list] = []
    login = browser.login(plan["username"], plan["password"])
    if login.status != 302:
        return {"seen": {}, "unexpected": [f"login {login.status}"], "created": [], "requests": 0, "timings": []}
    started = time.monotonic()
    deadline = started + plan["seconds"]
    max_requests = plan.get("max_requests") or float("inf")
    weights = [action.get("weight", 1) for action in plan["actions"]]
    requests = 0

    def send(name, method, url, data, headers, allowed) -> Response | None:
        nonlocal requests
        sent = time.monotonic()
        try:
            if method == "POST":
                response = browser.post(url, data or {}, headers=headers)
            else:
                response = browser.get(url, headers=headers)
            status = response.status
        except (OSError, http.client.HTTPException) as error:  # a refused or dropped connection
            response, status = None, type(error).__name__
        requests += 1
        seen[f"{name} {status}"] += 1
        if plan.get("record"):
            timings.append([round(sent - started, 3), name, status, round((time.monotonic() - sent) * 1000, 2)])
        if status not in allowed:
            unexpected.append(f"{name} {method} {url} -> {status}")
        return response

    while time.monotonic() < deadline and requests < max_requests:
        action = rng.choices(plan["actions"], weights)[0]
        method, url, data, allowed = action["method"], action["url"], action.get("data"), set(action["allowed"])
        task = str(rng.choice(plan["task_ids"] or [HUGE_ID]))
        url = url.replace("{task}", task)
        url = url.replace("{column}", str(rng.choice(plan["column_ids"])))
        if data is not None:
            data = {
                key: (value.replace("{n}", str(requests)) if isinstance(value, str) else value)
                for key, value in data.items()
            }
            if "{column}" in str(data.values()):
                data = {k: (str(rng.choice(plan["column_ids"])) if v == "{column}" else v) for k, v in data.items()}
        headers = {"HX-Request": "true"} if action.get("htmx") else None
        if action.get("open"):
            opened = action["open"]
            page = send(opened["name"], "GET", opened["url"].replace("{task}", task), None, headers, {200})
            for key, pattern in opened.get("capture", {}).items():
                found = re.search(pattern, page.body) if page and page.status == 200 else None
                if found is None:
                    unexpected.append(f"{opened['name']}: no {key} on the page")
                    break
                data = {
                    k: (v.replace("{" + key + "}", found.group(1)) if isinstance(v, str) else v)
                    for k, v in data.items()
                }
            if any("{" in str(value) for value in (data or {}).values()):
                time.sleep(plan.get("pause", 0))
                continue  # nothing captured to send (counted above)
        if action.get("no_csrf"):
            saved = browser.cookies.pop("csrftoken", None)
            response = browser.request(method, url, data=data or {}, headers={"X-CSRFToken": "forged"})
            requests += 1
            seen[f"{action['name']} {response.status}"] += 1
            if response.status not in allowed:
                unexpected.append(f"{action['name']} {method} {url} -> {response.status}")
            if saved is not None:
                browser.cookies["csrftoken"] = saved
        else:
            response = send(action["name"], method, url, data, headers, allowed)
        status = response.status if response else None
        if action.get("replay") and status in allowed:
            replay = action["replay"]
            send(replay["name"], method, url, data, headers, set(replay["allowed"]))
        if status in action.get("creates_on", ()) and data and "title" in data:
            created_titles.append(data["title"])
        if plan.get("pause"):
            time.sleep(plan["pause"])
    return {
        "seen": dict(seen),
        "unexpected": unexpected[:50],
        "created": created_titles,
        "requests": requests,
        "timings": timings,
        "started_at": started,  # time.monotonic(): one clock for every process on the machine
    }
