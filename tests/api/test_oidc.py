"""OIDC JWTs as Bearer credentials: signed with RSA keys this test makes, checked against a JWKS
served on loopback by a tiny HTTP server (PyJWT's real PyJWKClient fetches it)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette

from tests.api.conftest import StartApp
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX

pytestmark = pytest.mark.anyio

ISSUER = "https://issuer.example"
AUDIENCE = "activitylog"
FILTER = f"{JOB_PREFIX}/filter"


class Issuer:
    """An OIDC issuer's signing side: an RSA key with a kid, and its JWKS served on loopback."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        self.fetches = 0
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = json.dumps({"keys": [{**public, "kid": self.kid, "use": "sig"}]}).encode()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(issuer.jwks)))
                self.end_headers()
                self.wfile.write(issuer.jwks)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler

    def token(self, key: Any = None, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "robot@example.com",
            "iat": now,
            "exp": now + 300,
            "activitylog_domain": DOMAIN,
            "activitylog_role": "operator",
            **claims,
        }
        headers = {"kid": kid or self.kid}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers=headers)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    serving = Issuer()
    serving.thread.start()
    yield serving
    serving.server.shutdown()
    serving.server.server_close()


@pytest.fixture
async def oidc_app(start_app: StartApp, issuer: Issuer) -> Starlette:
    return await start_app(
        run_worker=False,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=issuer.jwks_url,
    )


def bearer(app: Starlette, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def refusal(app: Starlette, token: str, path: str = FILTER) -> str:
    async with bearer(app, token) as client:
        response = await client.get(path)
    assert response.status_code == 401, response.text
    message: str = response.json()["details"]["message"]
    return message


async def test_a_valid_jwt_signs_in_with_its_claims_role_and_user(
    oidc_app: Starlette, issuer: Issuer
) -> None:
    async with bearer(oidc_app, issuer.token()) as client:
        assert (await client.get(FILTER)).status_code == 200
        submitted = await client.post(
            INSTANCES, json={"serviceParameters": {"serviceName": "FromOidc"}}
        )
        assert submitted.status_code == 202, submitted.text
        job = (await client.get(submitted.headers["location"])).json()
        assert job["authUser"] == "robot@example.com"
        assert (await client.get(f"{JOB_PREFIX}/audit")).status_code == 403  # an operator


async def test_a_viewer_claim_cannot_write(oidc_app: Starlette, issuer: Issuer) -> None:
    async with bearer(oidc_app, issuer.token(activitylog_role="viewer")) as client:
        assert (await client.get(FILTER)).status_code == 200
        created = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "V"}})
        assert created.status_code == 403


async def test_a_checked_jwt_is_trusted_without_fetching_the_keys_again(
    oidc_app: Starlette, issuer: Issuer
) -> None:
    token = issuer.token(sub="cached@example.com")
    async with bearer(oidc_app, token) as client:
        assert (await client.get(FILTER)).status_code == 200
        fetched = issuer.fetches
        for _ in range(5):
            assert (await client.get(FILTER)).status_code == 200
    assert issuer.fetches == fetched


async def test_a_jwt_signed_by_another_key_is_refused(oidc_app: Starlette, issuer: Issuer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = await refusal(oidc_app, issuer.token(key=stranger))
    assert message.startswith("The JWT is not valid: Signature verification failed")


async def test_a_jwt_with_an_unknown_kid_is_refused(oidc_app: Starlette, issuer: Issuer) -> None:
    message = await refusal(oidc_app, issuer.token(kid="nobody"))
    assert message.startswith("The JWT's signing key is not known")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 60}, "The JWT is not valid: Signature has expired."),
        ({"aud": "someone-else"}, "The JWT is not valid: Audience doesn't match."),
        ({"iss": "https://evil.example"}, "The JWT is not valid: Invalid issuer."),
        (
            {"activitylog_domain": "OtherDomain"},
            f"The JWT is not valid in identity domain [{DOMAIN}] (claim activitylog_domain).",
        ),
        (
            {"activitylog_role": "root"},
            "The JWT's claim activitylog_role must be one of viewer, operator, admin.",
        ),
    ],
)
async def test_a_jwt_with_wrong_claims_is_refused(
    oidc_app: Starlette, issuer: Issuer, claims: dict[str, Any], message: str
) -> None:
    assert await refusal(oidc_app, issuer.token(**claims)) == message


async def test_a_jwt_is_not_valid_in_another_domains_path(
    oidc_app: Starlette, issuer: Issuer
) -> None:
    message = await refusal(oidc_app, issuer.token(), "/paas/api/v1.1/activitylog/Other/filter")
    assert message == "The JWT is not valid in identity domain [Other] (claim activitylog_domain)."


async def test_an_unsigned_jwt_is_refused(oidc_app: Starlette, issuer: Issuer) -> None:
    payload = jwt.decode(issuer.token(), options={"verify_signature": False})
    unsigned = jwt.encode(payload, "", algorithm="none", headers={"kid": issuer.kid})
    assert (await refusal(oidc_app, unsigned)).startswith("The JWT is not valid")


async def test_without_oidc_settings_a_jwt_is_just_an_unknown_token(
    start_app: StartApp, issuer: Issuer
) -> None:
    app = await start_app(run_worker=False)
    assert await refusal(app, issuer.token()) == "The API token is not valid."
