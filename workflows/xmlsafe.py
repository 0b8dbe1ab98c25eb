"""Parse untrusted XML safely.

Uploaded diagrams come from anybody with the "manage processes" permission, and zip bundles
from wherever those people found them.  ``parse_xml`` refuses what could read local files,
reach the network or exhaust memory — DTDs declaring entities (XXE, "billion laughs"),
external DTDs, oversize files, absurd nesting — and turns every failure into a ``Problem``
(raised inside ``XmlRejected``), never an lxml traceback.
"""
from __future__ import annotations

import re

from lxml import etree

from .lint_messages import make_problem
from .types import BundleInvalid, Problem

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_ELEMENTS = 200_000
DEFAULT_MAX_DEPTH = 100

_DOCTYPE = re.compile(r"<!DOCTYPE\b")
_ELEMENT_START = re.compile(r"<[A-Za-z_]")
_ENTITY = re.compile(r"<!ENTITY\b")
_EXTERNAL_ID = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s+(?:SYSTEM|PUBLIC)\b")


class XmlRejected(BundleInvalid):
    """The XML of one file was refused; ``problem`` says why (also in ``problems``)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__([problem])


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=False,
                           recover=False)


def _sniff_text(data: bytes) -> str:
    """The document as text, good enough to look at its prolog (not to parse it)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data[:4] in (b"<\x00?\x00", b"<\x00!\x00"):
        return data.decode("utf-16-le", errors="replace")
    if data[:4] in (b"\x00<\x00?", b"\x00<\x00!"):
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def _check_prolog(data: bytes, filename: str) -> None:
    """Refuse entity declarations and external DTDs before libxml2 sees them."""
    text = _sniff_text(data)
    doctype = _DOCTYPE.search(text)
    if doctype is None:
        return
    first_element = _ELEMENT_START.search(text)
    if first_element is not None and first_element.start() < doctype.start():
        return  # "<!DOCTYPE" inside the document body (a CDATA script, a comment): harmless
    prolog_end = first_element.start() if first_element is not None else len(text)
    prolog = text[doctype.start():prolog_end]
    line = text.count("\n", 0, doctype.start()) + 1
    if _ENTITY.search(prolog):
        raise XmlRejected(make_problem("xml.entities", filename, line=line))
    if _EXTERNAL_ID.match(prolog):
        raise XmlRejected(make_problem("xml.external_dtd", filename, line=line,
                                       url=_external_url(prolog)))


def _external_url(prolog: str) -> str:
    quoted = re.findall(r"\"([^\"]*)\"|'([^']*)'", prolog.split("[", 1)[0])
    values = [a or b for a, b in quoted]
    return values[-1] if values else "?"


def _syntax_problem(exc: etree.XMLSyntaxError, log, filename: str) -> Problem:
    entries = [e for e in log if e.level >= etree.ErrorLevels.ERROR] or list(log)
    if entries:
        detail, line = entries[0].message, entries[0].line
    else:
        detail, line = str(exc.msg or exc), exc.lineno
    detail = re.sub(r",? line \d+, column \d+$", "", " ".join(str(detail).split())).rstrip(". ")
    return make_problem("xml.malformed", filename, line=line or None, detail=detail or "unreadable",
                        line_number=line or "?")


def _check_shape(root: etree._Element, filename: str, max_elements: int, max_depth: int) -> None:
    depth = count = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        if depth > max_depth:
            raise XmlRejected(make_problem("xml.too_deep", filename, line=element.sourceline,
                                           limit=max_depth))
        if count > max_elements:
            raise XmlRejected(make_problem("xml.too_many_elements", filename, line=element.sourceline,
                                           limit=max_elements))


def parse_xml(data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
              max_elements: int = DEFAULT_MAX_ELEMENTS,
              max_depth: int = DEFAULT_MAX_DEPTH) -> etree._ElementTree:
    """Parse ``data`` (the bytes of ``filename``) or raise ``XmlRejected`` with one ``Problem``."""
    if not data or not data.strip():
        raise XmlRejected(make_problem("file.empty", filename))
    if len(data) > max_bytes:
        raise XmlRejected(make_problem("file.too_large", filename, size=len(data), limit=max_bytes))
    _check_prolog(data, filename)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(_syntax_problem(exc, parser.error_log, filename)) from None
    except (etree.LxmlError, ValueError) as exc:  # e.g. an unknown encoding declaration
        raise XmlRejected(make_problem("xml.malformed", filename, detail=type(exc).__name__,
                                       line_number="?")) from None
    tree = root.getroottree()
    docinfo = tree.docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise XmlRejected(make_problem("xml.entities", filename, line=1))
    if docinfo.system_url or docinfo.public_id:
        raise XmlRejected(make_problem("xml.external_dtd", filename, line=1,
                                       url=docinfo.system_url or docinfo.public_id))
    _check_shape(root, filename, max_elements, max_depth)
    return tree
