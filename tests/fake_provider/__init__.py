"""The fake provider the project's tests use: the public one from `luthien.testing.fake_provider`."""

from luthien.testing.fake_provider import *  # noqa: F403
from luthien.testing.fake_provider import __all__ as __all__
