"""Real client programs the integration tests run (Debian packages .ci/run installs)."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str) -> str:
    """The program's path; a skip naming it when it is missing, a failure under
    LOCALPOST_REQUIRE_CLIENTS (.ci/run), where a missing client is a broken machine."""
    found = shutil.which(program)
    if found is None:
        if os.environ.get("LOCALPOST_REQUIRE_CLIENTS"):
            pytest.fail(f"{program} is not installed (.ci/run installs it)")
        pytest.skip(f"{program} is not installed (apt-get install it; .ci/run does)")
    return found
