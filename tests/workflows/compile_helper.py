"""Helpers for the engine tests: ``compile_for_test`` and save-and-reload.

``compile_for_test`` parses fixture diagrams with SpiffWorkflow's own ``SpiffBpmnParser``
(no linting, so the fixtures can stay minimal) and packs them like a deployed bundle does,
with ``workflows.serialization.specs_to_dict``/``spec_digest``.
"""
from __future__ import annotations

import json
from pathlib import Path

from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from workflows.serialization import spec_digest, specs_to_dict
from workflows.types import CompiledProcess

DATA = Path(__file__).parent / "data" / "runner"


def compile_for_test(*names) -> dict[str, CompiledProcess]:
    """Parse fixture diagrams together (names in ``data/runner`` or paths); one
    ``CompiledProcess`` per process id, each carrying the specs it calls."""
    paths = [Path(n) if isinstance(n, Path) or "/" in str(n)
             else DATA / (n if n.endswith(".bpmn") else f"{n}.bpmn") for n in names]
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(p) for p in paths])
    processes = {}
    for pid in parser.get_process_ids():
        spec = parser.get_spec(pid)
        subs = parser.get_subprocess_specs(pid)
        spec_dict = specs_to_dict(spec, subs)
        processes[pid] = CompiledProcess(
            process_id=pid,
            name=spec.description or pid,
            spec=spec_dict,
            digest=spec_digest(spec_dict),
            source_file=Path(spec.file).name if spec.file else "",
            calls=tuple(sorted(subs)),
        )
    return processes


def reload(state: dict) -> dict:
    """The state as the app would store and read it back (JSON text in a column)."""
    return json.loads(json.dumps(state))


def of_type(effects, kind) -> list:
    return [e for e in effects if isinstance(e, kind)]


def kinds(effects) -> list[str]:
    return [type(e).__name__ for e in effects]
