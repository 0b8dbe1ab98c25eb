"""The BPMN MIWG test suite: every file deploys or gets actionable problems, never a crash.

Many MIWG diagrams are descriptive (``isExecutable="false"``, collapsed sub-processes, Java
service tasks, XPath/FEEL conditions): they must be refused with messages an admin can act
on, each pinned to the file and, when about an element, to that element.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from workflows.bundle import compile_bundle
from workflows.lint_messages import MESSAGES
from workflows.types import BundleInvalid

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "miwg"
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []
#: problems about a whole file (or upload) rather than one of its elements
FILE_LEVEL = re.compile(r"^(xml|file|bundle|zip|form)\.")
REPR = re.compile(r"Traceback|File \"|<Element |<lxml|0x[0-9a-f]{6,}|\b\w+(Error|Exception)\(")


def test_the_corpus_is_there():
    """../shared/corpus/miwg beside the project; CI clones it there."""
    assert len(FILES) >= 60, f"MIWG corpus not found at {CORPUS}"


def outcome(path: Path):
    try:
        return compile_bundle({path.name: path.read_bytes()}), []
    except BundleInvalid as exc:
        return None, exc.problems


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_every_miwg_file_deploys_or_gets_actionable_problems(path):
    bundle, problems = outcome(path)
    if bundle is not None:
        assert bundle.processes and path.name in bundle.diagrams
        for process in bundle.processes.values():
            assert process.source_file == path.name and len(process.digest) == 64
        return
    assert problems
    for problem in problems:
        assert problem.file == path.name
        assert problem.code in MESSAGES
        assert problem.message == MESSAGES[problem.code].format(**problem.params)
        assert 20 <= len(problem.message) <= 800, problem.message
        assert not REPR.search(problem.message), problem.message
        if not FILE_LEVEL.match(problem.code):
            assert problem.element_id, problem
            assert problem.line, problem


def test_miwg_summary(capsys):
    deployed, kinds = [], Counter()
    for path in FILES:
        bundle, problems = outcome(path)
        if bundle is not None:
            deployed.append(f"{path.parent.name}/{path.name}")
        kinds.update(p.code for p in problems)
    with capsys.disabled():
        print(f"\nMIWG: {len(deployed)} of {len(FILES)} files deploy: {', '.join(deployed)}")
        print("MIWG problem kinds: " + ", ".join(f"{k}={n}" for k, n in kinds.most_common()))
    # The executable MIWG diagrams without Java/XPath/FEEL specifics must keep deploying.
    assert {"camunda-modeler/A.4.0-export.bpmn", "camunda-modeler/C.9.1-roundtrip.bpmn",
            "reference/C.9.1.bpmn"} <= set(deployed)
    assert "bpmn.not_executable" in kinds
