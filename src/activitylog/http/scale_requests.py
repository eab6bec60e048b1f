"""The scale bodies PSM's clients send to ``.../hosts/scale`` and ``.../servers``, checked for
their shape before a service type's own validator sees them.

Java Cloud Service names a shape per component (``{"components":{"WLS":{"hosts":["h1"],
"shape":"VM.Standard2.2"}}}``), MySQL Cloud Service one for the instance (``{"shape":"..."}``);
our own ``{"serviceParameters":{...}}`` is accepted on the same path. What a shape may be is the
service type's business: here only the JSON types are checked, each problem one issue.
"""

from __future__ import annotations

from typing import Any

from activitylog import errors

SCALE_FORMS = 'expected "components", "shape" or "serviceParameters"'


def scale_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The parameters a ``hosts/scale`` body asks for, or raise InvalidRequest listing each
    problem."""
    if "serviceParameters" in body:
        parameters = body["serviceParameters"]
        if not isinstance(parameters, dict):
            raise _invalid(["serviceParameters: expected an object"])
        return dict(parameters)
    if "components" not in body and "shape" not in body:
        raise _invalid([f"body: {SCALE_FORMS}"])
    issues = []
    if "shape" in body:
        issues += _text_issues(body["shape"], "shape")
    if "components" in body:
        issues += _component_issues(body["components"], require_shape=True)
    if issues:
        raise _invalid(issues)
    return dict(body)


def scale_out_parameters(body: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a scale-out or scale-in (``.../servers``): JCS names the components
    to change; how many servers, and which hosts, is the service type's business."""
    if "components" not in body:
        raise _invalid(['components: required, e.g. {"WLS":{"managedServerCount":1}}'])
    issues = _component_issues(body["components"], require_shape=False)
    if issues:
        raise _invalid(issues)
    return dict(body)


def _component_issues(components: object, *, require_shape: bool) -> list[str]:
    if not isinstance(components, dict) or not components:
        return ["components: expected an object naming at least one component, e.g. WLS"]
    issues = []
    for name, component in components.items():
        where = f"components.{name}"
        if not isinstance(component, dict):
            issues.append(f"{where}: expected an object")
            continue
        if "shape" in component:
            issues += _text_issues(component["shape"], f"{where}.shape")
        elif require_shape:
            issues.append(f"{where}.shape: required, e.g. VM.Standard2.2")
        if "hosts" in component:
            issues += _hosts_issues(component["hosts"], f"{where}.hosts")
    return issues


def _hosts_issues(hosts: object, where: str) -> list[str]:
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        return [f"{where}: expected a list of host names"]
    return []


def _text_issues(value: object, where: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{where}: expected a shape name, e.g. VM.Standard2.2"]
    return []


def _invalid(issues: list[str]) -> errors.InvalidRequest:
    return errors.InvalidRequest("The scale request is not valid.", issues)
