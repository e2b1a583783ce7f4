"""The policies Luthien ships; each is registered under a short name in `luthien.policy.registry`."""
