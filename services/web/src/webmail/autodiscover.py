"""Outlook's Autodiscover, the plain-old-XML (POX) kind: the request read, the answer built.

Outlook POSTs a small document naming the address and the response schema it accepts to
/autodiscover/autodiscover.xml (or /Autodiscover/Autodiscover.xml) on the address's
domain, without cookies and before it has credentials. The request body is hostile input:
it is read only up to MAX_REQUEST_BYTES and parsed by expat with every DTD refused, so no
entity is ever declared, expanded or fetched (no XXE, no "billion laughs"). Element and
order of the answer as Microsoft documents them ("POX Autodiscover XML elements for
Exchange": Account, Protocol).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring
from xml.parsers import expat

from webmail.servers import IMAP, POP3, SSL, Server

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
# The spellings clients use (paths are case-sensitive here, as in aiohttp's router).
PATHS = ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml")
# Outlook's request is a few hundred bytes; nothing legitimate comes near this.
MAX_REQUEST_BYTES = 16 * 1024
MAX_DEPTH = 8

# Error codes of the POX error response (Exchange's own).
INVALID_REQUEST = (600, "Invalid Request")
PROVIDER_UNAVAILABLE = (601, "Provider is not available")
UNKNOWN_ADDRESS = (500, "The e-mail address cannot be found.")


class BadRequest(ValueError):
    """The body is not an Autodiscover request we can answer; ``error`` says which."""

    def __init__(self, message: str, *, error: tuple[int, str] = INVALID_REQUEST) -> None:
        super().__init__(message)
        self.error = error


def parse_request(body: bytes) -> tuple[str, str]:
    """(EMailAddress, AcceptableResponseSchema) of an Autodiscover request.

    BadRequest for anything else: too large, not XML, a DTD, another root, a field
    missing or repeated.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise BadRequest("request too large")
    fields: dict[str, list[str]] = {}
    path: list[str] = []

    def refuse(*_: Any) -> int:
        # Any DTD at all (internal subset, external id): an entity is never needed here.
        raise BadRequest("a DTD is not allowed")

    def start(name: str, _attrs: dict[str, str]) -> None:
        path.append(name)
        if len(path) > MAX_DEPTH:
            raise BadRequest("nested too deep")
        if len(path) == 1 and name != f"{REQUEST_NS} Autodiscover":
            raise BadRequest("not an Outlook Autodiscover request")
        if len(path) == 3 and path[1] == f"{REQUEST_NS} Request":
            fields.setdefault(name.rpartition(" ")[2], []).append("")

    def end(_name: str) -> None:
        path.pop()

    def text(data: str) -> None:
        if len(path) == 3 and path[1] == f"{REQUEST_NS} Request":
            values = fields[path[2].rpartition(" ")[2]]
            values[-1] += data

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise BadRequest(f"not well-formed XML: {expat.ErrorString(exc.code)}") from None
    address = _only(fields, "EMailAddress")
    schema = _only(fields, "AcceptableResponseSchema")
    if schema != OUTLOOK_NS:
        # The mobilesync (ActiveSync) schema and others: we serve IMAP, SMTP and POP3 only.
        raise BadRequest("unsupported response schema", error=PROVIDER_UNAVAILABLE)
    return address, schema


def _only(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name, [])
    if len(values) != 1 or not values[0].strip():
        raise BadRequest(f"needs exactly one {name}")
    return values[0].strip()


def account_response(servers: list[Server], *, address: str, display_name: str = "") -> bytes:
    """The settings for ``address``: the implicit-TLS servers only ("SSL on")."""
    root = Element("Autodiscover", xmlns=RESPONSE_NS)
    response = SubElement(root, "Response", xmlns=OUTLOOK_NS)
    if display_name:
        SubElement(SubElement(response, "User"), "DisplayName").text = display_name
    account = SubElement(response, "Account")
    SubElement(account, "AccountType").text = "email"
    SubElement(account, "Action").text = "settings"
    for server in servers:
        if server.security != SSL:
            continue
        protocol = SubElement(account, "Protocol")
        for name, value in (
            ("Type", {IMAP: "IMAP", POP3: "POP3"}.get(server.protocol, "SMTP")),
            ("Server", server.hostname),
            ("Port", str(server.port)),
            ("LoginName", address),
            ("DomainRequired", "off"),
            ("SPA", "off"),
            ("SSL", "on"),
            ("AuthRequired", "on"),
        ):
            SubElement(protocol, name).text = value
        if not server.incoming:
            # The same login as for reading mail.
            SubElement(protocol, "UsePOPAuth").text = "on"
            SubElement(protocol, "SMTPLast").text = "off"
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def error_response(error: tuple[int, str], *, now: datetime | None = None) -> bytes:
    code, message = error
    when = (now or datetime.now(UTC)).strftime("%H:%M:%S.%f")
    root = Element("Autodiscover", xmlns=RESPONSE_NS)
    response = SubElement(root, "Response")
    failure = SubElement(response, "Error", Time=when, Id="0")
    SubElement(failure, "ErrorCode").text = str(code)
    SubElement(failure, "Message").text = message
    SubElement(failure, "DebugData")
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return document
