"""Response codes, status words and capability names: one named constant each.

The wire layer, the session layer and the tests all use these names, so a test
compares ``response.code == codes.TOOBIG`` instead of retyping ``"TOOBIG"``.
Each constant is the atom exactly as it appears on the wire (upper case).
"""

from __future__ import annotations

from typing import Final

# --- Status responses (RFC 9051 §7.1) --------------------------------------------------

OK: Final = "OK"
NO: Final = "NO"
BAD: Final = "BAD"
PREAUTH: Final = "PREAUTH"
BYE: Final = "BYE"

# --- Response codes of the base protocol (RFC 3501 §7.1, RFC 9051 §7.1) ---------------

ALERT: Final = "ALERT"
BADCHARSET: Final = "BADCHARSET"
CAPABILITY: Final = "CAPABILITY"
PARSE: Final = "PARSE"
PERMANENTFLAGS: Final = "PERMANENTFLAGS"
READ_ONLY: Final = "READ-ONLY"
READ_WRITE: Final = "READ-WRITE"
TRYCREATE: Final = "TRYCREATE"
UIDNEXT: Final = "UIDNEXT"
UIDVALIDITY: Final = "UIDVALIDITY"
UNSEEN: Final = "UNSEEN"  # IMAP4rev1 only; RFC 9051 §7.1 dropped it
CLOSED: Final = "CLOSED"  # RFC 7162 §3.2.11, part of RFC 9051 §7.1

# --- RFC 5530: IMAP response codes ----------------------------------------------------

UNAVAILABLE: Final = "UNAVAILABLE"
AUTHENTICATIONFAILED: Final = "AUTHENTICATIONFAILED"
AUTHORIZATIONFAILED: Final = "AUTHORIZATIONFAILED"
EXPIRED: Final = "EXPIRED"
PRIVACYREQUIRED: Final = "PRIVACYREQUIRED"
CONTACTADMIN: Final = "CONTACTADMIN"
NOPERM: Final = "NOPERM"
INUSE: Final = "INUSE"
EXPUNGEISSUED: Final = "EXPUNGEISSUED"
CORRUPTION: Final = "CORRUPTION"
SERVERBUG: Final = "SERVERBUG"
CLIENTBUG: Final = "CLIENTBUG"
CANNOT: Final = "CANNOT"
LIMIT: Final = "LIMIT"
OVERQUOTA: Final = "OVERQUOTA"
ALREADYEXISTS: Final = "ALREADYEXISTS"
NONEXISTENT: Final = "NONEXISTENT"

# --- Extensions -----------------------------------------------------------------------

APPENDUID: Final = "APPENDUID"  # RFC 4315 §3 (UIDPLUS)
COPYUID: Final = "COPYUID"  # RFC 4315 §3
UIDNOTSTICKY: Final = "UIDNOTSTICKY"  # RFC 4315 §3
HIGHESTMODSEQ: Final = "HIGHESTMODSEQ"  # RFC 7162 §3.1.2.1 (CONDSTORE)
NOMODSEQ: Final = "NOMODSEQ"  # RFC 7162 §3.1.2.2
MODIFIED: Final = "MODIFIED"  # RFC 7162 §3.1.3
TOOBIG: Final = "TOOBIG"  # RFC 4469 §4.3, used by RFC 7888 §4 and RFC 7889 §4
USEATTR: Final = "USEATTR"  # RFC 6154 §6
HASCHILDREN: Final = "HASCHILDREN"  # RFC 9051 §7.1
UNKNOWN_CTE: Final = "UNKNOWN-CTE"  # RFC 3516 §4.3 (BINARY)
NOTSAVED: Final = "NOTSAVED"  # RFC 5182 §2.3 (SEARCHRES)
COMPRESSIONACTIVE: Final = "COMPRESSIONACTIVE"  # RFC 4978 §4

