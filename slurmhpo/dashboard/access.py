"""Who may connect: the bind rule and the token check every request passes.

The dashboard shows configurations, paths and metrics of everyone's studies in the database,
so by default it binds the loopback address only (reach it from a laptop through an SSH
tunnel). Any other address is reachable by other users of the cluster's network: it needs a
token, and then every request must carry it, as ``Authorization: Bearer TOKEN``, or once as
``?token=TOKEN`` (which sets an HttpOnly cookie and redirects to the same URL without it).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slurmhpo.errors import ConfigError

TOKEN_ENV = "SLURMHPO_DASHBOARD_TOKEN"
COOKIE = "slurmhpo_dashboard_token"
LOOPBACK_NAMES = ("localhost",)
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9._~-]{16,}")
_MAKE_ONE = f"export {TOKEN_ENV}=$(python3 -c 'import secrets; print(secrets.token_urlsafe())')"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for 0.0.0.0, names and the rest."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """ConfigError (exit 2) naming the fix when ``host`` is not loopback and no token is set."""
    if token is not None and not TOKEN_SHAPE.fullmatch(token):
        raise ConfigError(
            "--token",
            "a token must be 16 or more letters, digits, '-', '_', '.' or '~' "
            "(it travels in a URL and a cookie)",
            _MAKE_ONE,
        )
    if token is None and not is_loopback(host):
        raise ConfigError(
            "--host",
            f"{host} is reachable from other machines and no token is set",
            f"{_MAKE_ONE} (or pass --token), or keep the default --host 127.0.0.1 and use an "
            "SSH tunnel",
        )


class TokenGate:
    """ASGI middleware: a request without the token gets 401 and sees nothing else."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = dict(query).get("token")
        if given is not None and self._matches(given):
            await self._redirect_with_cookie(scope, query, send)
            return
        if self._matches(_bearer(headers.get("authorization", ""))) or self._matches(
            _cookie(headers.get("cookie", ""))
        ):
            await self.app(scope, receive, send)
            return
        await _plain(send, 401, "401: this dashboard needs its token (open the URL it printed)")

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def _redirect_with_cookie(self, scope: Scope, query: list[tuple[str, str]], send: Send):
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"set-cookie", cookie.encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _cookie(header: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no token
        return None
    morsel = jar.get(COOKIE)
    return None if morsel is None else morsel.value


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
