"""The outer wall of every request: trusted Host names, cross-site requests, and security headers.

A server on loopback that answered any Host could be reached through DNS rebinding (a page on
evil.example whose name resolves to 127.0.0.1), a websocket is not covered by the browser's
same-origin rule at all, and a page on any site can POST a form or a fetch here (routes such as
POST /api/runs or a fork need no token): all three are checked here, before any route runs, against
the same allowed hosts. docs/security.md.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WS_FORBIDDEN = 4403  # close code of a websocket refused for its Host or Origin (uvicorn answers HTTP 403)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CROSS_SITE = (b'{"detail":"cross-site request refused: this server takes changes only from its own pages '
              b'(LAYERLAB_ALLOWED_HOSTS) or from clients that are not browsers"}')


def script_hash(text: str) -> str:
    """The CSP source that allows exactly one inline script: 'sha256-<base64 digest>'."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp(inline_scripts: Iterable[str] = ()) -> str:
    """The page's Content-Security-Policy: nothing inline but the hashed import map, nothing framed."""
    scripts = " ".join(["'self'", *(script_hash(s) for s in inline_scripts)])
    return ("default-src 'self'; " f"script-src {scripts}; " "style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def host_name(value: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:80' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(setting: str, public_url: str) -> frozenset[str]:
    """The names a request's Host may carry: the setting's (comma-separated; '*' is any), the
    public URL's, and loopback's when the setting is empty."""
    names = {host_name(h) for h in setting.split(",") if h.strip()} or set(LOOPBACK)
    if public_url:
        names.add(host_name(urlsplit(public_url).netloc))
    return frozenset(names)


class Guard:
    """Refuses a Host that is not allowed (HTTP 400; a websocket is closed with 4403), a websocket
    whose Origin names another host, a state-changing request that a browser sent from another
    site (HTTP 403, JSON), and adds the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str], page_csp: str, docs_csp: str) -> None:
        self.app = app
        self.hosts = hosts
        self.page_csp = page_csp.encode()
        self.docs_csp = docs_csp.encode()

    def _allowed(self, name: str) -> bool:
        return "*" in self.hosts or name in self.hosts

    def _from_elsewhere(self, headers: Headers) -> bool:
        """Whether a browser says this request comes from a page that is not one of ours.

        Origin first, when it names a site. The page is served with Referrer-Policy: no-referrer, and
        under that policy the Fetch standard ("serializing a request origin") has a browser send
        `Origin: null` even on the page's own POSTs (Chromium sends the origin anyway): then
        Sec-Fetch-Site, which browsers set and pages cannot, decides; then Referer.
        A request with none of them is not from a browser (curl, scripts, the CLI), so not forged.
        """
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            return not self._allowed(host_name(urlsplit(origin).netloc))
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site not in ("same-origin", "none")
        referer = headers.get("referer")
        if referer is not None:
            return not self._allowed(host_name(urlsplit(referer).netloc))
        return origin is not None  # `Origin: null` and nothing else: a sandboxed frame or a data: page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host_ok = self._allowed(host_name(headers.get("host", "")))
        if scope["type"] == "websocket":
            origin = headers.get("origin")
            # No Origin: not a browser (browsers always send one on a websocket), so no rebinding.
            origin_ok = origin is None or self._allowed(host_name(urlsplit(origin).netloc))
            if not (host_ok and origin_ok):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": WS_FORBIDDEN, "reason": "host or origin not allowed"})
                return
            await self.app(scope, receive, send)
            return
        if not host_ok:
            await _plain(send, 400, b"this server does not answer to that Host name (LAYERLAB_ALLOWED_HOSTS)")
            return
        if scope["method"] not in SAFE_METHODS and "*" not in self.hosts and self._from_elsewhere(headers):
            await _plain(send, 403, CROSS_SITE, b"application/json")
            return
        policy = self.docs_csp if scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect") else self.page_csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *security_headers(policy)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(policy: bytes) -> list[tuple[bytes, bytes]]:
    """The headers on every answer. no-referrer: a share link in the address bar is a secret."""
    return [(b"content-security-policy", policy), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin")]


async def _plain(send: Send, status: int, body: bytes, kind: bytes = b"text/plain; charset=utf-8") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            *security_headers(b"default-src 'none'; frame-ancestors 'none'")]})
    await send({"type": "http.response.body", "body": body})
