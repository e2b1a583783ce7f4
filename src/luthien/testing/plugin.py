"""The pytest plugin of the test kit: fixtures, and `--policy` over the full client matrix.

Loaded by the `pytest11` entry point when `luthien[testing]` is installed, or with
`pytest -p luthien.testing`.

Fixtures: `fake` (the fake provider, emptied around each test), `make_luthien(config=None,
**settings)` (a real Luthien server in front of `fake`), `luthien` (one with default settings).

`--policy=NAME|module:Class` adds the matrix (`luthien.testing.matrix`: the three client APIs,
streaming and not, through the official SDKs) for that policy to the run; without it, a project
that collects the matrix runs it for every shipped policy. `--policy-config=FILE` reads the policy's
entry (and any it refers to) from a Luthien config file. The text a policy should produce comes from
the `pytest_luthien_expected_text` hook (`luthien.testing.hookspecs`).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from luthien.config import ConfigError, LuthienConfig, load_config
from luthien.policy.registry import REGISTERED, build_policies
from luthien.settings import Settings
from luthien.testing import hookspecs
from luthien.testing.fake_provider import FakeProvider
from luthien.testing.server import LuthienServer

POLICY_OPTION = "--policy"
POLICY_CONFIG_OPTION = "--policy-config"
MATRIX_MODULE = "luthien.testing.matrix"


@dataclass(frozen=True, slots=True)
class PolicyUnderTest:
    """A policy as the matrix serves it.

    Attributes:
        name: the configured name the server serves (and names in `x-luthien-policy`).
        config: the Luthien config that defines it.
    """

    name: str
    config: LuthienConfig


def _matrix_replace(text: str) -> str:
    return text.replace("Paris", "Lyon").replace("21 °C", "warm")


SHIPPED_CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "string_replace": {
                "class": "string_replace",
                "config": {
                    "replacements": [
                        {"find": "Paris", "replace": "Lyon"},
                        {"find": r"\d+ °C", "replace": "warm", "regex": True},
                    ],
                    "holdback_chars": 8,
                },
            },
            "chain": {"class": "chain", "config": {"policies": ["string_replace", "all_caps"]}},
        }
    }
)
"""The config the matrix runs the shipped policies with."""
SHIPPED_EXPECTED: dict[str, Callable[[str], str]] = {
    "noop": lambda text: text,
    "all_caps": str.upper,
    "string_replace": _matrix_replace,
    "debug_logging": lambda text: text,
    "chain": lambda text: _matrix_replace(text).upper(),
}
"""What each shipped policy of the matrix makes of the upstream's text."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare `pytest_luthien_expected_text`."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register `--policy` and `--policy-config`."""
    group = parser.getgroup("luthien", "Luthien policy matrix")
    group.addoption(
        POLICY_OPTION,
        default=None,
        metavar="NAME|module:Class",
        help="run the client matrix (3 APIs x streaming or not, official SDKs) for this policy: a "
        "shipped or configured name, or module:Class (importable from the current directory)",
    )
    group.addoption(
        POLICY_CONFIG_OPTION,
        default=None,
        metavar="FILE",
        help="a Luthien config file defining the policy named by --policy",
    )


def selected_policy(config: pytest.Config) -> str | None:
    """The policy named by `--policy`, or None."""
    value = config.getoption(POLICY_OPTION, default=None)
    return value if isinstance(value, str) and value else None


def policy_under_test(config: pytest.Config) -> PolicyUnderTest | None:
    """The policy `--policy` (and `--policy-config`) name, built to check it; None without `--policy`.

    Raises:
        pytest.UsageError: the policy cannot be built (the config error says why).
    """
    chosen = selected_policy(config)
    if chosen is None:
        return None
    config_file = config.getoption(POLICY_CONFIG_OPTION, default=None)
    try:
        base = load_config(Path(config_file)) if config_file else SHIPPED_CONFIG
        name = chosen
        if chosen not in base.policies and chosen not in REGISTERED:
            name = chosen.rpartition(":")[2] or chosen
            entries = {key: entry.model_dump(by_alias=True) for key, entry in base.policies.items()}
            entries[name] = {"class": chosen}
            base = LuthienConfig.model_validate({**base.model_dump(by_alias=True), "policies": entries})
        build_policies(base, name)
    except ConfigError as error:
        raise pytest.UsageError(f"{POLICY_OPTION}={chosen}: {error}") from error
    return PolicyUnderTest(name, base)


