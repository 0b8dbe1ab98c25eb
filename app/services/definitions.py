"""Deploying process definitions: bundles of diagrams and forms become new versions."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from workflows.bundle import compile_bundle
from workflows.types import BundleInvalid, CompiledProcess, Problem

from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import DefinitionForm, Deployment, DeploymentFile, Form, ProcessDefinition, Spec, User
from .form_specs import check_spec
from .lint_i18n import localize_problems
from .users import ensure_group

#: lanes that are not support groups
NON_GROUP_LANES = {"requester"}


@dataclass
class DeployOutcome:
    deployment: Deployment | None
    processes: list[dict] = field(default_factory=list)  # [{key, version, created}]

    @property
    def created(self) -> bool:
        return any(p["created"] for p in self.processes)


def _kind(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".dmn"):
        return "dmn"
    if lower.endswith(".json"):
        return "form"
    if lower.endswith(".zip"):
        return "zip"
    return "bpmn"


def active_definition(key: str) -> ProcessDefinition | None:
    return db.session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.active.is_(True))
        .order_by(ProcessDefinition.version.desc()).limit(1)).scalar()


def get_definition(key: str, version: int | None = None) -> ProcessDefinition:
    if version is None:
        found = active_definition(key)
    else:
        found = db.session.execute(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).scalar()
    if found is None:
        raise NotFound(_l("No process %(key)s is deployed.", key=key))
    return found


#: deployed versions never change: their compiled specs and pinned forms are kept per process
_COMPILED: dict[tuple[int, str], CompiledProcess] = {}
_PINNED_FORMS: dict[tuple[int, str], dict | None] = {}
_CACHE_LIMIT = 512


def _remember(cache: dict, key, value, limit: int = _CACHE_LIMIT):
    if len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def compiled(definition: ProcessDefinition) -> CompiledProcess:
    key = (definition.id, definition.spec_digest)
    hit = _COMPILED.get(key)
    if hit is not None:
        return hit
    return _remember(_COMPILED, key, CompiledProcess(
        process_id=definition.key, name=definition.name, spec=definition.spec.body,
        digest=definition.spec_digest, source_file=definition.source_file,
        calls=tuple(definition.calls or ()), stages=tuple(definition.stages or ())))


def _latest_form(name: str) -> dict | None:
    row = db.session.execute(select(Form).where(Form.name == name).order_by(Form.id.desc()).limit(1)).scalar()
    return row.body if row else None


def _resolve_process(key: str) -> CompiledProcess | None:
    found = active_definition(key)
    return compiled(found) if found else None


def problems_to_dicts(problems: list[Problem]) -> list[dict]:
    """The API/CLI shape of lint problems (``file, element_id, element_name, line, message``,
    plus ``code`` and ``params``), each ``message`` in the reader's language."""
    return localize_problems(problems)


def deploy_files(files: dict[str, bytes], actor: User | None) -> DeployOutcome:
    """Deploy a bundle; identical processes make no new version.  Raises ValidationFailed
    with the complete lint list when anything is wrong (nothing is written then)."""
    if not files:
        raise ValidationFailed(_l("Send at least one .bpmn, .dmn, .json or .zip file."),
                               errors=[{"file": None, "element_id": None, "element_name": None,
                                        "line": None, "message": str(_l("No files were sent."))}])
    checksum = _files_checksum(files)
    try:
        bundle = _compile(files, checksum)
    except BundleInvalid as err:
        raise ValidationFailed(_l("The diagrams cannot be deployed; fix the problems listed."),
                               errors=problems_to_dicts(err.problems)) from None
    form_problems = _form_problems(bundle.forms)
    if form_problems:
        raise ValidationFailed(_l("The forms cannot be used; fix the problems listed."), errors=form_problems)

    outcome = DeployOutcome(deployment=None)
    pending: list[tuple[CompiledProcess, ProcessDefinition | None]] = []
    for key, proc in sorted(bundle.processes.items()):
        current = active_definition(key)
        forms_same = current is not None and _forms_unchanged(current, proc, bundle.forms)
        if current is not None and current.spec_digest == proc.digest and forms_same:
            outcome.processes.append({"key": key, "version": current.version, "created": False})
        else:
            pending.append((proc, current))
    if not pending:
        return outcome

    deployment = Deployment(deployed_by_id=actor.id if actor else None, checksum=checksum)
    stored = dict(bundle.diagrams)  # a .zip is kept as the files it held
    stored.update({name: json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")
                   for name, body in bundle.forms.items()})
    for name in sorted(stored):
        deployment.files.append(DeploymentFile(
            name=name, kind=_kind(name), sha256=hashlib.sha256(stored[name]).hexdigest(), content=stored[name]))
    db.session.add(deployment)
    db.session.flush()
    outcome.deployment = deployment
    form_rows = {name: _store_form(name, body, deployment) for name, body in bundle.forms.items()}

    for proc, current in pending:
        if db.session.get(Spec, proc.digest) is None:
            db.session.add(Spec(digest=proc.digest, body=proc.spec))
        last = db.session.execute(select(func.max(ProcessDefinition.version))
                                  .where(ProcessDefinition.key == proc.process_id)).scalar() or 0
        if current is not None:
            current.active = False
        definition = ProcessDefinition(
            key=proc.process_id, version=last + 1, name=proc.name or proc.process_id,
            spec_digest=proc.digest, deployment_id=deployment.id, source_file=proc.source_file,
            calls=list(proc.calls), stages=[dict(s) for s in proc.stages], active=True)
        db.session.add(definition)
        db.session.flush()
        for form_name in _form_names(proc):
            row = form_rows.get(form_name) or _latest_form_row(form_name)
            if row is not None:
                db.session.add(DefinitionForm(definition_id=definition.id, name=form_name, form_id=row.id))
        for stage in proc.stages:
            lane = (stage.get("lane") or "").strip()
            if lane and lane.lower() not in NON_GROUP_LANES:
                ensure_group(lane)
        outcome.processes.append({"key": proc.process_id, "version": definition.version, "created": True})
    db.session.flush()
    return outcome


