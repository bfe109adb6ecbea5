"""gputel's version: the installed distribution's (pyproject's [project] version), read once.

Agent and collector both report it (Hello.agent_version, Welcome.collector_version, the
health answer, User-Agent headers); they never import each other, so it lives here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("gputel")
except PackageNotFoundError:  # a source tree on sys.path without an install
    VERSION = "0+unknown"
