"""Fakes that replay the vendor GPU libraries (convention 10)."""
