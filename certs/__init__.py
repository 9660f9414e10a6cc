"""PKI for the exchange: development CA, issuing, trust store, rotation, XML signatures.

Modules, from the bottom up:

- :mod:`certs.errors` — the ``CertificateError`` branch of the exception tree (drawn there).
- :mod:`certs.issuing` — building keys, the CA certificate, member certificates and the CRL (RFC 5280).
- :mod:`certs.store` — the key and certificate folder (``<instance>/certs``): ``init_dev_pki``,
  ``issue_certificate``, ``rotate_signing``, ``revoke`` (writes ``crl.pem``), ``list_certificates``,
  ``load_signing_identity``.
- :mod:`certs.trust` — ``TrustStore``: trusted CAs and the CRL; chain, revocation, validity and role checks.
- :mod:`certs.dsig` — the profile's XML-DSig (exclusive c14n, ecdsa/rsa-sha256, SHA-256 digests,
  references by Id) on lxml and ``cryptography``: ``ProfileSuite``, the default suite.
- :mod:`certs.xmlsig` — signed SOAP 1.1 envelopes in the WS-Security 1.1 shapes (the signing
  profile, ``docs/integrator/signing-profile.md``): ``sign_envelope``, ``verify_envelope``,
  ``request_hash``, ``parse_untrusted``, and the pluggable ``SignatureSuite`` (``ProfileSuite`` by
  default, ``SignxmlSuite`` beside it).

``certs`` sits below ``adapters`` and ``exchange`` and imports only from ``huiju`` core.
"""
