"""Dates on the wire (RFC 9051 §9 date, date-time): SEARCH BEFORE/SINCE/ON, APPEND, INTERNALDATE."""

from __future__ import annotations

import datetime as dt
import re

from imap_gateway.wire.cursor import Cursor

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBERS = {m.upper().encode("ascii"): i for i, m in enumerate(MONTHS, 1)}

# date-text = date-day "-" date-month "-" date-year; date-day = 1*2DIGIT.
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
# date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE,
# date-day-fixed = (SP DIGIT) / 2DIGIT; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT;
# zone = ("+" / "-") 4DIGIT.
_DATE_TIME = re.compile(
    rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) '
    rb'([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
)


def _month(c: Cursor, name: bytes) -> int:
    month = _MONTH_NUMBERS.get(name.upper())
    if month is None:
        raise c.error("month name (Jan ... Dec)")
    return month


def parse_date(c: Cursor) -> dt.date:
    """``date = date-text / DQUOTE date-text DQUOTE`` (SEARCH keys, RFC 9051 §6.4.4)."""
    start = c.pos
    quoted = c.take(b'"')
    found = c.match(_DATE)
    if found is None or (quoted and not c.take(b'"')):
        c.pos = start
        raise c.error("date (d-Mon-yyyy)")
    day, month, year = found.groups()
    try:
        return dt.date(int(year), _month(c, month), int(day))
    except ValueError:
        c.pos = start
        raise c.error("valid date") from None


def parse_date_time(c: Cursor) -> dt.datetime:
    """``date-time`` (APPEND, RFC 9051 §6.3.12): an aware datetime."""
    start = c.pos
    found = c.match(_DATE_TIME)
    if found is None:
        raise c.error('date-time ("dd-Mon-yyyy hh:mm:ss +zzzz")')
    day, month, year, hour, minute, second, sign, zh, zm = found.groups()
    try:
        offset = dt.timedelta(hours=int(zh), minutes=int(zm))
        zone = dt.timezone(-offset if sign == b"-" else offset)
        return dt.datetime(
            int(year), _month(c, month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:
        c.pos = start
        raise c.error("valid date-time") from None


def format_date(value: dt.date) -> str:
    """``d-Mon-yyyy`` as a date is written in SEARCH."""
    return f"{value.day}-{MONTHS[value.month - 1]}-{value.year:04d}"


def format_date_time(value: dt.datetime) -> str:
    """``dd-Mon-yyyy hh:mm:ss +zzzz`` (unquoted) for INTERNALDATE; naive means UTC."""
    offset = value.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return (
        f"{value.day:2d}-{MONTHS[value.month - 1]}-{value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )
