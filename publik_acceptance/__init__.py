"""Acceptance suite for Publik deployments: the library the pytest suites stand on."""

__version__ = "0.1.0"
