"""POST/GET /api/v1/process-definitions and the CLI `deploy` share one error list."""
import io
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def upload(files: dict[str, bytes]):
    return {"files": [(io.BytesIO(content), name) for name, content in files.items()]}


def mini() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))}


def test_deploy_needs_manage_processes(api, make):
    engineer = make.user("eng", roles=("engineer",))
    res = api.as_(engineer).post("/process-definitions", data=upload(mini()), content_type="multipart/form-data")
    assert res.status_code == 403


def test_deploy_then_identical_redeploy_then_read_back(api, make):
    pa = make.user("pa", roles=("process_admin",))
    res = api.as_(pa).post("/process-definitions", data=upload(mini()), content_type="multipart/form-data")
    assert res.status_code == 201, res.get_json()
    assert res.get_json() == {"key": "mini", "version": 1,
                              "processes": [{"key": "mini", "version": 1, "created": True}]}
    again = api.as_(pa).post("/process-definitions", data=upload(mini()), content_type="multipart/form-data")
    assert again.status_code == 200
    assert again.get_json()["processes"][0]["created"] is False
    detail = api.as_(pa).get("/process-definitions/mini").get_json()
    assert detail["active_version"] == 1 and detail["xml"].lstrip().startswith("<?xml")
    assert [v["version"] for v in detail["versions"]] == [1]
    assert detail["versions"][0]["deployed_by"] == "pa"
    listing = api.as_(pa).get("/process-definitions").get_json()
    assert [(d["key"], d["version"]) for d in listing] == [("mini", 1)]


def test_zip_bundle_deploys(api, make):
    pa = make.user("pa", roles=("process_admin",))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in mini().items():
            zf.writestr(f"bundle/{name}", content)
    res = api.as_(pa).post("/process-definitions", data=upload({"bundle.zip": buf.getvalue()}),
                           content_type="multipart/form-data")
    assert res.status_code == 201, res.get_json()


def test_bad_files_give_the_lint_list_not_a_500(api, make):
    pa = make.user("pa", roles=("process_admin",))
    xxe = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>"""
    res = api.as_(pa).post("/process-definitions", data=upload({"evil.bpmn": xxe, "broken.bpmn": b"<a><b></a>"}),
                           content_type="multipart/form-data")
    assert res.status_code == 422
    body = res.get_json()
    assert body["message"]
    by_file = {e["file"] for e in body["errors"]}
    assert by_file == {"evil.bpmn", "broken.bpmn"}
    for err in body["errors"]:
        assert set(err) >= {"file", "element_id", "element_name", "line", "message"}
        assert "root:" not in err["message"] and "Traceback" not in err["message"]


def test_no_files_is_a_clear_error(api, make):
    pa = make.user("pa", roles=("process_admin",))
    res = api.as_(pa).post("/process-definitions", data={}, content_type="multipart/form-data")
    assert res.status_code == 422
    assert res.get_json()["errors"][0]["message"]


def test_cli_deploy_prints_problems_and_exits_1(app, db, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_bytes(b"<definitions/>")
    result = app.test_cli_runner().invoke(args=["deploy", str(bad)])
    assert result.exit_code == 1
    assert "bad.bpmn" in result.output


def test_cli_deploy_ok(app, db):
    result = app.test_cli_runner().invoke(args=["deploy", *[str(p) for p in sorted(DATA.glob("mini*"))]])
    assert result.exit_code == 0, result.output
    assert "mini v1 (new version)" in result.output


def test_cli_user_and_token(app, db):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["user", "add", "anna", "--password", "long-enough-1", "--role", "operator",
                              "--group", "Line 1"])
    assert out.exit_code == 0, out.output
    assert "operator" in out.output and "Line 1" in out.output
    bad = runner.invoke(args=["user", "add", "bob", "--role", "wizard"])
    assert bad.exit_code == 1 and "wizard" in bad.output
    token = runner.invoke(args=["token", "anna"])
    assert token.exit_code == 0 and token.output.strip().startswith("sd_")
    assert runner.invoke(args=["token", "nobody"]).exit_code == 1


def test_cli_demo_loads_users_templates_and_processes_once(app, db):
    from sqlalchemy import select

    from app.models import TicketTemplate
    from app.permissions import MANAGE_USERS
    from app.services.users import check_password

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "process incident v1 (deployed)" in first.output and "ticket templates: 4 added" in first.output
    assert check_password("operator", "operator-demo") is not None
    assert MANAGE_USERS in check_password("admin", "admin-demo").permissions
    templates = db.session.execute(select(TicketTemplate).order_by(TicketTemplate.position)).scalars().all()
    assert [t.process_key for t in templates] == ["incident", "incident", "incident", "service_request"]
    assert all(t.group is not None and t.group.name == "Line 1" for t in templates)

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert "(unchanged)" in again.output and "ticket templates" not in again.output
    assert "operator-demo" not in again.output
