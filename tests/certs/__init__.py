"""Tests of the PKI and XML signature layer (certs)."""
