"""Fuzz targets of the POP3 command parser (pop3.commands).

- On arbitrary bytes, and on mutations of real commands, the parser raises nothing
  but CommandError (answered -ERR).
- Generated commands, written out as a client writes them, parse back to themselves.

``make fuzz`` (LOCALPOST_FUZZ_EXAMPLES) runs these with many more examples.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from imap_gateway.pop3.commands import (
    ARITY,
    MAX_ARGUMENT,
    Command,
    CommandError,
    line_count,
    message_number,
    parse_command,
)
from libs.smtplib_common.tests.fuzzing import fuzz_settings

pytestmark = pytest.mark.fuzz

SEEDS = [
    b"USER alice@example.org\r\n",
    b"PASS with  spaces \xc3\xa9\r\n",
    b"AUTH PLAIN AGFsaWNlAHB3\r\n",
    b"TOP 1 0\r\n",
    b"LIST\r\n",
    b"UIDL 4294967295\r\n",
    b"RETR 1\n",
]


def parse_or_error(line: bytes) -> Command | None:
    try:
        command = parse_command(line)
    except CommandError as error:
        text = error.text
    else:
        assert command.verb in ARITY
        return command
    assert text  # the -ERR reply's text
    return None


@fuzz_settings(500)
@given(st.binary(max_size=300))
@example(b"")
@example(b"\r\n")
@example(b"PASS \x00\r\n")
@example(b"PASS \xff\r\n")
def test_arbitrary_bytes_raise_only_command_errors(line: bytes) -> None:
    parse_or_error(line)


@fuzz_settings(500)
@given(
    seed=st.sampled_from(SEEDS),
    position=st.integers(min_value=0, max_value=40),
    insert=st.binary(min_size=0, max_size=8),
    cut=st.integers(min_value=0, max_value=8),
)
def test_mutated_commands_raise_only_command_errors(
    seed: bytes, position: int, insert: bytes, cut: int
) -> None:
    position = min(position, len(seed))
    parse_or_error(seed[:position] + insert + seed[position + cut :])


_ARG = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    min_size=1,
    max_size=MAX_ARGUMENT,
)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    verb = draw(st.sampled_from(sorted(ARITY)))
    least, most = ARITY[verb]
    if verb == "PASS":
        password = draw(
            st.text(min_size=1, max_size=60).filter(lambda t: not set(t) & {"\0", "\r", "\n"})
        )
        return Command(verb, (password,))
    args = draw(st.lists(_ARG, min_size=least, max_size=most))
    return Command(verb, tuple(args))


@fuzz_settings(500)
@given(commands(), st.sampled_from(["upper", "lower", "title"]), st.sampled_from([b"\r\n", b"\n"]))
def test_generated_commands_parse_back(command: Command, case: str, end: bytes) -> None:
    keyword = getattr(command.verb, case)()
    line = " ".join([keyword, *command.args]).encode() + end
    assert parse_command(line) == command


@given(st.integers(min_value=1, max_value=9_999_999_999))
def test_message_numbers_round_trip(number: int) -> None:
    assert message_number(str(number)) == number
    assert line_count(str(number)) == number


@pytest.mark.parametrize("text", ["0", "-1", "+1", "1.0", "", "\uff11", "12345678901", " 1"])
def test_invalid_message_numbers(text: str) -> None:
    with pytest.raises(CommandError):
        message_number(text)


def test_a_password_never_reaches_a_repr() -> None:
    assert "hunter2" not in repr(parse_command(b"PASS hunter2\r\n"))
