"""Helpers shared by the tests (index written below)."""
