"""A document's PDF is made after its decision commits: by the worker when it is handed over, by its
round for any it missed, by a reader who opens it first; made once, whoever gets there."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from huiju.app.housekeeping import make_unmade_documents
from huiju.models import Case, Document
from huiju.runtime import Runtime
from huiju.services import documents
from huiju.services.document_check import verify
from tests.documents.test_refusal_journey import refused_case, runtime  # noqa: F401 - the fixture


def _document(rt: Runtime, number: str) -> Document:
    with rt.db.sessions() as session:
        return session.scalars(select(Document).join(Case).where(Case.number == number)).one()


def test_the_round_makes_what_the_worker_missed_once(runtime: Runtime, tmp_path: Path) -> None:  # noqa: F811
    number = refused_case(runtime)
    issued = _document(runtime, number)
    assert issued.content is None and issued.sha256 is None and issued.size == 0 and issued.made_at is None
    assert issued.signed_by == "望京西园社区"  # who will sign it is known when it is issued
    assert documents.unmade(runtime.db) == [issued.id]

    assert make_unmade_documents(runtime) == 1
    assert make_unmade_documents(runtime) == 0 and documents.unmade(runtime.db) == []
    made = _document(runtime, number)
    assert made.content is not None and made.made_at is not None and made.size == len(made.content)
    with runtime.db.sessions() as session:
        checked = verify(made.content, tmp_path / "certs", session)
    assert checked.genuine and checked.signer == "望京西园社区" and checked.number == made.number


def test_two_makers_at_once_keep_one_pdf(runtime: Runtime) -> None:  # noqa: F811
    number = refused_case(runtime)
    document_id = _document(runtime, number).id
    start = threading.Barrier(2)
    got: list[bytes | None] = []

    def maker() -> None:
        start.wait()
        got.append(documents.make(runtime.db, runtime.office_signer, document_id))

    threads = [threading.Thread(target=maker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = _document(runtime, number).content
    assert kept is not None and got == [kept, kept]


def test_no_such_document_is_made_of_nothing(runtime: Runtime) -> None:  # noqa: F811
    assert documents.make(runtime.db, runtime.office_signer, 999) is None
