"""activitylog.client.paths: the wire's URL paths, which the server and the SDK both read."""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import pytest

from activitylog.client import InvalidJobUrl, paths, split_job_url

DOMAIN = "ExampleIdentityDomain"


def test_the_templates_are_psm_paths() -> None:
    assert paths.JOB == "/paas/api/v1.1/activitylog/{domain}/job/{jobId}"
    assert paths.INSTANCES == (
        "/paas/api/v1.1/instancemgmt/{domain}/services/{serviceType}/instances"
    )
    assert paths.SCALE.endswith("/instances/{name}/scale")


def test_builders_fill_the_templates() -> None:
    assert paths.job_path(DOMAIN, 42) == f"/paas/api/v1.1/activitylog/{DOMAIN}/job/42"
    assert paths.filter_path(DOMAIN) == f"/paas/api/v1.1/activitylog/{DOMAIN}/filter"
    instances = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances"
    assert paths.instances_path(DOMAIN, "caching") == instances
    assert paths.instance_path(DOMAIN, "caching", "MyCache") == f"{instances}/MyCache"
    assert paths.scale_path(DOMAIN, "caching", "MyCache") == f"{instances}/MyCache/scale"
    for operation in ("start", "stop", "restart"):
        assert paths.host_operation_path(DOMAIN, "caching", "MyCache", operation) == (
            f"{instances}/MyCache/hosts/{operation}"
        )


def test_each_value_is_one_path_segment() -> None:
    assert paths.instance_path("a/b", "c?d", "e f") == (
        "/paas/api/v1.1/instancemgmt/a%2Fb/services/c%3Fd/instances/e%20f"
    )


def test_templates_taken_apart() -> None:
    assert paths.parameter_names(paths.JOB) == ["domain", "jobId"]
    assert paths.literal_parts(paths.JOB) == ["/paas/api/v1.1/activitylog/", "/job/", ""]
    assert paths.literal_parts(paths.FILTER) == ["/paas/api/v1.1/activitylog/", "/filter"]
    pattern = re.compile(paths.template_pattern(paths.JOB, domain="[^/]+", jobId=r"\d+"))
    match = pattern.fullmatch(paths.job_path(DOMAIN, 7))
    assert match is not None
    assert match.groupdict() == {"domain": DOMAIN, "jobId": "7"}
    assert pattern.fullmatch("/paas/api/v1X1/activitylog/D/job/7") is None  # "." is literal


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://h:8080/paas/api/v1.1/activitylog/{DOMAIN}/job/7", ("http://h:8080", DOMAIN, 7)),
        ("https://h/proxy/paas/api/v1.1/activitylog/D/job/7/", ("https://h/proxy", "D", 7)),
        ("http://h/paas/api/v1.1/activitylog/D/job/007?x=1", ("http://h", "D", 7)),
    ],
)
def test_split_job_url(url: str, expected: tuple[str, str, int]) -> None:
    assert split_job_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/paas/api/v1.1/activitylog/D/job/7",
        "ftp://h/paas/api/v1.1/activitylog/D/job/7",
        "http://h/paas/api/v1.1/activitylog/D/job/x",
        "http://h/paas/api/v1.1/activitylog/D/E/job/7",
        "http://h/paas/api/v1.1/activitylog/D/job/7/events",
    ],
)
def test_split_job_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(InvalidJobUrl):
        split_job_url(url)


def _imports() -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(Path(paths.__file__).read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def test_all_lists_every_public_name_and_only_those() -> None:
    imported = {alias.asname or alias.name for node in _imports() for alias in node.names}
    public = {
        name
        for name, value in vars(paths).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in imported
    }
    assert set(paths.__all__) == public


def test_it_imports_only_the_standard_library() -> None:
    # The server reads it too: it stays free of I/O and of the SDK's transport.
    modules = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name) or ""
        for node in _imports()
        for alias in node.names
    }
    assert {module.split(".")[0] for module in modules} - {"__future__"} <= (
        sys.stdlib_module_names
    )
