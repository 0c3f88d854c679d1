"""Probes: network and remote facts gathered into evidence dataclasses; the tests assert on those."""
