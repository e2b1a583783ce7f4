"""A real Luthien server for the project's tests: the public one from `luthien.testing.server`."""

from luthien.testing.server import LuthienServer as LuthienServer