def _files_checksum(files: dict[str, bytes]) -> str:
    return hashlib.sha256(b"".join(
        hashlib.sha256(name.encode() + b"\0" + files[name]).digest() for name in sorted(files))).hexdigest()


#: compiled bundles by checksum, with what they resolved from the database (process digests,
#: form hashes): reused only while those are unchanged.  Parsing and linting a bundle costs
#: seconds; `demo` on every start and repeated deploys of the same files need not pay it.
_BUNDLES: dict[str, tuple[Any, dict[str, str | None], dict[str, str | None]]] = {}
_BUNDLE_LIMIT = 16


def _compile(files: dict[str, bytes], checksum: str):
    hit = _BUNDLES.get(checksum)
    if hit is not None:
        bundle, processes, forms = hit
        if all(getattr(_resolve_process(pid), "digest", None) == digest for pid, digest in processes.items()) \
                and all(_sha_or_none(_latest_form(name)) == sha for name, sha in forms.items()):
            return bundle
    seen_processes: dict[str, str | None] = {}
    seen_forms: dict[str, str | None] = {}

    def resolve_process(pid: str) -> CompiledProcess | None:
        found = _resolve_process(pid)
        seen_processes[pid] = found.digest if found else None
        return found

    def resolve_form(name: str) -> dict | None:
        found = _latest_form(name)
        seen_forms[name] = _sha_or_none(found)
        return found

    bundle = compile_bundle(files, resolve_process=resolve_process, resolve_form=resolve_form)
    _remember(_BUNDLES, checksum, (bundle, seen_processes, seen_forms), limit=_BUNDLE_LIMIT)
    return bundle


def _sha_or_none(body: dict | None) -> str | None:
    return None if body is None else _form_sha(body)


def _form_problems(forms: dict[str, dict]) -> list[dict]:
    """The app's own checks of each form (what the form builder needs), as lint problems."""
    out = []
    for name, body in forms.items():
        for problem in check_spec(body, gettext=gettext):
            out.append({"file": name, "element_id": problem.field, "element_name": problem.field, "line": None,
                        "message": problem.message})
    return out


def _form_names(proc: CompiledProcess) -> set[str]:
    return {s["stage"]["form"] for s in proc.stages if (s.get("stage") or {}).get("form")}


def _forms_unchanged(current: ProcessDefinition, proc: CompiledProcess, forms: dict[str, dict]) -> bool:
    pinned = {df.name: df.form.sha256 for df in db.session.execute(
        select(DefinitionForm).where(DefinitionForm.definition_id == current.id)).scalars()}
    for name in _form_names(proc):
        if name in forms and pinned.get(name) != _form_sha(forms[name]):
            return False
    return True


def _form_sha(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _latest_form_row(name: str) -> Form | None:
    return db.session.execute(select(Form).where(Form.name == name).order_by(Form.id.desc()).limit(1)).scalar()


def _store_form(name: str, body: dict, deployment: Deployment) -> Form:
    sha = _form_sha(body)
    row = db.session.execute(select(Form).where(Form.name == name, Form.sha256 == sha)).scalar()
    if row is None:
        row = Form(name=name, sha256=sha, body=body, deployment_id=deployment.id)
        db.session.add(row)
        db.session.flush()
    return row


def form_for(definition_id: int, name: str | None) -> dict | None:
    """The form spec a definition version pinned under ``name``."""
    if not name:
        return None
    key = (definition_id, name)
    if key in _PINNED_FORMS:
        return _PINNED_FORMS[key]
    body = db.session.execute(select(Form.body).join(DefinitionForm, DefinitionForm.form_id == Form.id).where(
        DefinitionForm.definition_id == definition_id, DefinitionForm.name == name)).scalar()
    if body is not None:
        return _remember(_PINNED_FORMS, key, body)
    return _latest_form(name)


def list_definitions(key: str | None = None) -> list[ProcessDefinition]:
    query = (select(ProcessDefinition)
             .options(joinedload(ProcessDefinition.deployment).joinedload(Deployment.deployed_by))
             .order_by(ProcessDefinition.key, ProcessDefinition.version))
    if key is not None:
        query = query.where(ProcessDefinition.key == key)
    return list(db.session.execute(query).scalars())


def diagram_xml(definition: ProcessDefinition) -> bytes | None:
    row = db.session.execute(select(DeploymentFile).where(
        DeploymentFile.deployment_id == definition.deployment_id,
        DeploymentFile.name == definition.source_file)).scalar()
    return row.content if row else None
