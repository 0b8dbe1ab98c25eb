"""Compile an upload — diagrams, decision tables, forms, or a zip of them — into a ``Bundle``.

``compile_bundle`` reads every file safely, lints everything, lets SpiffWorkflow parse the
processes that passed, and either returns the compiled processes with their forms or raises
``BundleInvalid`` listing EVERY problem (each with file, element and an actionable message).
The same files always give the same digests, so an identical redeploy is detectable.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable

from lxml import etree

from .camunda_forms import convert_form_data, form_name
from .form_specs import read_forms
from .lint import LintContext, is_dmn, lint_bpmn, lint_dmn, root_problem
from .lint_messages import make_problem
from .parser import NSMAP, StagedeskParser, spiff_extension_text
from .specs import check_process, compile_process, engine_detail, engine_problem
from .types import Bundle, BundleInvalid, CompiledProcess, Problem
from .xmlsafe import DEFAULT_MAX_BYTES, XmlRejected, parse_xml

__all__ = ["Bundle", "BundleInvalid", "compile_bundle", "DEFAULT_MAX_FILES", "DEFAULT_MAX_TOTAL_BYTES"]

DEFAULT_MAX_FILES = 200
DEFAULT_MAX_TOTAL_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ZIP_ENTRIES = 2000
DIAGRAM_SUFFIXES = (".bpmn", ".xml", ".dmn")
DEPLOYABLE_SUFFIXES = DIAGRAM_SUFFIXES + (".json",)
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
#: the ``file`` of problems about the upload as a whole when it names no file
UPLOAD = "upload"


def _suffix(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


class _Files:
    """Expands zips and collects the deployable files by (unique) base name."""

    def __init__(self, max_files: int, max_file_bytes: int, max_total_bytes: int):
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.files: dict[str, bytes] = {}
        self.problems: list[Problem] = []
        self.seen = 0

    def add(self, name: str, data: bytes) -> None:
        self.seen += 1
        if name in self.files:
            self.problems.append(make_problem("file.duplicate_name", name, name=name))
        elif len(self.files) >= self.max_files:
            if self.seen == self.max_files + 1:
                self.problems.append(make_problem("bundle.too_many_files", name,
                                                  limit=self.max_files))
        elif len(data) > self.max_file_bytes:
            self.problems.append(make_problem("file.too_large", name, size=len(data),
                                              limit=self.max_file_bytes))
        else:
            self.files[name] = data

    def add_upload(self, name: str, data: bytes) -> None:
        base = posixpath.basename(name.replace("\\", "/")) or name
        suffix = _suffix(base)
        if suffix == ".zip":
            self.add_zip(base, data)
        elif suffix in DEPLOYABLE_SUFFIXES:
            self.add(base, data)
        else:
            self.problems.append(make_problem("file.unsupported_type", base))

    def add_zip(self, archive: str, data: bytes) -> None:
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            self.problems.append(make_problem("zip.corrupt", archive))
            return
        if len(infos) > DEFAULT_MAX_ZIP_ENTRIES:
            self.problems.append(make_problem("zip.too_many_entries", archive, count=len(infos),
                                              limit=DEFAULT_MAX_ZIP_ENTRIES))
            return
        total = 0
        for info in infos:
            path = info.filename.replace("\\", "/")
            parts = [p for p in path.split("/") if p]
            if info.is_dir() or not parts:
                continue
            if path.startswith("/") or _WINDOWS_DRIVE.match(path) or ".." in parts:
                self.problems.append(make_problem("zip.unsafe_path", archive, entry=info.filename))
                continue
            if "__MACOSX" in parts or any(p.startswith(".") for p in parts):
                continue
            base, suffix = parts[-1], _suffix(parts[-1])
            if suffix == ".zip":
                self.problems.append(make_problem("zip.nested", archive, entry=info.filename))
                continue
            if suffix not in DEPLOYABLE_SUFFIXES:
                continue  # READMEs, images, modeler settings: not part of the deployment
            if info.flag_bits & 0x1:
                self.problems.append(make_problem("zip.encrypted", archive, entry=info.filename))
                continue
            if info.file_size > self.max_file_bytes:
                self.problems.append(make_problem("file.too_large", base, size=info.file_size,
                                                  limit=self.max_file_bytes))
                continue
            try:
                with zf.open(info) as handle:  # never trust the declared size
                    content = handle.read(self.max_file_bytes + 1)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error, OSError,
                    EOFError, ValueError):
                self.problems.append(make_problem("zip.corrupt", archive))
                return
            total += len(content)
            if total > self.max_total_bytes:
                self.problems.append(make_problem("zip.too_large", archive, limit=self.max_total_bytes))
                return
            self.add(base, content)


def _declared_form_pairs(trees: dict[str, etree._ElementTree]) -> dict[str, str]:
    pairs = {}
    for tree in trees.values():
        for task in tree.getroot().xpath(".//bpmn:userTask", namespaces=NSMAP):
            schema = (spiff_extension_text(task, "formJsonSchemaFilename") or "").strip()
            ui = (spiff_extension_text(task, "formUiSchemaFilename") or "").strip()
            if schema and ui:
                pairs[schema] = ui
    return pairs


def _executable_processes(tree) -> list:
    return [p for p in tree.getroot().xpath("./bpmn:process", namespaces=NSMAP)
            if p.get("isExecutable", "true") == "true"]


def _camunda_forms(trees, forms: dict, uploaded: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for filename, tree in trees.items():
        for process in _executable_processes(tree):
            for task in process.xpath(".//bpmn:userTask[@id]", namespaces=NSMAP):
                spec, found = convert_form_data(task, filename)
                problems += found
                if spec is None:
                    continue
                name = form_name(task.get("id"))
                if name in uploaded:
                    problems.append(make_problem("camunda_form.name_clash", filename, task, form=name))
                else:
                    forms[name] = spec
    return problems


def _problem_order(problem: Problem) -> tuple:
    return (problem.file, problem.line or 0)


class _Compilation:
    """The phases of ``compile_bundle``; every phase appends to ``problems`` and goes on."""

    def __init__(self, resolve_process, resolve_form, max_file_bytes: int):
        self.resolve_process = resolve_process
        self.resolve_form = resolve_form
        self.max_file_bytes = max_file_bytes
        self.problems: list[Problem] = []
        self.bpmn: dict[str, etree._ElementTree] = {}
        self.dmn: dict[str, etree._ElementTree] = {}
        self.json: dict[str, bytes] = {}
        self.diagrams: dict[str, bytes] = {}
        self.forms: dict[str, dict] = {}
        self.parser = StagedeskParser()
        self.decisions: set[str] = set()
        self.processes: dict[str, tuple[str, bool]] = {}
        self.not_parsed: set[str] = set()  # files SpiffWorkflow must not (or could not) read
        self.dirty: set[str] = set()

    def read(self, collected: dict[str, bytes]) -> None:
        for name, data in sorted(collected.items()):
            if _suffix(name) == ".json":
                self.json[name] = data
                continue
            try:
                tree = parse_xml(data, name, max_bytes=self.max_file_bytes)
            except XmlRejected as exc:
                self.problems.append(exc.problem)
                continue
            dmn = _suffix(name) == ".dmn" or (_suffix(name) == ".xml" and is_dmn(tree))
            wrong = root_problem(tree, name, "dmn" if dmn else "bpmn")
            if wrong is not None:
                self.problems.append(wrong)
                continue
            (self.dmn if dmn else self.bpmn)[name] = tree
            self.diagrams[name] = data

    def decision_tables(self) -> None:
        for name, tree in self.dmn.items():
            found = lint_dmn(tree, name)
            self.problems += found
            if found:
                continue
            try:
                dmn_parser = self.parser.add_dmn_xml(tree, name)
                dmn_parser.parse()
                self.decisions.add(dmn_parser.bpmn_id)
            except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's complaint becomes a Problem
                self.problems.append(make_problem("dmn.engine_rejected", name, line=1,
                                                  detail=engine_detail(exc)))

    def form_specs(self) -> None:
        self.forms, found = read_forms(self.json, _declared_form_pairs(self.bpmn))
        self.problems += found
        self.problems += _camunda_forms(self.bpmn, self.forms, set(self.json))

    def index_processes(self) -> None:
        for name, tree in self.bpmn.items():
            for process in tree.getroot().xpath("./bpmn:process[@id]", namespaces=NSMAP):
                pid = process.get("id")
                if pid in self.processes:
                    self.problems.append(make_problem("process.duplicate", name, process, process=pid,
                                                      other_file=self.processes[pid][0]))
                    self.not_parsed.add(name)
                else:
                    self.processes[pid] = (name, process.get("isExecutable", "true") == "true")

    def lint(self) -> None:
        # Unreadable forms still count as present: their own problems say what is wrong.
        ctx = LintContext(processes=self.processes, decisions=self.decisions,
                          forms=set(self.forms) | set(self.json),
                          resolve_process=self.resolve_process, resolve_form=self.resolve_form)
        for name, tree in self.bpmn.items():
            result = lint_bpmn(tree, name, ctx)
            self.problems += result.problems
            self.dirty |= result.dirty

    def engine_check(self) -> None:
        """SpiffWorkflow parses every process the linter found clean."""
        ids = {name: {e.get("id"): e for e in tree.getroot().iter()
                      if isinstance(e.tag, str) and e.get("id")} for name, tree in self.bpmn.items()}
        for name, tree in self.bpmn.items():
            if name in self.not_parsed:
                continue
            try:
                self.parser.add_bpmn_xml(tree, filename=name)
            except Exception as exc:  # noqa: BLE001
                self.problems.append(engine_problem(exc, name, ids[name], tree.getroot()))
                self.not_parsed.add(name)
        skip = frozenset(self.dirty)
        for name, tree in self.bpmn.items():
            if name in self.not_parsed:
                continue
            for process in _executable_processes(tree):
                pid = process.get("id")
                if pid and pid not in skip:
                    self.problems += check_process(self.parser, pid, name, ids[name], process, skip)

    def compile(self) -> dict[str, CompiledProcess]:
        compiled = {}
        for name, tree in self.bpmn.items():
            for process in _executable_processes(tree):
                pid = process.get("id")
                compiled[pid] = compile_process(self.parser, pid, name, self.resolve_process)
        return dict(sorted(compiled.items()))


def compile_bundle(files: dict[str, bytes], *,
                   resolve_process: Callable[[str], CompiledProcess | None] = lambda pid: None,
                   resolve_form: Callable[[str], dict | None] = lambda name: None,
                   max_file_bytes: int = DEFAULT_MAX_BYTES,
                   max_files: int = DEFAULT_MAX_FILES,
                   max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> Bundle:
    """Compile uploaded files (name → bytes; a ``.zip`` is expanded) or raise ``BundleInvalid``.

    ``resolve_process(process_id)`` returns an already deployed process a call activity may
    call; ``resolve_form(name)`` an already deployed form spec a task may use.  Problems come
    sorted by file and line.
    """
    collected = _Files(max_files, max_file_bytes, max_total_bytes)
    for name in sorted(files):
        collected.add_upload(name, files[name])
    run = _Compilation(resolve_process, resolve_form, max_file_bytes)
    run.problems += collected.problems
    run.read(collected.files)
    if not run.bpmn and not run.problems:
        run.problems.append(make_problem("bundle.no_diagram" if collected.files else "bundle.empty",
                                         next(iter(sorted(files)), UPLOAD)))
    run.decision_tables()
    run.form_specs()
    run.index_processes()
    run.lint()
    run.engine_check()
    if run.problems:
        raise BundleInvalid(sorted(run.problems, key=_problem_order))
    return Bundle(processes=run.compile(), forms=dict(sorted(run.forms.items())),
                  diagrams=run.diagrams, problems=[])
