"""Adapters to the government systems (SOAP/XML), their contracts and the sandbox.

``contracts`` names the systems and their WSDL files, ``registry`` the operations a BPMN
service task may name, ``config`` the integrator-edited settings per system, ``client`` the one
place where a call leaves the building (and where zeep and requests errors become Huiju errors).
``sandbox`` is the other side of each contract, used by the demo, tests and benchmarks.
"""
