"""The one frozen settings object, built at the CLI edge (or directly by tests) and passed down."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    db: str = "activitylog.db"
    """A SQLite file path, or a ``postgresql://`` URL."""
    host: str = "127.0.0.1"
    """The address to listen on (serve's API, worker's health port)."""
    port: int = 8080
    """The port of serve's API."""
    reuse_port: bool = False
    """Share the port with other processes already listening on it (SO_REUSEPORT: the kernel
    splits the connections between them). Off: a taken port stops the start-up."""
    demo: bool = False
    """Create the demo identity domain and user on start-up."""
    concurrency: int = 4
    """In-process worker slots: how many jobs this process runs at once."""
    run_worker: bool = True
    """Run a worker in the API process (serve), beside the API."""
    log_level: str = "info"
    """The least severe log lines written: debug, info, warning or error."""
    log_format: str = "auto"
    """``json`` (one object a line), ``console`` (readable), or ``auto``: json unless standard
    error is a terminal."""
    access_log: bool = False
    """Log one line per HTTP request: method, path, status, duration, ECID, domain, user."""
    server: str = "granian"
    """The HTTP server: granian (embedded in our event loop, the faster) or uvicorn."""
    demo_step_delay: float = 0.5
    """Seconds between the steps of the demonstration `caching` service type."""
    credential_cache_ttl: float = 60.0
    """How long a verified password stays trusted without another argon2 check."""
    auth_failure_window: int = 60
    """Seconds over which failed authentications are counted (docs/security.md)."""
    auth_max_failures_per_address: int = 20
    """Failures from one client address (an IPv6 /64) within the window before a ban; 0: none."""
    auth_max_failures_per_user: int = 10
    """Failures for one user name of a domain within the window before a ban; 0: none."""
    auth_ban_seconds: int = 60
    """The first ban's length; each repeat doubles it."""
    auth_max_ban_seconds: int = 3600
    """The longest ban; a key without a ban for this long starts again from the first."""
    auth_refusal_delay: float = 5.0
    """The most seconds a refused request is held before its 429 (half to all of it, never past
    its Retry-After), so that a flood which does not wait for Retry-After costs the event loop
    little; 0: answer at once."""
    max_body_bytes: int = 64 * 1024
    """The largest request body accepted; a larger one answers 413."""
    warn_as_succeed: bool = False
    """Report every job that ended WARN as SUCCEED on the wire (its warnings stay in its
    messages), for clients that know no WARN; a service type can ask for this on its own
    (docs/compatibility.md)."""
    poll_interval: float = 1.0
    """The slow fallback: how often an idle worker looks for jobs it was not told about."""
    lease_seconds: float = 30.0
    """How long a claimed job stays a worker's without a renewal."""
    heartbeat_seconds: float = 10.0
    """How often a worker renews the leases of the jobs it runs."""
    rescue_interval: float = 5.0
    """How often workers look for jobs whose lease expired (their worker was lost)."""
    cancel_grace: float = 10.0
    """Seconds a handler has, once its job is to be cancelled, before its task is cancelled."""
    shutdown_grace: float = 30.0
    """Seconds running handlers have on SIGTERM before they are cancelled and their jobs
    released for another worker."""
    public_url: str | None = None
    """Base URL for `Location` headers. Without it, a request's Host is used only when
    ``trusted_hosts`` names it; otherwise the address served on (http.links)."""
    trusted_hosts: tuple[str, ...] = ()
    """Host names whose Host header may become the base of a `Location` header."""
    cors_origins: tuple[str, ...] = ("*",)
    """Origins a browser page may read answers from; ``*`` (PSM's own answer) allows any."""
    tls_certificate: str | None = None
    """PEM certificate chain to serve HTTPS with (with ``tls_key``); answers then carry HSTS."""
    tls_key: str | None = None
    """PEM private key of ``tls_certificate``."""
    insecure_http: bool = False
    """Serve plain HTTP on a non-loopback address all the same: Basic credentials cross the
    network readable."""
    behind_proxy: bool = False
    """A reverse proxy in front terminates TLS: plain HTTP on a non-loopback address is its
    leg of the connection."""
    db_pool_size: int = 20
    """PostgreSQL: the most connections this process opens (besides its listener and rescuer).
    A busy API process answered 709 submissions/s with 10 and 1,112 with 30 (bench notes)."""
    sqlite_wal_index: bool = True
    """SQLite: read whether anything was committed from the WAL index's header, where SQLite
    mapped it (store/sqlite_reader.py; checked at start-up), instead of PRAGMA data_version."""
    config: str | None = None
    """Path of activitylog.toml (service types and handlers); None: the demo `caching` type."""
    # -- retention (docs/operations.md) ------------------------------------------------------
    retention_days: float = 30.0
    """Days ended jobs (with their messages and idempotency keys) and audit events are kept,
    unless activitylog.toml's [retention] says otherwise for their domain or service type; 0:
    forever. Jobs that have not ended are never pruned."""
    prune_interval: float = 60.0
    """How often `serve` and `worker` prune what the retention lets go; 0: never on their own."""
    prune_batch_size: int = 500
    """Rows removed per prune transaction: small, so that no request or claim waits long."""
    max_streams_per_user: int = 100
    """Event streams (job and domain) one user may hold open at once in this process; 0: no
    cap. A console tab holds one or two, a browser a few tabs' worth."""
    max_streams_per_address: int = 400
    """Event streams one client address may hold open at once; 0: no cap. Room for a few
    users behind one NAT or proxy at the per-user cap."""
    max_long_polls_per_user: int = 1000
    """Job-status GETs with ?wait one user may hold open at once; 0: no cap. An automation
    account may follow each of hundreds of running jobs with one."""
    max_long_polls_per_address: int = 2000
    """Job-status GETs with ?wait one client address may hold open at once; 0: no cap."""
    # -- personal API tokens and OIDC (docs/security.md) -------------------------------------
    token_check_seconds: float = 0.5
    """How often a process reads the credentials version, to drop the API tokens it trusts
    once another process revoked one or changed a user: the most a revocation takes to reach
    every process."""
    token_use_interval: float = 60.0
    """A token's last use is written at most this often (seconds), per process."""
    token_default_days: int = 90
    """How long a new API token lasts when its creator does not say."""
    token_max_days: int = 366
    """The longest an API token may last."""
    oidc_issuer: str | None = None
    """Accept JWTs from this OIDC issuer (its ``iss``) as Bearer credentials; None: no OIDC."""
    oidc_audience: str | None = None
    """The ``aud`` the JWTs must carry (required with an issuer)."""
    oidc_jwks_url: str | None = None
    """Where the issuer publishes its signing keys (JWKS); by default
    ``<issuer>/.well-known/jwks.json``."""
    oidc_domain_claim: str = "activitylog_domain"
    """The claim naming the identity domain the JWT is good for."""
    oidc_role_claim: str = "activitylog_role"
    """The claim holding the role: viewer, operator or admin."""
    oidc_user_claim: str = "sub"
    """The claim that names the user in jobs and the audit trail."""
