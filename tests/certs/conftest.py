"""Fixtures of the PKI tests: a fresh development PKI per test, in tmp_path, and SOAP envelopes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from certs.store import KeyType, init_dev_pki
from tests.certs.envelopes import build_envelope

EnvelopeFactory = Callable[..., etree._Element]


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """An EC development PKI with the members huiju and sandbox."""
    folder = tmp_path / "certs"
    init_dev_pki(folder)
    return folder


@pytest.fixture(params=["ec", "rsa"])
def any_pki(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, KeyType]:
    """The same PKI with EC P-256 and with RSA-2048 keys."""
    key_type: KeyType = request.param
    folder = tmp_path / f"certs-{key_type}"
    init_dev_pki(folder, key_type=key_type)
    return folder, key_type


@pytest.fixture
def envelope() -> EnvelopeFactory:
    return build_envelope
