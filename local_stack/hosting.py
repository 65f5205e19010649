"""Firebase Hosting, locally: the operator console's static files and the `/api/**` rewrite to
the dashboard function, on one origin (docs/interfaces.md §9).

It reads the `hosting` section of firebase.json, the same one `firebase deploy` reads: the public
folder, the rewrites (to a function, or to a file for the console's own paths) and the headers.
Responses are gzip-compressed when the browser accepts it, as Hosting's are, so a transfer
measured here is the one production sends. It also answers `/__/firebase/init.json`, the
reserved URL where Hosting gives a page its Firebase configuration; locally that configuration
also names the Auth emulator, which the console then signs in against, so the served
Content-Security-Policy lets the page connect to that emulator's origin as well (and, this being
plain HTTP, Strict-Transport-Security is not sent).
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import mimetypes
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
INIT_JSON = "/__/firebase/init.json"


@dataclass(frozen=True)
class Rewrite:
    """One rewrite of firebase.json: a glob and either a function or a file."""

    source: str
    function: str | None
    destination: str | None


@dataclass(frozen=True)
class HostingConfig:
    """The parts of firebase.json `hosting` that the local server honours."""

    public: Path
    rewrites: tuple[Rewrite, ...]
    headers: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    @classmethod
    def load(cls, firebase_json: Path) -> HostingConfig:
        """From firebase.json; the public folder relative to it."""
        hosting = json.loads(firebase_json.read_text())["hosting"]
        rewrites = []
        for rule in hosting.get("rewrites", []):
            function = rule.get("function")
            if isinstance(function, dict):
                function = function["functionId"]
            rewrites.append(Rewrite(rule["source"], function, rule.get("destination")))
        headers = tuple(
            (rule["source"], tuple((h["key"], h["value"]) for h in rule["headers"]))
            for rule in hosting.get("headers", [])
        )
        return cls(firebase_json.parent / hosting["public"], tuple(rewrites), headers)


def served_locally(
    headers: tuple[tuple[str, str], ...], connect_origins: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """firebase.json's headers as this plain-HTTP server sends them: the CSP's `connect-src` also
    allows `connect_origins` (the Auth emulator), and no Strict-Transport-Security."""
    served = []
    for key, value in headers:
        if key.lower() == "strict-transport-security":
            continue
        if key.lower() == "content-security-policy" and connect_origins:
            directives = [d.strip() for d in value.split(";") if d.strip()]
            value = "; ".join(
                " ".join([d, *connect_origins]) if d.split()[0] == "connect-src" else d
                for d in directives
            )
        served.append((key, value))
    return tuple(served)


def glob_matches(pattern: str, path: str) -> bool:
    """Hosting's globs: `**` any depth, `*` within one segment."""
    if pattern == "**":
        return True
    if pattern.endswith("/**"):
        base = pattern[:-3]
        return path == base or path.startswith(base + "/")
    return fnmatch.fnmatchcase(path, pattern)


class Hosting:
    """The WSGI application: files, rewrites, headers and init.json."""

    def __init__(
        self,
        config: HostingConfig,
        functions: Mapping[str, WsgiApp],
        firebase_config: Mapping[str, Any],
    ) -> None:
        emulator = firebase_config.get("authEmulatorUrl")
        origins = (str(emulator).rstrip("/"),) if emulator else ()
        self.config = HostingConfig(
            config.public,
            config.rewrites,
            tuple((source, served_locally(pairs, origins)) for source, pairs in config.headers),
        )
        self.functions = functions
        self.init_json = json.dumps(firebase_config).encode()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "") or "/"
        if path == INIT_JSON:
            return self._send(environ, start_response, path, self.init_json, "application/json")
        static = self._file(path)
        if static is None:
            for rewrite in self.config.rewrites:
                if not glob_matches(rewrite.source, path):
                    continue
                if rewrite.function is not None:
                    # The function sees the original path (`/api/summary`), as on Hosting.
                    return self.functions[rewrite.function](environ, start_response)
                static = self._file(rewrite.destination or "")
                break
        if static is None:
            body = b"404: nothing at " + path.encode()
            return self._send(environ, start_response, path, body, "text/plain", 404)
        content_type = mimetypes.guess_type(static.name)[0] or "application/octet-stream"
        if content_type == "text/javascript":
            content_type = "application/javascript"
        return self._send(environ, start_response, path, static.read_bytes(), content_type)

    def _file(self, path: str) -> Path | None:
        """The public file a path names; index.html for a folder; never outside the folder."""
        root = self.config.public.resolve()
        try:
            candidate = (root / path.lstrip("/")).resolve()
        except (ValueError, OSError):  # a NUL byte or a name the filesystem refuses
            return None
        if candidate != root and root not in candidate.parents:
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def _send(
        self,
        environ: Environ,
        start_response: StartResponse,
        path: str,
        body: bytes,
        content_type: str,
        status: int = 200,
    ) -> list[bytes]:
        headers = [("Content-Type", f"{content_type}; charset=utf-8")]
        for source, pairs in self.config.headers:
            if glob_matches(source, path):
                headers.extend(pairs)
        accepts_gzip = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        if accepts_gzip and content_type.startswith(COMPRESSIBLE) and len(body) > 512:
            body = gzip.compress(body, 6)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        headers.append(("Content-Length", str(len(body))))
        reason = "OK" if status == 200 else "Not Found"
        start_response(f"{status} {reason}", headers)
        return [body]
