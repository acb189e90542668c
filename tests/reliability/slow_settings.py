"""The project's settings, serving tests/reliability/slow_site.py's pages too."""

from tasktrack.settings import *  # noqa: F403

ROOT_URLCONF = "tests.reliability.slow_site"
