"""PKI for the exchange: development CA, issuing, trust store, rotation, XML signatures.

Messages to the sandbox are not signed yet; signing and verification arrive with the exchange and
certificates work, and live here (below ``adapters`` in the layering).
"""