RESPONSE_CODES: Final = frozenset(
    {
        ALERT, BADCHARSET, CAPABILITY, PARSE, PERMANENTFLAGS, READ_ONLY, READ_WRITE,
        TRYCREATE, UIDNEXT, UIDVALIDITY, UNSEEN, CLOSED,
        UNAVAILABLE, AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, EXPIRED, PRIVACYREQUIRED,
        CONTACTADMIN, NOPERM, INUSE, EXPUNGEISSUED, CORRUPTION, SERVERBUG, CLIENTBUG,
        CANNOT, LIMIT, OVERQUOTA, ALREADYEXISTS, NONEXISTENT,
        APPENDUID, COPYUID, UIDNOTSTICKY, HIGHESTMODSEQ, NOMODSEQ, MODIFIED, TOOBIG,
        USEATTR, HASCHILDREN, UNKNOWN_CTE, NOTSAVED, COMPRESSIONACTIVE,
    }
)  # fmt: skip

# --- Capability names -----------------------------------------------------------------

CAP_IMAP4REV1: Final = "IMAP4rev1"  # RFC 3501
CAP_IMAP4REV2: Final = "IMAP4rev2"  # RFC 9051
CAP_STARTTLS: Final = "STARTTLS"
CAP_LOGINDISABLED: Final = "LOGINDISABLED"
CAP_AUTH_PLAIN: Final = "AUTH=PLAIN"
CAP_SASL_IR: Final = "SASL-IR"  # RFC 4959
CAP_LITERAL_PLUS: Final = "LITERAL+"  # RFC 7888 §3
CAP_LITERAL_MINUS: Final = "LITERAL-"  # RFC 7888 §4
CAP_BINARY: Final = "BINARY"  # RFC 3516
CAP_ENABLE: Final = "ENABLE"  # RFC 5161
CAP_IDLE: Final = "IDLE"  # RFC 2177
CAP_NAMESPACE: Final = "NAMESPACE"  # RFC 2342
CAP_UIDPLUS: Final = "UIDPLUS"  # RFC 4315
CAP_UNSELECT: Final = "UNSELECT"  # RFC 3691
CAP_MOVE: Final = "MOVE"  # RFC 6851
CAP_CHILDREN: Final = "CHILDREN"  # RFC 3348
CAP_LIST_EXTENDED: Final = "LIST-EXTENDED"  # RFC 5258
CAP_LIST_STATUS: Final = "LIST-STATUS"  # RFC 5819
CAP_SPECIAL_USE: Final = "SPECIAL-USE"  # RFC 6154
CAP_CREATE_SPECIAL_USE: Final = "CREATE-SPECIAL-USE"  # RFC 6154 §3
CAP_ESEARCH: Final = "ESEARCH"  # RFC 4731
CAP_SEARCHRES: Final = "SEARCHRES"  # RFC 5182
CAP_CONDSTORE: Final = "CONDSTORE"  # RFC 7162
CAP_QRESYNC: Final = "QRESYNC"  # RFC 7162
CAP_MULTIAPPEND: Final = "MULTIAPPEND"  # RFC 3502
CAP_APPENDLIMIT: Final = "APPENDLIMIT"  # RFC 7889: "APPENDLIMIT=<n>" when global
CAP_STATUS_SIZE: Final = "STATUS=SIZE"  # RFC 8438
CAP_QUOTA: Final = "QUOTA"  # RFC 9208
# RFC 9208 §3.1.1: each resource the server counts is announced; STORAGE in KiB (§5.1).
CAP_QUOTA_STORAGE: Final = "QUOTA=RES-STORAGE"
CAP_ID: Final = "ID"  # RFC 2971
CAP_UTF8_ACCEPT: Final = "UTF8=ACCEPT"  # RFC 6855
CAP_SORT: Final = "SORT"  # RFC 5256
CAP_SORT_DISPLAY: Final = "SORT=DISPLAY"  # RFC 5957
CAP_THREAD_REFERENCES: Final = "THREAD=REFERENCES"  # RFC 5256
CAP_THREAD_ORDEREDSUBJECT: Final = "THREAD=ORDEREDSUBJECT"  # RFC 5256


def appendlimit_capability(limit: int) -> str:
    """The capability a server with one global APPEND limit announces (RFC 7889 §3)."""
    return f"{CAP_APPENDLIMIT}={limit}"


# --- Texts the wire layer itself sends ---------------------------------------------------

# RFC 9051 §7.5: the text of a continuation request is free; clients ignore it.
READY_FOR_LITERAL: Final = "Ready for literal data"
