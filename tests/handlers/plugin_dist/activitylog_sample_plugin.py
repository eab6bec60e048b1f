"""Service types a third-party distribution provides through entry points."""

from __future__ import annotations

from activitylog.engine.handlers import JobContext, OperationPolicy, ServiceType


async def create_memcached(context: JobContext) -> None:
    name, domain = context.service_name, context.identity_domain
    await context.log(
        f"Started operation to create service [{name}] in identity domain [{domain}]."
    )


# An entry point may name a ServiceType...
memcached = ServiceType(
    name="memcached",
    handlers={"CREATE_SERVICE": create_memcached},
    description="Sample plugin: memcached",
    policies={"CREATE_SERVICE": OperationPolicy(timeout=10)},
)


# ...or a callable taking no argument that returns one.
def make_queueing() -> ServiceType:
    return ServiceType(name="queueing", handlers={"CREATE_SERVICE": create_memcached})


def make_caching() -> ServiceType:
    return ServiceType(
        name="caching",
        handlers={"CREATE_SERVICE": create_memcached},
        description="Sample plugin: caching",
    )


def not_a_service_type() -> str:
    return "caching"
