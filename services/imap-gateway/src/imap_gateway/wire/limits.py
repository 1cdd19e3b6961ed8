"""Every limit of the wire layer, each with the RFC section behind it."""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB

# RFC 7888 §4: with LITERAL- a non-synchronizing literal may carry at most 4096 octets.
LITERAL_MINUS_MAX = 4096
# RFC 9051 §4.3: number64 is a 63-bit count; a literal announcement beyond it is invalid.
NUMBER64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class WireLimits:
    """How much one command may hold. The defaults suit a mail service on a LAN."""

    # RFC 9051 §4 sets no line limit but RFC 7162 §4 asks servers to accept lines of
    # at least 8192 octets; long UID sets (QRESYNC, MOVE of a whole folder) need
    # more, and a line is held whole, so 64 KiB bounds memory per session.
    max_line_length: int = 64 * KiB
    # RFC 7889 (APPENDLIMIT): the largest message APPEND accepts, and the largest
    # literal of any command. Announced as APPENDLIMIT=<n> by the session.
    max_literal_size: int = 25 * MiB
    # Lines and literals of one command together (MULTIAPPEND, RFC 3502, sends
    # several messages in one command); held in memory until the command is parsed.
    max_command_size: int = 64 * MiB
    # RFC 7888 §4 (LITERAL-): non-synchronizing literals up to this size; None means
    # LITERAL+ (RFC 7888 §3), limited only by max_literal_size.
    max_nonsync_literal: int | None = LITERAL_MINUS_MAX
    # Parenthesised lists and search-key groups (RFC 9051 §6.4.4: NOT, OR and
    # parentheses nest) may nest this deep; the parser recurses once per level.
    max_nesting_depth: int = 32
    # A rejected non-synchronizing literal is still sent by the client (RFC 7888
    # §4): up to this many octets are read and dropped to stay in step, beyond it
    # the session closes rather than spend bandwidth on a literal bomb.
    max_discard: int = 32 * MiB
    # How much the reader asks the socket for at once; also the most it holds
    # beyond a line, so memory stays max_line_length + read_chunk.
    read_chunk: int = 64 * KiB

    def __post_init__(self) -> None:
        # RFC 7162 §4: a server should accept command lines of at least 8192 octets.
        if self.max_line_length < 8192:
            raise ValueError("max_line_length must be at least 8192 (RFC 7162 §4)")
        if self.max_nesting_depth < 1 or self.read_chunk < 1:
            raise ValueError("max_nesting_depth and read_chunk must be positive")
