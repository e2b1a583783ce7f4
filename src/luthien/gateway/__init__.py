"""The HTTP face of Luthien: the ASGI app, its endpoints, auth and headers."""
