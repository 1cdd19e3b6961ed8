from __future__ import annotations

from mailstore.limiter import CpuLimiter
from mailstore.metrics import create_metrics
from mailstore.passwords import DEFAULT_ROUNDS, PasswordHasher, check_password, hash_password
from mailstore.settings import load_config


def test_hash_round_trip() -> None:
    hashed = hash_password("correct horse", rounds=4)

    assert hashed.startswith("$2b$04$")
    assert check_password("correct horse", hashed)
    assert not check_password("wrong horse", hashed)


def test_passwords_longer_than_72_bytes_are_not_truncated() -> None:
    long = "p" * 72
    hashed = hash_password(long + "A", rounds=4)

    # Plain bcrypt would see only the first 72 bytes, so these would collide.
    assert not check_password(long + "B", hashed)
    assert check_password(long + "A", hashed)


def test_nul_and_non_ascii_passwords_work() -> None:
    hashed = hash_password("a\x00b ünïcødé", rounds=4)

    assert check_password("a\x00b ünïcødé", hashed)
    assert not check_password("a", hashed)


def test_production_cost_is_12() -> None:
    assert DEFAULT_ROUNDS == 12
    assert load_config({"LOCALPOST_DEV": "1"}).bcrypt_rounds == DEFAULT_ROUNDS


async def test_verify_for_a_missing_account_still_runs_bcrypt_and_fails() -> None:
    limiter = CpuLimiter(workers=1, max_waiting=1, metrics=create_metrics())
    hasher = PasswordHasher(limiter=limiter, rounds=4)

    assert await hasher.verify("anything", None) is False
    assert await hasher.verify("pw", await hasher.hash("pw")) is True
    limiter.close()
