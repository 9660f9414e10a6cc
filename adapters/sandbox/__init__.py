"""The sandbox: the four government systems and the payment platform simulated as real SOAP 1.1 servers.

It implements the contracts of ``adapters/wsdl/`` with seeded fake residents (:mod:`.people`),
keeps a journal keyed by the exchange header's message id (a repeated message acts once) and
injects latency and faults on demand through a small JSON control API under ``/_sandbox/``.
In secure mode (:mod:`.security`) it accepts only signed requests and signs every reply.
"""
