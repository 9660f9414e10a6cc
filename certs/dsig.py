"""XML-DSig of the exchange's signing profile, on lxml's exclusive c14n and ``cryptography``.

:class:`ProfileSuite` signs and verifies exactly what :mod:`certs.xmlsig` accepts and nothing more:
one detached signature, exclusive c14n (an InclusiveNamespaces PrefixList allowed, ``#default``
included), ecdsa-sha256 or rsa-sha256, References by ``#Id`` each with one exclusive-c14n Transform
and a SHA-256 digest. A general XML-DSig library reads every algorithm, KeyInfo form and reference
kind, and parses the document again at several of its steps; this module reads one layout, once.

Core validation (XML-DSig 1.1, §3.2) in the order the standard gives it, plus two rules of our own:

- the SignatureValue is checked over the canonical SignedInfo *as it sits in the received
  document*, with the key of the certificate the trust store has checked;
- the References are read from that canonical SignedInfo parsed again, never from the received
  tree, so that nothing outside the signed bytes (a comment, say) decides what is referenced;
- each referenced Id must name exactly one element of the whole document (a copy elsewhere is
  signature wrapping), and what the caller gets of it is parsed from the canonical bytes whose
  digest was checked.

Any failure raises :class:`~certs.errors.SignatureInvalid` with the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from certs.errors import SignatureInvalid, SigningError
from certs.store import SigningIdentity
from huiju.i18n import Message, _

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
EC_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

_DS = f"{{{DS_NS}}}"
_INCLUSIVE_NAMESPACES = f"{{{EC_NS}}}InclusiveNamespaces"
_ID_ATTRIBUTES = {"Id", "ID", "id"}
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_XML_WHITESPACE = str.maketrans("", "", " \t\r\n")


@dataclass(frozen=True)
class SignedPart:
    """One signed reference as verified: the canonical bytes whose digest matched, and their parsed form."""

    element: etree._Element
    data: bytes


def safe_parser() -> etree.XMLParser:
    """A parser for XML from outside: no DTD, no entities, no network. One per call: lxml parsers
    must not be shared between threads."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


class ProfileSuite:
    """The default suite: the profile's XML-DSig on lxml and ``cryptography``, nothing else read."""

    def sign(
        self,
        document: etree._Element,
        identity: SigningIdentity,
        reference_ids: Sequence[str],
        key_info: etree._Element,
    ) -> etree._Element:
        method = ECDSA_SHA256 if identity.key_type == "ec" else RSA_SHA256
        elements = elements_by_id(document, reference_ids, error=SigningError)
        signature = etree.Element(f"{_DS}Signature", nsmap={"ds": DS_NS})
        signed_info = etree.SubElement(signature, f"{_DS}SignedInfo")
        etree.SubElement(signed_info, f"{_DS}CanonicalizationMethod", Algorithm=EXCLUSIVE_C14N)
        etree.SubElement(signed_info, f"{_DS}SignatureMethod", Algorithm=method)
        for value in reference_ids:
            reference = etree.SubElement(signed_info, f"{_DS}Reference", URI=f"#{value}")
            transforms = etree.SubElement(reference, f"{_DS}Transforms")
            etree.SubElement(transforms, f"{_DS}Transform", Algorithm=EXCLUSIVE_C14N)
            etree.SubElement(reference, f"{_DS}DigestMethod", Algorithm=SHA256)
            digest = hashlib.sha256(canonical(elements[value])).digest()
            etree.SubElement(reference, f"{_DS}DigestValue").text = base64.b64encode(digest).decode()
        value_element = etree.SubElement(signature, f"{_DS}SignatureValue")
        signature.append(key_info)
        value_element.text = base64.b64encode(_sign(identity, canonical(signed_info))).decode()
        return signature

    def verify(self, document: etree._Element, signer: x509.Certificate, *, at: datetime | None) -> list[SignedPart]:
        """The document's one signature verified with ``signer``'s key: its References' parts.

        Cryptography only: where the signature sits, which and how many parts it must cover and
        whether ``signer`` is trusted are :func:`certs.xmlsig.verify_envelope`'s to check (before
        this), as is the choice of parts the caller then uses (by tag and Id, among these).
        """
        # ``at`` concerns the certificate, which the trust store has checked at that moment already.
        signature = _one(document.iter(f"{_DS}Signature"), _("the message must carry exactly one signature"))
        signed_info = _one(signature.iterchildren(f"{_DS}SignedInfo"), _("the Signature must hold one SignedInfo"))
        method = _one(signed_info.iterchildren(f"{_DS}CanonicalizationMethod"),
                      _("the SignedInfo must hold one CanonicalizationMethod"))  # fmt: skip
        if method.get("Algorithm") != EXCLUSIVE_C14N:
            raise SignatureInvalid(_("the signature must use exclusive canonicalization"))
        signed_bytes = canonical(signed_info, prefix_list(method))
        value = _one(signature.iterchildren(f"{_DS}SignatureValue"), _("the Signature must hold one SignatureValue"))
        _verify(signer, _algorithm(signed_info), base64_value(value.text), signed_bytes)
        # From here on only what was signed is read: SignedInfo parsed from the bytes just verified.
        signed = etree.fromstring(signed_bytes, parser=safe_parser())
        references = list(signed.iterchildren(f"{_DS}Reference"))
        uris = [reference.get("URI") or "" for reference in references]
        if not references or any(not uri.startswith("#") or len(uri) < 2 for uri in uris):
            raise SignatureInvalid(_("each Reference must point at an element by #Id"))
        elements = elements_by_id(document, [uri[1:] for uri in uris], error=SignatureInvalid)
        return [
            _verified_reference(number, reference, elements[uri[1:]])
            for number, (reference, uri) in enumerate(zip(references, uris, strict=True), start=1)
        ]