def pytest_configure(config: pytest.Config) -> None:
    """With `--policy`: make the current directory importable and add the matrix to the run."""
    if selected_policy(config) is None:
        return
    # Like `python -m pytest`: a policy module next to the tests resolves as `module:Class`.
    invocation_dir = str(config.invocation_params.dir)
    if invocation_dir not in sys.path:
        sys.path.insert(0, invocation_dir)
    config.stash[_UNDER_TEST] = policy_under_test(config)
    spec = importlib.util.find_spec(MATRIX_MODULE)
    if spec is not None and spec.origin is not None:
        config.args.append(spec.origin)


_UNDER_TEST = pytest.StashKey[PolicyUnderTest | None]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `luthien_policy`: the policy `--policy` names, or every shipped one."""
    if "luthien_policy" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.stash.get(_UNDER_TEST, None)
    cases = [chosen] if chosen is not None else [PolicyUnderTest(n, SHIPPED_CONFIG) for n in SHIPPED_EXPECTED]
    metafunc.parametrize("luthien_policy", cases, ids=[case.name for case in cases])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each matrix test once when a project also collects the matrix module itself."""
    seen: set[tuple[object, str]] = set()
    kept: list[pytest.Item] = []
    for item in items:
        function = getattr(item, "function", None)
        key = (function, getattr(getattr(item, "callspec", None), "id", ""))
        is_matrix = getattr(function, "__module__", None) == MATRIX_MODULE
        if is_matrix and key in seen:
            continue
        seen.add(key)
        kept.append(item)
    items[:] = kept


@pytest.hookimpl(trylast=True)
def pytest_luthien_expected_text(policy: str, text: str) -> str | None:
    """What the shipped policies of the matrix produce."""
    expected = SHIPPED_EXPECTED.get(policy)
    return expected(text) if expected is not None else None


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def luthien_records_dir() -> Iterator[Path]:
    """A temporary folder for the records databases of this session's servers."""
    path = Path(tempfile.mkdtemp(prefix="luthien-records-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def luthien_fake_session() -> Iterator[FakeProvider]:
    """The session's fake provider (use `fake`, which empties it around each test)."""
    fake = FakeProvider()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(luthien_fake_session: FakeProvider) -> Iterator[FakeProvider]:
    """The fake provider, emptied (replies, responder, request log) before and after each test."""
    luthien_fake_session.reset()
    yield luthien_fake_session
    luthien_fake_session.reset()


def settings_for(fake: FakeProvider, records_dir: Path, **overrides: Any) -> Settings:
    """Settings whose built-in upstreams both point at `fake`, recording to a fresh SQLite file."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{records_dir / uuid.uuid4().hex}.db",
        "anthropic_base_url": fake.base_url,
        "openai_base_url": f"{fake.base_url}/v1",
        **overrides,
    }
    return Settings.model_validate(values)


LuthienFactory = Callable[..., LuthienServer]
"""`make_luthien(config: LuthienConfig | None = None, **settings) -> LuthienServer`."""


@pytest.fixture
def make_luthien(fake: FakeProvider, luthien_records_dir: Path) -> Iterator[LuthienFactory]:
    """Start Luthien servers in front of `fake`, with `Settings` overrides and a config; stopped after.

    Usage: `server = make_luthien(config=LuthienConfig(...), test_policy="mine")`.
    """
    servers: list[LuthienServer] = []

    def start(config: LuthienConfig | None = None, **overrides: Any) -> LuthienServer:
        server = LuthienServer(settings_for(fake, luthien_records_dir, **overrides), config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def luthien_server_session(
    luthien_fake_session: FakeProvider, luthien_records_dir: Path
) -> Iterator[LuthienServer]:
    """The session's default server (use `luthien`)."""
    server = LuthienServer(settings_for(luthien_fake_session, luthien_records_dir)).start()
    yield server
    server.stop()


@pytest.fixture
def luthien(luthien_server_session: LuthienServer, fake: FakeProvider) -> LuthienServer:
    """A Luthien server with default settings (passthrough auth, no policy: noop) in front of `fake`."""
    return luthien_server_session


@pytest.fixture
def luthien_expected_text(
    request: pytest.FixtureRequest, luthien_policy: PolicyUnderTest
) -> Callable[[str], str]:
    """The text the matrix expects the client to receive for an upstream text."""
    hook = request.config.hook

    def expected(text: str) -> str:
        answer: str | None = hook.pytest_luthien_expected_text(policy=luthien_policy.name, text=text)
        return text if answer is None else answer

    return expected


@pytest.fixture
def luthien_matrix_server(make_luthien: LuthienFactory, luthien_policy: PolicyUnderTest) -> LuthienServer:
    """A server serving the policy under test."""
    return make_luthien(config=luthien_policy.config, test_policy=luthien_policy.name)
