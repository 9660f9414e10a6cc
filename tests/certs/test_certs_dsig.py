"""The profile's own XML-DSig (certs.dsig) against signxml's, both ways, and what it refuses by itself.

``verify_envelope`` checks the layout before the suite runs; these tests call the suite directly,
so that each refusal below is the suite's own and does not rest on the layout check.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from certs.dsig import ECDSA_SHA256, RSA_SHA256, ProfileSuite
from certs.errors import SignatureInvalid
from certs.store import KeyType, load_signing_identity
from certs.trust import TrustStore
from certs.xmlsig import DS_NS, SOAP11_NS, WSSE_NS, SignxmlSuite, request_hash, sign_envelope, verify_envelope
from tests.certs.conftest import EnvelopeFactory

DS = f"{{{DS_NS}}}"
SUITES = {"profile": ProfileSuite, "signxml": SignxmlSuite}


@pytest.mark.parametrize(("signer", "verifier"), [("profile", "signxml"), ("signxml", "profile")])
def test_each_suite_verifies_what_the_other_signed(
    any_pki: tuple[Path, KeyType], envelope: EnvelopeFactory, signer: str, verifier: str
) -> None:
    folder, key_type = any_pki
    identity = load_signing_identity(folder, "huiju")
    signed = etree.tostring(sign_envelope(envelope(), identity, suite=SUITES[signer]()))
    assert (ECDSA_SHA256 if key_type == "ec" else RSA_SHA256).encode() in signed
    verified = verify_envelope(signed, TrustStore.load(folder), suite=SUITES[verifier]())
    assert verified.body.findtext(".//{urn:huiju:citizen:1}name") == "张三"
    assert verified.signer == identity.certificate


def test_both_suites_return_the_same_signed_parts(pki: Path, envelope: EnvelopeFactory) -> None:
    root = etree.fromstring(etree.tostring(sign_envelope(envelope(), load_signing_identity(pki, "huiju"))))
    signer = load_signing_identity(pki, "huiju").certificate
    ours = ProfileSuite().verify(root, signer, at=None)
    theirs = SignxmlSuite().verify(root, signer, at=None)
    assert [part.data for part in ours] == [part.data for part in theirs]
    assert [etree.tostring(part.element) for part in ours] == [etree.tostring(part.element) for part in theirs]


def _signed_root(pki: Path, envelope: EnvelopeFactory) -> etree._Element:
    return etree.fromstring(etree.tostring(sign_envelope(envelope(), load_signing_identity(pki, "huiju"))))


def _verify(pki: Path, root: etree._Element) -> object:
    return ProfileSuite().verify(root, load_signing_identity(pki, "huiju").certificate, at=None)


def _signed_info(root: etree._Element) -> etree._Element:
    return root.find(f".//{DS}SignedInfo")


def test_a_comment_in_the_signed_info_changes_nothing_signed(pki: Path, envelope: EnvelopeFactory) -> None:
    """Comments are outside the canonical form: one inside a DigestValue neither breaks nor steers anything."""
    root = _signed_root(pki, envelope)
    digest = _signed_info(root).find(f"{DS}Reference/{DS}DigestValue")
    text = digest.text
    digest.text = text[:10]
    comment = etree.Comment("x")
    comment.tail = text[10:]
    digest.append(comment)
    assert len(_verify(pki, root)) == 3  # type: ignore[arg-type]


def _hmac_method(root: etree._Element) -> None:
    _signed_info(root).find(f"{DS}SignatureMethod").set("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")


def _rsa_method_on_an_ec_key(root: etree._Element) -> None:
    _signed_info(root).find(f"{DS}SignatureMethod").set("Algorithm", RSA_SHA256)


def _sha1_digest(root: etree._Element) -> None:
    _signed_info(root).find(f"{DS}Reference/{DS}DigestMethod").set(
        "Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1"
    )


def _short_value(root: etree._Element) -> None:
    value = root.find(f".//{DS}SignatureValue")
    value.text = base64.b64encode(base64.b64decode(value.text)[:-1]).decode()


def _not_base64(root: etree._Element) -> None:
    root.find(f".//{DS}SignatureValue").text = "not base64!"


def _whole_document_reference(root: etree._Element) -> None:
    _signed_info(root).find(f"{DS}Reference").set("URI", "")


def _xpointer_reference(root: etree._Element) -> None:
    reference = _signed_info(root).find(f"{DS}Reference")
    reference.set("URI", f"#xpointer(id('{reference.get('URI')[1:]}'))")


def _two_transforms(root: etree._Element) -> None:
    transforms = _signed_info(root).find(f"{DS}Reference/{DS}Transforms")
    transforms.append(
        etree.Element(f"{DS}Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    )


def _same_reference_twice(root: etree._Element) -> None:
    first, second = _signed_info(root).findall(f"{DS}Reference")[:2]
    second.set("URI", first.get("URI"))


def _copied_body(root: etree._Element) -> None:
    body = root.find(f"{{{SOAP11_NS}}}Body")
    root.find(f"{{{SOAP11_NS}}}Header").append(etree.fromstring(etree.tostring(body)))


def _second_signature(root: etree._Element) -> None:
    security = root.find(f".//{{{WSSE_NS}}}Security")
    security.append(etree.fromstring(etree.tostring(security.find(f"{DS}Signature"))))


REFUSED = {
    # What the signature covers was changed, so the SignatureValue no longer matches...
    "hmac-method": (_hmac_method, "signature algorithm http://www.w3.org/2000/09/xmldsig#hmac-sha1 is not allowed"),
    "rsa-method-on-an-ec-key": (_rsa_method_on_an_ec_key, "does not fit the certificate's key"),
    "sha1-digest": (_sha1_digest, "SignatureValue does not match"),
    "whole-document-reference": (_whole_document_reference, "SignatureValue does not match"),
    # ...or the value itself is damaged...
    "short-value": (_short_value, "SignatureValue does not match"),
    "not-base64": (_not_base64, "not Base64"),
    # ...or the document around the signed parts is not what one signature over unique Ids needs.
    "copied-body": (_copied_body, "occurs 2 times"),
    "second-signature": (_second_signature, "exactly one signature"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_the_suite_refuses_by_itself(pki: Path, envelope: EnvelopeFactory, kind: str) -> None:
    change, reason = REFUSED[kind]
    root = _signed_root(pki, envelope)
    change(root)
    with pytest.raises(SignatureInvalid, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _verify(pki, root)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_sha1_digest, "digest algorithm http://www.w3.org/2000/09/xmldsig#sha1 is not allowed"),
        (_whole_document_reference, "each Reference must point at an element by #Id"),
        (_xpointer_reference, "occurs 0 times"),
        (_two_transforms, "must have exactly one exclusive c14n transform"),
        (_same_reference_twice, "references one element twice"),
    ],
    ids=["sha1-digest", "whole-document", "xpointer", "two-transforms", "same-reference-twice"],
)
def test_a_signer_of_a_looser_signed_info_is_refused(
    pki: Path, envelope: EnvelopeFactory, change: Callable[[etree._Element], None], reason: str
) -> None:
    """Signed as it stands (the SignatureValue matches), a SignedInfo outside the profile is still refused."""
    identity = load_signing_identity(pki, "huiju")
    root = _signed_root(pki, envelope)
    change(root)
    signed_info = _signed_info(root)
    data = etree.tostring(signed_info, method="c14n", exclusive=True)
    r, s = decode_dss_signature(identity.key.sign(data, ec.ECDSA(hashes.SHA256())))
    value = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    root.find(f".//{DS}SignatureValue").text = base64.b64encode(value).decode()
    with pytest.raises(SignatureInvalid, match=reason):
        _verify(pki, root)


def test_a_comment_in_the_question_leaves_its_request_hash_as_signed(pki: Path, envelope: EnvelopeFactory) -> None:
    """The requestHash of the bytes received equals the one of what was verified: both leave comments out."""
    root = envelope()
    name = root.find(".//{urn:huiju:citizen:1}name")
    name.append(etree.Comment(" a note "))
    signed = etree.tostring(sign_envelope(root, load_signing_identity(pki, "huiju")))
    assert b"<!-- a note -->" in signed
    assert request_hash(signed) == verify_envelope(signed, TrustStore.load(pki)).request_hash


def test_base64_values_allow_xml_whitespace_only(pki: Path, envelope: EnvelopeFactory) -> None:
    root = _signed_root(pki, envelope)
    value = root.find(f".//{DS}SignatureValue")
    text = value.text
    value.text = "\n  " + text[:20] + "\r\n\t" + text[20:] + "\n"
    assert len(_verify(pki, root)) == 3  # type: ignore[arg-type]
    value.text = text[:20] + "\u00a0" + text[20:]  # a no-break space is not XML whitespace
    with pytest.raises(SignatureInvalid, match="not Base64"):
        _verify(pki, root)
