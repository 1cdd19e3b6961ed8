"""Transaction ids: sortable, unique, 26 Crockford base32 characters (ids.py)."""

from __future__ import annotations

import threading
import time

import pytest

from smtplib_common import ids

ALPHABET = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The generator's memory, restored after the test (it is process-global)."""
    monkeypatch.setattr(ids, "_last_ms", -1)
    monkeypatch.setattr(ids, "_last_random", 0)
    return monkeypatch


def test_id_is_26_crockford_base32_characters() -> None:
    value = ids.new_id()

    assert len(value) == 26
    assert set(value) <= ALPHABET


def test_ids_made_one_after_another_strictly_increase() -> None:
    made = [ids.new_id() for _ in range(10_000)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_id_carries_its_creation_time() -> None:
    before = time.time_ns() // 1_000_000
    value = ids.new_id()
    after = time.time_ns() // 1_000_000

    assert before <= ids.id_timestamp_ms(value) <= after


def test_ids_in_the_same_millisecond_count_up(fresh_state: pytest.MonkeyPatch) -> None:
    frozen = time.time_ns()
    fresh_state.setattr(time, "time_ns", lambda: frozen)

    first, second, third = ids.new_id(), ids.new_id(), ids.new_id()

    assert first < second < third
    assert {ids.id_timestamp_ms(v) for v in (first, second, third)} == {frozen // 1_000_000}


def test_ids_keep_increasing_when_the_clock_steps_back(fresh_state: pytest.MonkeyPatch) -> None:
    now = time.time_ns()
    fresh_state.setattr(time, "time_ns", lambda: now)
    later = ids.new_id()
    fresh_state.setattr(time, "time_ns", lambda: now - 5_000_000_000)

    assert ids.new_id() > later


def test_exhausted_random_part_moves_to_the_next_millisecond(
    fresh_state: pytest.MonkeyPatch,
) -> None:
    now_ms = time.time_ns() // 1_000_000
    fresh_state.setattr(time, "time_ns", lambda: now_ms * 1_000_000)
    first = ids.new_id()
    fresh_state.setattr(ids, "_last_random", ids._RANDOM_MAX)

    second = ids.new_id()

    assert second > first
    assert ids.id_timestamp_ms(second) == now_ms + 1


def test_ids_are_unique_across_threads() -> None:
    made: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [ids.new_id() for _ in range(2_000)]
        with lock:
            made.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(made)) == 16_000


@pytest.mark.parametrize("bad", ["", "0" * 25, "0" * 27])
def test_timestamp_of_a_wrong_length_value_is_an_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not an id"):
        ids.id_timestamp_ms(bad)


def test_timestamp_decoding_ignores_case() -> None:
    value = ids.new_id()

    assert ids.id_timestamp_ms(value.lower()) == ids.id_timestamp_ms(value)
