from __future__ import annotations

import gc

from smtplib_common.eventloop import freeze_startup_objects


async def test_startup_objects_are_left_out_of_later_collections() -> None:
    gc.unfreeze()
    try:
        await freeze_startup_objects(None)

        # Everything alive now sits in the permanent generation, which no collection walks.
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
