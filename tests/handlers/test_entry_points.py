"""Service types from installed distributions (entry point group `activitylog.service_types`).

The sample distribution in plugin_dist/ is installed for real, the way an installer lays it
out: its module and a .dist-info directory written from its pyproject.toml, in a directory
put on sys.path. Discovery then goes through importlib.metadata, unmocked.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from activitylog import errors
from activitylog.engine.plugins import ENTRY_POINT_GROUP
from activitylog.engine.registry import default_registry
from activitylog.settings import Settings
from activitylog.store.base import Store
from tests.conftest import DOMAIN
from tests.handlers.conftest import ClaimJob, messages_of

PLUGIN_DIST = Path(__file__).parent / "plugin_dist"
MODULE = "activitylog_sample_plugin"
Install = Callable[..., Path]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """install(entry_points=None, name=...) puts the sample distribution on sys.path.

    ``entry_points`` replaces those of its pyproject.toml, to install broken variants.
    """

    def install_dist(
        entry_points: dict[str, str] | None = None, name: str = "activitylog-sample-plugin"
    ) -> Path:
        project = tomllib.loads((PLUGIN_DIST / "pyproject.toml").read_text())["project"]
        declared = entry_points or project["entry-points"][ENTRY_POINT_GROUP]
        site = tmp_path / f"site-{name}"
        dist_info = site / f"{name.replace('-', '_')}-{project['version']}.dist-info"
        dist_info.mkdir(parents=True)
        shutil.copy(PLUGIN_DIST / f"{MODULE}.py", site)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {project['version']}\n"
        )
        lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{k} = {v}" for k, v in declared.items())]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(site))
        return site

    yield install_dist
    sys.modules.pop(MODULE, None)


@pytest.mark.anyio
async def test_installed_service_types_are_discovered(
    install: Install, store: Store, claim_job: ClaimJob
) -> None:
    install()

    registry = default_registry(Settings())

    assert registry.names() == ["caching", "memcached", "queueing"]
    memcached = registry.get("memcached")
    assert memcached.description == "Sample plugin: memcached"
    assert memcached.policy_for("CREATE_SERVICE").timeout == 10
    context = await claim_job("MyCache")
    await memcached.handler_for("CREATE_SERVICE")(context)
    assert await messages_of(store, context) == [
        f"Started operation to create service [MyCache] in identity domain [{DOMAIN}]."
    ]


def test_a_plugin_outranks_the_demo_and_the_file_outranks_a_plugin(
    install: Install, tmp_path: Path
) -> None:
    install({"caching": f"{MODULE}:make_caching"})
    config = tmp_path / "activitylog.toml"
    config.write_text(
        textwrap.dedent(
            """
            [service_types.caching]
            description = "From the file"
            [service_types.caching.operations.CREATE_SERVICE]
            handler = "command"
            command = ["true"]
            """
        )
    )

    from_plugin = default_registry(Settings()).get("caching")
    from_file = default_registry(Settings(config=str(config))).get("caching")

    assert from_plugin.description == "Sample plugin: caching"
    assert from_file.description == "From the file"


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (
            f"{MODULE}:not_a_service_type",
            "expected a ServiceType, or a callable taking no argument that returns one; got str",
        ),
        (
            f"{MODULE}:nothing_here",
            f"cannot load it: AttributeError: module '{MODULE}' has no attribute 'nothing_here'",
        ),
        (
            "no_such_plugin_module:thing",
            "cannot load it: ModuleNotFoundError: No module named 'no_such_plugin_module'",
        ),
    ],
)
def test_a_broken_plugin_stops_start_up(install: Install, target: str, problem: str) -> None:
    install({"broken": target}, name="broken-plugin")

    with pytest.raises(errors.InvalidConfiguration) as invalid:
        default_registry(Settings())

    assert invalid.value.message == f"entry point broken = {target} (broken-plugin): {problem}"


def test_two_plugins_cannot_declare_the_same_service_type(install: Install) -> None:
    install()
    install({"memcached": f"{MODULE}:memcached"}, name="another-plugin")

    with pytest.raises(errors.InvalidConfiguration) as invalid:
        default_registry(Settings())

    # Discovery follows sys.path, where the later install came first.
    assert invalid.value.message == (
        f"entry point memcached = {MODULE}:memcached (activitylog-sample-plugin): "
        "service type [memcached] is also declared by "
        f"entry point memcached = {MODULE}:memcached (another-plugin)"
    )
