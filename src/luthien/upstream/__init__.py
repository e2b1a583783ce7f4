"""Upstreams: choosing a provider for a model and talking HTTP to it."""
