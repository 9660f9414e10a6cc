"""The case file in the console: the verified identity, and materials listed and downloaded as
attachments by the officers who may see the case; anyone else, or a material of another case named
under this one, gets 404."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from console_support import FAR_REVIEWER, OFFICER, OTHER_OFFICER, PNG, REVIEWER, attach, sign_in, submit
from flask import Flask

from huiju.runtime import Runtime


def test_officers_of_the_case_download_its_materials_as_attachments(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    material_id = attach(runtime, number, "身份证 正面.png")
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert f"/console/cases/{number}/materials/{material_id}" in page
    for username in (OFFICER, REVIEWER):
        client = app.test_client()
        assert sign_in(client, username) == 302
        reply = client.get(f"/console/cases/{number}/materials/{material_id}")
        assert reply.status_code == 200, username
        assert reply.data == PNG and hashlib.sha256(reply.data).hexdigest() == hashlib.sha256(PNG).hexdigest()
        assert reply.headers["Content-Type"] == "image/png"
        assert reply.headers["Content-Disposition"].startswith("attachment")
        encoded = reply.headers["Content-Disposition"].split("filename*=UTF-8''")[1]
        assert unquote(encoded) == "身份证 正面.png"  # the Chinese name, encoded: headers are Latin-1
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        shown = client.get(f"/console/cases/{number}/materials/{material_id}?view=1")
        assert shown.data == PNG and shown.headers["Content-Disposition"].startswith("inline")
        assert "sandbox" in shown.headers["Content-Security-Policy"]


def test_nobody_else_gets_a_material_not_even_through_another_case(runtime: Runtime, app: Flask) -> None:
    number = submit(runtime)
    other_number = submit(runtime)
    material_id = attach(runtime, number, "户口簿.png")
    for username in (OTHER_OFFICER, FAR_REVIEWER):
        client = app.test_client()
        assert sign_in(client, username) == 302
        assert client.get(f"/console/cases/{number}/materials/{material_id}").status_code == 404, username
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    assert client.get(f"/console/cases/{other_number}/materials/{material_id}").status_code == 404
    assert client.get(f"/console/cases/{number}/materials/999999").status_code == 404
    assert app.test_client().get(f"/console/cases/{number}/materials/{material_id}").status_code == 302


def test_the_case_file_shows_the_identity_verified_by_the_citizen_information_system(
    runtime: Runtime, app: Flask
) -> None:
    number = submit(runtime)  # its VerifyIdentity and QueryPerson calls answered
    client = app.test_client()
    assert sign_in(client, OFFICER) == 302
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "已经公民信息系统核验" in page
    assert "尚未核验" not in page
    # The application form with the item's own words, not its field names and codes.
    assert "家庭收入类别" in page and "income_band" not in page