def canonical(element: etree._Element, prefixes: Sequence[str] = ()) -> bytes:
    """Exclusive c14n (without comments) of ``element`` in its place, with an InclusiveNamespaces
    PrefixList; ``#default`` in it renders the default namespace (see :func:`with_default_namespace`)."""
    named = [prefix for prefix in prefixes if prefix != "#default"] or None
    output: bytes = etree.tostring(element, method="c14n", exclusive=True, with_comments=False,
                                   inclusive_ns_prefixes=named)  # fmt: skip
    return with_default_namespace(element, output) if "#default" in prefixes else output


def with_default_namespace(apex: etree._Element, c14n: bytes) -> bytes:
    """``c14n`` (the exclusive canonical form of ``apex``) as it is with ``#default`` in the PrefixList.

    Exclusive c14n (W3C, §3) lets a PrefixList name the default namespace as ``#default``: it is then
    rendered on the apex element as inclusive c14n would. WSS4J lists it for every element whose
    subtree does not use the default namespace in scope; libxml2 (under lxml) reads the token as a
    prefix literally named "#default" and leaves the declaration out, so the digest of a correct
    signature would not match. Where the subtree does not use the default namespace — the only case
    WSS4J lists it — the right output is the same with ``xmlns="..."`` on the apex.
    """
    default = apex.nsmap.get(None)
    if not default:
        return c14n  # no default namespace in scope: nothing to render
    for element in apex.iter(etree.Element):
        if element.prefix is None or element.nsmap.get(None) != default:
            raise SignatureInvalid(
                _("an InclusiveNamespaces #default is accepted only where the signed element does not use the "
                  "default namespace")
            )  # fmt: skip
    end = next(index for index, byte in enumerate(c14n) if byte in b" >")
    value = default.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return c14n[:end] + f' xmlns="{value}"'.encode() + c14n[end:]


def elements_by_id(
    document: etree._Element, ids: Sequence[str], *, error: type[SignatureInvalid] | type[SigningError]
) -> dict[str, etree._Element]:
    """The one element carrying each Id (wsu:Id, Id, ID, id or xml:id) in the whole document.

    An Id found twice, or on two attributes of one element, is refused: a copy elsewhere is
    signature wrapping. An Id nowhere is refused too.
    """
    wanted = set(ids)
    if len(wanted) != len(ids):
        raise error(_("the signature references one element twice"))
    found: dict[str, list[etree._Element]] = {value: [] for value in wanted}
    for element in document.iter(etree.Element):
        for name, value in element.attrib.items():
            if value in found and (name == _XML_ID or etree.QName(name).localname in _ID_ATTRIBUTES):
                found[value].append(element)
    for value, elements in found.items():
        if len(elements) != 1:
            raise error(
                _("the Id {value} occurs {count} times: a signed element was moved or copied",
                  value=value, count=len(elements))
            )  # fmt: skip
    return {value: elements[0] for value, elements in found.items()}


