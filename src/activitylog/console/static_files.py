"""The console's static files (its own CSS and script, the vendored htmx), read once and served
under a path that names their content's digest, so that browsers may keep them a year: any
change to a file is a new path. Nothing is fetched from another host (vendor/VENDORED.md)."""

from __future__ import annotations

import functools
import hashlib
import importlib.resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATIC_PREFIX = "/console/static"
_CACHE_FOREVER = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@functools.cache
def _files() -> dict[str, bytes]:
    """Every served file by its path under static/; licences and notes stay in the package."""
    root = importlib.resources.files("activitylog.console").joinpath("static")
    found: dict[str, bytes] = {}
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, f"{prefix}{entry.name}/"))
            elif any(entry.name.endswith(suffix) for suffix in _MEDIA_TYPES):
                found[prefix + entry.name] = entry.read_bytes()
    return found


@functools.cache
def static_version() -> str:
    digest = hashlib.sha256()
    for name, content in sorted(_files().items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:12]


def asset_url(name: str) -> str:
    if name not in _files():
        raise KeyError(f"no console static file {name!r}")
    return f"{STATIC_PREFIX}/{static_version()}/{name}"


async def static_file(request: Request) -> Response:
    content = _files().get(request.path_params["name"])
    if request.path_params["version"] != static_version() or content is None:
        return Response(b"Not found", 404, media_type="text/plain")
    suffix = "." + request.path_params["name"].rpartition(".")[2]
    headers = {"Cache-Control": _CACHE_FOREVER}
    return Response(content, media_type=_MEDIA_TYPES[suffix], headers=headers)


routes = [Route(STATIC_PREFIX + "/{version}/{name:path}", static_file, methods=["GET"])]
