"""Luthien: an AI-control proxy that forwards LLM calls and applies policies while they stream."""

__version__ = "0.1.0"
