"""Deploying bundles: versions, identical re-deploys, pinned instances, lint errors."""
from pathlib import Path

import pytest

from app.errors import ValidationFailed
from app.models import Instance, ProcessDefinition, Spec, WorkItem

DATA = Path(__file__).resolve().parent.parent / "data"


def mini_files(**overrides: bytes) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))}
    files.update(overrides)
    return files


def test_deploy_creates_version_and_identical_redeploy_does_not(db, make):
    admin = make.user("pa", roles=("process_admin",))
    first = make.deploy(mini_files(), admin)
    assert first.processes == [{"key": "mini", "version": 1, "created": True}]
    again = make.deploy(mini_files(), admin)
    assert again.processes == [{"key": "mini", "version": 1, "created": False}]
    assert again.deployment is None
    assert db.session.query(ProcessDefinition).filter_by(key="mini").count() == 1
    # the spec is stored once, keyed by its digest
    definition = db.session.query(ProcessDefinition).filter_by(key="mini").one()
    assert db.session.get(Spec, definition.spec_digest) is not None
    assert definition.deployment.deployed_by.login == "pa"


def test_changed_diagram_is_a_new_version_and_running_instances_stay(db, make):
    admin = make.user("pa", roles=("process_admin",))
    make.deploy(mini_files(), admin)
    staff = make.staff()
    old_ticket = make.ticket(staff["requester"], process="mini")
    changed = (DATA / "mini.bpmn").read_bytes().replace(b'value="#1E88E5"', b'value="#D32F2F"')
    outcome = make.deploy(mini_files(**{"mini.bpmn": changed}), admin)
    assert outcome.processes == [{"key": "mini", "version": 2, "created": True}]
    new_ticket = make.ticket(staff["requester"], process="mini")
    assert old_ticket.instance.definition.version == 1
    assert new_ticket.instance.definition.version == 2
    colors = {t.id: [i.color for i in db.session.query(WorkItem).filter_by(ticket_id=t.id)]
              for t in (old_ticket, new_ticket)}
    assert colors[old_ticket.id] == ["#1E88E5"]
    assert colors[new_ticket.id] == ["#D32F2F"]
    assert db.session.get(Instance, old_ticket.instance_id).definition.version == 1


def test_changed_form_alone_makes_a_new_version(db, make):
    make.deploy(mini_files())
    form = (DATA / "mini_triage.json").read_bytes().replace(b'"P4"]', b'"P4", "P5"]')
    outcome = make.deploy(mini_files(**{"mini_triage.json": form}))
    assert outcome.processes == [{"key": "mini", "version": 2, "created": True}]


def test_invalid_bundle_reports_every_problem_and_writes_nothing(db, make):
    broken = (DATA / "mini.bpmn").read_bytes().replace(b"bool(question)", b"__import__('os')")
    with pytest.raises(ValidationFailed) as info:
        make.deploy({"mini.bpmn": broken, "junk.bpmn": b"<not-xml"})
    errors = info.value.errors
    files = {e["file"] for e in errors}
    assert {"mini.bpmn", "junk.bpmn"} <= files
    assert all(e["message"] and "Traceback" not in e["message"] for e in errors)
    assert db.session.query(ProcessDefinition).count() == 0


def test_missing_form_is_reported(db, make):
    files = mini_files()
    del files["mini_resolve.json"]
    with pytest.raises(ValidationFailed) as info:
        make.deploy(files)
    assert any("mini_resolve.json" in e["message"] and e["element_id"] == "resolve" for e in info.value.errors)


def test_an_identical_bundle_is_compiled_once_until_what_it_resolved_changes(db, make, monkeypatch):
    import app.services.definitions as definitions

    calls = []
    real = definitions.compile_bundle
    monkeypatch.setattr(definitions, "compile_bundle", lambda *a, **k: calls.append(1) or real(*a, **k))
    definitions._BUNDLES.clear()
    approval = (DATA.parent.parent / "bpmn" / "approval.bpmn").read_bytes()
    forms = {p.name: p.read_bytes() for p in (DATA.parent.parent / "forms").glob("*.json")}
    caller = (DATA.parent.parent / "bpmn" / "service_request.bpmn").read_bytes()
    make.deploy({"approval.bpmn": approval, **forms})
    make.deploy({"service_request.bpmn": caller, **forms})  # resolves 'approval' from the database
    make.deploy({"service_request.bpmn": caller, **forms})
    assert len(calls) == 2  # the second deploy of the same files reused the compiled bundle
    changed = approval.replace(b'value="#0D47A1"', b'value="#1A237E"')
    assert changed != approval
    make.deploy({"approval.bpmn": changed, **forms})
    outcome = make.deploy({"service_request.bpmn": caller, **forms})
    assert len(calls) == 4  # the callee changed: recompiled, and a new version picks it up
    assert outcome.processes == [{"key": "service_request", "version": 2, "created": True}]
