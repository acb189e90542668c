"""bench.browser runs end to end at a tiny size: both pages served, measured, reported. Times nothing."""

import sys

import pytest

from bench import browser


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_old_and_new_board_are_measured_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop beside the ORM
    result = browser.measure(cards=30, loads=2)
    text = browser.report(result, "pytest smoke")

    assert sys.executable in text and "cores:" in text and "postgresql:" in text
    for name in ("old", "new"):
        assert len(result["samples"][name]) == 2
        assert result["sizes"][name]["cards"] == 30
        for sample in result["samples"][name]:
            assert sample["bound"] and sample["lists"] == 5
            assert sample["usable"] >= sample["dcl"] > 0
            assert sample["dialog"] > 0 and sample["filter"] > 0
            assert sample["cards"] == 30 and 0 < sample["filtered_cards"] < 30
    checks = {name: (met, detail) for name, met, detail in result["checks"]}
    assert len(checks) == 6
    # What is not a time holds at any size: the same cards, and the faces at most half the bytes.
    assert checks["same cards on both pages"][0], checks["same cards on both pages"]
    assert checks["card face bytes halved or better"][0], checks["card face bytes halved or better"]
    assert "usable (drag bound, painted) ms" in text and "filter key to redrawn board ms" in text
