"""How hard the fuzz targets and the SMTP state machine try.

A normal run (``make test``) gives each of them the small number of examples
its test names, so the library's suite stays quick. ``make fuzz`` sets
``LOCALPOST_FUZZ_EXAMPLES`` and runs every test marked ``fuzz`` with that many
examples instead.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

EXAMPLES_VARIABLE = "LOCALPOST_FUZZ_EXAMPLES"


def fuzz_examples(normal: int) -> int:
    """``normal``, or the count ``LOCALPOST_FUZZ_EXAMPLES`` asks for."""
    value = os.environ.get(EXAMPLES_VARIABLE, "")
    if not value:
        return normal
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{EXAMPLES_VARIABLE} must be a positive integer, got {value!r}")
    return int(value)


def fuzz_settings(normal: int, **overrides: Any) -> settings:
    """Hypothesis settings for a fuzz target: no deadline (a shared two-core
    machine makes single examples slow at random), ``fuzz_examples(normal)``."""
    overrides.setdefault("deadline", None)
    overrides.setdefault(
        "suppress_health_check", [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
    )
    return settings(max_examples=fuzz_examples(normal), **overrides)
