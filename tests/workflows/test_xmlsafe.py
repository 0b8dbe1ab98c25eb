"""workflows.xmlsafe: untrusted XML is parsed without reading files, the network or RAM away."""
from __future__ import annotations

import time

import pytest

from workflows import xmlsafe
from workflows.lint_messages import MESSAGES
from workflows.types import BundleInvalid
from workflows.xmlsafe import XmlRejected, parse_xml

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE definitions [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p" name="&xxe;"/>
</definitions>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>
"""


def rejected(data: bytes, **kwargs) -> XmlRejected:
    with pytest.raises(XmlRejected) as info:
        parse_xml(data, "upload.bpmn", **kwargs)
    problem = info.value.problem
    assert info.value.problems == [problem]
    assert isinstance(info.value, BundleInvalid)
    assert problem.file == "upload.bpmn"
    assert problem.message == MESSAGES[problem.code].format(**problem.params)
    assert "Traceback" not in problem.message and "lxml" not in problem.message
    return info.value


def test_xxe_is_refused_and_nothing_is_read():
    problem = rejected(XXE).problem
    assert problem.code == "xml.entities"
    assert problem.line == 2
    assert "root:" not in problem.message


XXE_IN_TEXT = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d>&xxe;</d>"""


@pytest.mark.parametrize("data", [XXE, XXE_IN_TEXT, BILLION_LAUGHS])
def test_entities_are_refused_even_if_the_prolog_scan_missed_them(monkeypatch, data):
    # Second line of defence: the lxml parser settings and the DTD check after parsing.
    monkeypatch.setattr(xmlsafe, "_check_prolog", lambda data, filename: None)
    problem = rejected(data).problem
    assert problem.code in ("xml.entities", "xml.malformed")
    assert "root:" not in problem.message
    if data is XXE_IN_TEXT:
        assert problem.code == "xml.entities"


def test_billion_laughs_is_refused_quickly():
    started = time.monotonic()
    assert rejected(BILLION_LAUGHS).problem.code == "xml.entities"
    assert time.monotonic() - started < 1


def test_utf16_entity_declarations_are_refused():
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'
    assert rejected(data.encode("utf-16")).problem.code == "xml.entities"


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE definitions SYSTEM "http://attacker.example/evil.dtd">',
    b'<!DOCTYPE definitions PUBLIC "-//X//DTD X//EN" "file:///etc/passwd">',
])
def test_external_dtd_is_refused(doctype):
    data = b'<?xml version="1.0"?>\n' + doctype + b"\n<definitions/>"
    problem = rejected(data).problem
    assert problem.code == "xml.external_dtd"
    assert problem.line == 2
    assert problem.params["url"] in ("http://attacker.example/evil.dtd", "file:///etc/passwd")


def test_a_bare_doctype_and_comments_are_fine():
    tree = parse_xml(b"<!DOCTYPE d><d><!-- kept --><e/></d>", "ok.bpmn")
    assert tree.getroot().tag == "d"
    assert len(tree.getroot()) == 2  # the comment is kept


def test_doctype_text_inside_the_document_body_is_not_a_declaration():
    data = b"<d><script><![CDATA[x = '<!DOCTYPE a [<!ENTITY b \"c\">]>']]></script></d>"
    assert parse_xml(data, "ok.bpmn").getroot().tag == "d"


def test_oversize_file_is_refused_with_a_configurable_limit():
    data = b"<d>" + b"<e/>" * 100 + b"</d>"
    problem = rejected(data, max_bytes=100).problem
    assert problem.code == "file.too_large"
    assert problem.params == {"size": str(len(data)), "limit": "100"}
    assert parse_xml(data, "ok.bpmn").getroot().tag == "d"
    big = b"<d>" + b" " * (xmlsafe.DEFAULT_MAX_BYTES) + b"</d>"
    assert rejected(big).problem.code == "file.too_large"


@pytest.mark.parametrize("data,line", [
    (b"<definitions>\n  <process>\n</definitions>", 3),
    (b"<definitions>", 1),
    (b"not xml at all", 1),
    (b'<?xml version="1.0" encoding="klingon"?><a/>', 1),
])
def test_malformed_xml_gives_a_line_and_no_traceback(data, line):
    problem = rejected(data).problem
    assert problem.code == "xml.malformed"
    assert problem.line == line
    assert problem.params["detail"]


def test_empty_file():
    assert rejected(b"  \n").problem.code == "file.empty"


def test_too_deep_and_too_many_elements():
    deep = b"<a>" * 60 + b"</a>" * 60
    assert rejected(deep, max_depth=50).problem.code == "xml.too_deep"
    many = b"<a>" + b"<b/>" * 500 + b"</a>"
    assert rejected(many, max_elements=100).problem.code == "xml.too_many_elements"
    assert parse_xml(many, "ok.bpmn").getroot().tag == "a"


def test_elements_keep_their_source_lines():
    tree = parse_xml(b"<a>\n\n<b id='x'/>\n</a>", "ok.bpmn")
    assert tree.getroot()[0].sourceline == 3