def _verified_reference(number: int, reference: etree._Element, element: etree._Element) -> SignedPart:
    transforms = list(reference.iterchildren(f"{_DS}Transforms"))
    steps = list(transforms[0].iterchildren(f"{_DS}Transform")) if len(transforms) == 1 else []
    if len(steps) != 1 or steps[0].get("Algorithm") != EXCLUSIVE_C14N:
        raise SignatureInvalid(
            _("reference {uri} must have exactly one exclusive c14n transform", uri=str(reference.get("URI")))
        )
    digest_method = _one(reference.iterchildren(f"{_DS}DigestMethod"), _("each Reference must hold one DigestMethod"))
    if digest_method.get("Algorithm") != SHA256:
        raise SignatureInvalid(
            _("digest algorithm {algorithm} is not allowed", algorithm=str(digest_method.get("Algorithm")))
        )
    expected = base64_value(_one(reference.iterchildren(f"{_DS}DigestValue"),
                            _("each Reference must hold one DigestValue")).text)  # fmt: skip
    data = canonical(element, prefix_list(steps[0]))
    if not hmac.compare_digest(hashlib.sha256(data).digest(), expected):
        raise SignatureInvalid(
            _("the signature does not verify: the digest of reference {number} ({uri}) does not match; the element "
              "was changed after signing", number=number, uri=str(reference.get("URI")))
        )  # fmt: skip
    return SignedPart(element=etree.fromstring(data, parser=safe_parser()), data=data)


def _one(found: Iterable[etree._Element], reason: Message) -> etree._Element:
    items = list(found)
    if len(items) != 1:
        raise SignatureInvalid(reason)
    return items[0]


def prefix_list(algorithm: etree._Element) -> list[str]:
    """The PrefixList of an exclusive c14n algorithm's InclusiveNamespaces, if it has one; anything
    else refining the algorithm is refused."""
    children = [child for child in algorithm if isinstance(child.tag, str)]
    if not children:
        return []
    if len(children) != 1 or children[0].tag != _INCLUSIVE_NAMESPACES:
        raise SignatureInvalid(_("only an InclusiveNamespaces prefix list may refine a canonicalization"))
    return (children[0].get("PrefixList") or "").split()


def _algorithm(signed_info: etree._Element) -> str:
    method = _one(signed_info.iterchildren(f"{_DS}SignatureMethod"), _("the SignedInfo must hold one SignatureMethod"))
    algorithm = method.get("Algorithm") or ""
    if algorithm not in (ECDSA_SHA256, RSA_SHA256) or len(method):
        raise SignatureInvalid(_("signature algorithm {algorithm} is not allowed", algorithm=algorithm))
    return algorithm


def base64_value(text: str | None) -> bytes:
    """A base64Binary value of an XML element: XML's own whitespace (space, tab, CR, LF) allowed
    between the characters, nothing else."""
    try:
        return base64.b64decode((text or "").translate(_XML_WHITESPACE), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid(_("a signature or digest value is not Base64")) from exc


def _sign(identity: SigningIdentity, data: bytes) -> bytes:
    key = identity.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # XML-DSig's ECDSA value: r || s
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise SigningError(_("only EC and RSA keys sign exchange messages"))


def _verify(signer: x509.Certificate, algorithm: str, value: bytes, data: bytes) -> None:
    key = signer.public_key()
    try:
        if algorithm == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise InvalidSignature
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == RSA_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise SignatureInvalid(
                _("signature algorithm {algorithm} does not fit the certificate's key", algorithm=algorithm)
            )
    except InvalidSignature as exc:
        raise SignatureInvalid(
            _("the signature does not verify: {error}", error="the SignatureValue does not match the SignedInfo")
        ) from exc
