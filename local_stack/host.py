"""The local functions host: serves functions/main.py the way Cloud Functions and Eventarc would.

Functions are discovered from their `firebase_functions` decorators (what `firebase deploy`
reads), so nothing here names a function. HTTP functions answer at
`/{project}/us-central1/{name}[/path]`, Firestore-triggered functions at
`/functions/projects/{project}/triggers/{name}` (the emulator's callback), and scheduled
functions run on their cron schedules.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import datetime as dt
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.auth_emulator import API_KEY
from local_stack.hosting import Hosting, HostingConfig
from local_stack.runtime_log import RuntimeLog, store_operations

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
REGION = "us-central1"
RECORDED_PER_DOCUMENT = 20
log = logging.getLogger("functions-host")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Discovered:
    """One deployed function as its manifest endpoint describes it."""

    name: str
    kind: str  # "https" | "event" | "schedule"
    handler: Callable[..., Any]
    event_type: str | None = None
    document: str | None = None
    schedule: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Public description (for the stack to register triggers)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "eventType": self.event_type,
            "document": self.document,
            "schedule": self.schedule,
        }


def discover(module_name: str = "main") -> list[Discovered]:
    """Every member of functions/main.py carrying a firebase_functions endpoint."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    module = importlib.import_module(module_name)
    found: list[Discovered] = []
    for value in vars(module).values():
        endpoint = getattr(value, "__firebase_endpoint__", None)
        if endpoint is None:
            continue
        name = endpoint.entryPoint
        if endpoint.eventTrigger:
            trigger = endpoint.eventTrigger
            patterns = trigger.get("eventFilterPathPatterns") or {}
            filters = trigger.get("eventFilters") or {}
            document = patterns.get("document") or filters.get("document")
            found.append(Discovered(name, "event", value, trigger["eventType"], document))
        elif endpoint.scheduleTrigger:
            schedule = endpoint.scheduleTrigger.get("schedule")
            found.append(Discovered(name, "schedule", value, schedule=str(schedule)))
        else:
            found.append(Discovered(name, "https", value))
    return found


@dataclass
class Stats:
    """Delivery counters and recorded trigger requests, for tests and benchmarks."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    triggers: dict[str, dict[str, int]] = field(default_factory=dict)
    recorded: dict[str, collections.deque[dict[str, Any]]] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    running: int = 0  # handlers started and not finished (deliveries still being handled)

    def started(self) -> None:
        """Note a handler that began."""
        with self.lock:
            self.running += 1

    def count(self, name: str, outcome: str) -> None:
        """Count one delivery outcome (its handler has finished)."""
        with self.lock:
            self.running -= 1
            bucket = self.triggers.setdefault(name, {"ok": 0, "failed": 0})
            bucket[outcome] = bucket.get(outcome, 0) + 1

    def record(self, document: str, request: dict[str, Any]) -> None:
        """Keep the raw request so a test can replay it byte for byte."""
        with self.lock:
            queue = self.recorded.setdefault(
                document, collections.deque(maxlen=RECORDED_PER_DOCUMENT)
            )
            queue.append(request)


def _decode_body(raw: bytes) -> bytes:
    # The emulator sends the BASE64 TEXT of the protobuf although it says application/protobuf;
    # a replayed production event carries the raw protobuf, which is not valid base64 text.
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw


def _fix_source(source: str) -> str:
    # The emulator doubles "projects/" in ce-source.
    return source.replace("projects/projects/", "projects/")


class Host:
    """The WSGI application."""

    def __init__(self, project: str, functions: Iterable[Discovered]) -> None:
        from flask import Flask

        self.project = project
        self.functions = {f.name: f for f in functions}
        self.stats = Stats()
        self.concurrent_triggers = False
        self.runtime = RuntimeLog(self.functions, store_operations, time.time)
        self._apps: dict[str, Flask] = {}
        for function in self.functions.values():
            if function.kind in ("https", "schedule"):
                self._apps[function.name] = self._http_app(function)

    def http_apps(self) -> dict[str, Any]:
        """The WSGI app of each HTTP function, by name."""
        return dict(self._apps)

    def _http_app(self, function: Discovered) -> Any:
        from flask import Flask, request

        app = Flask(f"fn-{function.name}")
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

        def run(path: str = "") -> Any:
            return self._timed(function, request)

        def unrouted(error: Exception) -> Any:
            # As functions/main.py does in Cloud Functions: a path the `<path:path>` rule
            # refuses (it holds a newline) still reaches an HTTPS function.
            if function.kind == "https":
                return self._timed(function, request)
            body = {"error": {"code": "not-found", "message": "no such path"}}
            return app.response_class(json.dumps(body), 404, mimetype="application/json")

        app.add_url_rule("/", "root", run, methods=methods)
        app.add_url_rule("/<path:path>", "path", run, methods=methods)
        app.register_error_handler(404, unrouted)
        return app

    def _timed(self, function: Discovered, request: Any) -> Any:
        """Run an HTTP or scheduled function, recording it in the runtime series (an exception
        or a 5xx answer is an error, as Cloud Run counts them)."""
        started = self.runtime.started(function.name)
        ok = False
        try:
            result = function.handler(request)
            status = result[1] if isinstance(result, tuple) else getattr(result, "status_code", 200)
            ok = int(status) < 500
            return result
        finally:
            self.runtime.finished(function.name, started, ok)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        parts = [p for p in path.split("/") if p]
        if path in ("/", "/__/health"):
            return _respond(start_response, 200, "ok", "text/plain")
        if path == "/__/functions.json":
            body = json.dumps([f.to_json() for f in self.functions.values()])
            return _respond(start_response, 200, body)
        if path == "/__/stats":
            from video_monitoring.adapters._firestore import OPERATIONS

            with self.stats.lock:
                body = json.dumps(
                    {
                        "triggers": self.stats.triggers,
                        "running": self.stats.running,
                        "store": dict(OPERATIONS),
                    }
                )
            return _respond(start_response, 200, body)
        if path == "/__/runtime":
            return self._runtime(environ, start_response)
        if path == "/__/runtime/reset":
            self.runtime.reset()
            return _respond(start_response, 204, "")
        if path == "/__/recorded":
            return self._recorded(environ, start_response)
        if path == "/__/probe":
            return self._probe_read(environ, start_response)
        if len(parts) == 5 and parts[:2] == ["functions", "projects"] and parts[3] == "triggers":
            return self._trigger(parts[4], environ, start_response)
        if len(parts) >= 3 and parts[1] == REGION and parts[2] in self._apps:
            prefix = "/" + "/".join(parts[:3])
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix) :] or "/"
            result: Iterable[bytes] = self._apps[parts[2]](environ, start_response)
            return result
        body = json.dumps({"error": {"code": "not-found", "message": f"no function at {path}"}})
        return _respond(start_response, 404, body)

    def _trigger(
        self, trigger_id: str, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        document = headers.get("ce-document") or headers.get("ce-subject", "").removeprefix(
            "documents/"
        )
        if trigger_id.startswith("probe"):
            # Bare-delivery probe for benchmarks: note the arrival and do nothing else.
            with self.stats.lock:
                self.stats.probes[document] = time.time()
            return _respond(start_response, 204, "")
        self.stats.record(
            document.rsplit("/", 1)[-1],
            {"path": environ["PATH_INFO"], "headers": headers, "body": raw.decode("latin-1")},
        )
        function = self.functions.get(trigger_id)
        if function is None or function.kind != "event":
            return _respond(start_response, 404, json.dumps({"error": f"no trigger {trigger_id}"}))
        event = self._cloud_event(headers, raw, document)
        self.stats.started()
        if self.concurrent_triggers:
            # Production runs deliveries of one document at once; the emulator waits for each.
            threading.Thread(target=self._handle, args=(function, event), daemon=True).start()
            return _respond(start_response, 202, "")
        ok = self._handle(function, event)
        if not ok:
            return _respond(start_response, 500, json.dumps({"error": "function failed"}))
        return _respond(start_response, 204, "")

    def _handle(self, function: Any, event: Any) -> bool:
        """Run one trigger handler, count the outcome and record it in the runtime series."""
        started = self.runtime.started(function.name)
        try:
            function.handler(event)
        except Exception:
            log.exception("function %s failed on event %s", function.name, event["id"])
            self.runtime.finished(function.name, started, ok=False)
            self.stats.count(function.name, "failed")
            return False
        self.runtime.finished(function.name, started, ok=True)
        self.stats.count(function.name, "ok")
        return True

    def _runtime(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status, body = self.runtime.answer(environ.get("QUERY_STRING", ""))
        return _respond(start_response, status, json.dumps(body))

    def _cloud_event(self, headers: dict[str, str], raw: bytes, document: str) -> Any:
        from cloudevents.http import CloudEvent

        content_type = headers.get("content-type", "application/protobuf")
        data: Any
        if "json" in content_type:
            data = json.loads(raw or b"{}")
        else:
            data = _decode_body(raw)
            content_type = "application/protobuf"
        attributes = {
            "specversion": headers.get("ce-specversion", "1.0"),
            "id": headers.get("ce-id", ""),
            "source": _fix_source(headers.get("ce-source", "")),
            "type": headers.get("ce-type", ""),
            "subject": headers.get("ce-subject", ""),
            "time": headers.get("ce-time") or dt.datetime.now(dt.UTC).isoformat(),
            "datacontenttype": content_type,
            "document": document,
            "database": headers.get("ce-database", "(default)"),
            "namespace": headers.get("ce-namespace", "(default)"),
            "location": headers.get("ce-location", REGION),
            "project": headers.get("ce-project", self.project),
        }
        return CloudEvent(attributes, data)

    def _recorded(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        from urllib.parse import parse_qs

        query = parse_qs(environ.get("QUERY_STRING", ""))
        document = (query.get("document") or [""])[0]
        with self.stats.lock:
            body = json.dumps(list(self.stats.recorded.get(document, [])))
        return _respond(start_response, 200, body)

    def _probe_read(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        from urllib.parse import parse_qs

        document = (parse_qs(environ.get("QUERY_STRING", "")).get("document") or [""])[0]
        with self.stats.lock:
            arrived = self.stats.probes.get(document)
        return _respond(start_response, 200, json.dumps({"arrived": arrived}))


def _respond(
    start_response: StartResponse, status: int, body: str, content_type: str = "application/json"
) -> list[bytes]:
    reasons = {200: "OK", 204: "No Content", 404: "Not Found", 500: "Internal Server Error"}
    data = body.encode()
    start_response(
        f"{status} {reasons.get(status, 'Status')}",
        [("Content-Type", content_type), ("Content-Length", str(len(data)))],
    )
    return [data]


def console_app(host: Host, project: str, auth_port: int) -> Hosting:
    """Firebase Hosting's part: the console's files and `/api/**` to the dashboard function, as
    firebase.json says, with a Firebase configuration that points sign-in at the Auth emulator."""
    return Hosting(
        HostingConfig.load(REPO_ROOT / "firebase.json"),
        host.http_apps(),
        {
            "projectId": project,
            "apiKey": API_KEY,
            "authDomain": f"{project}.firebaseapp.com",
            "authEmulatorUrl": f"http://127.0.0.1:{auth_port}",
        },
    )


def scheduler_headers(function: str, when: dt.datetime) -> dict[str, str]:
    """The headers Cloud Scheduler sends when it runs a scheduled function for `when`."""
    return {
        "X-CloudScheduler-JobName": function,
        "X-CloudScheduler-ScheduleTime": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Scheduler(threading.Thread):
    """Runs each scheduled function at the minutes its cron expression names."""

    def __init__(self, base_url: str, project: str, functions: Iterable[Discovered]) -> None:
        super().__init__(daemon=True, name="scheduler")
        from local_stack.cron import Cron

        self._jobs = [
            (f.name, Cron.parse(f.schedule or "")) for f in functions if f.kind == "schedule"
        ]
        self._base = base_url
        self._project = project
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop after the current check."""
        self._stop.set()

    def run(self) -> None:
        """Check once per minute boundary."""
        last = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        while not self._stop.wait(1.0):
            minute = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
            if minute == last:
                continue
            last = minute
            for name, cron in self._jobs:
                if cron.matches(minute):
                    threading.Thread(target=self._fire, args=(name, minute), daemon=True).start()

    def _fire(self, name: str, minute: dt.datetime) -> None:
        import requests

        url = f"{self._base}/{self._project}/{REGION}/{name}"
        try:
            response = requests.post(url, headers=scheduler_headers(name, minute), timeout=600)
            log.info("scheduled %s at %s: %s", name, minute.isoformat(), response.status_code)
        except requests.RequestException as error:
            log.error("scheduled %s at %s failed: %s", name, minute.isoformat(), error)


def slow_commits(delay_ms: float) -> None:
    """Fault injection for concurrency tests: every reconcile of the trigger handlers waits a
    random 0..delay_ms between its reads and its commit, as a slow instance would, so the
    windows in which concurrent handlers of one document interleave are wide."""
    import random

    from video_monitoring.runtime.bootstrap import services

    rng = random.Random()
    services().store.before_commit = lambda doc_id, plan: time.sleep(
        rng.uniform(0, delay_ms) / 1000
    )
    log.warning("LOCAL_COMMIT_DELAY_MS=%s: reconciles wait before committing", delay_ms)


def main(argv: list[str] | None = None) -> int:
    """Serve the functions until interrupted."""
    parser = argparse.ArgumentParser(description="Local functions host")
    parser.add_argument("--project", default="demo-cvplus")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FUNCTIONS_PORT", 5001)))
    parser.add_argument(
        "--firestore-port", type=int, default=int(os.environ.get("FIRESTORE_PORT", 8080))
    )
    parser.add_argument("--no-schedules", action="store_true")
    parser.add_argument(
        "--hosting-port", type=int, default=0, help="serve the console here too (0: do not)"
    )
    parser.add_argument("--auth-port", type=int, default=int(os.environ.get("AUTH_PORT", 9099)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The functions read these on first use, exactly as they would in Cloud Functions.
    os.environ["GCLOUD_PROJECT"] = args.project
    os.environ["GOOGLE_CLOUD_PROJECT"] = args.project
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{args.firestore_port}"
    os.environ.setdefault("FIREBASE_AUTH_EMULATOR_HOST", f"127.0.0.1:{args.auth_port}")
    os.environ["FUNCTIONS_EMULATOR"] = "true"
    # The functions read their runtime series from this host, as Cloud Monitoring when deployed.
    os.environ.setdefault("RUNTIME_SERIES_URL", f"http://127.0.0.1:{args.port}/__/runtime")
    # Alert notifications link to the console this host serves, else to the dashboard function
    # (production sets its own).
    os.environ.setdefault(
        "DASHBOARD_BASE_URL",
        f"http://127.0.0.1:{args.hosting_port}"
        if args.hosting_port
        else f"http://127.0.0.1:{args.port}/{args.project}/{REGION}/video_analytics_dashboard",
    )
    import firebase_admin
    from werkzeug.serving import make_server

    if not firebase_admin._apps:
        # The SDK calls initialize_app() itself; without options it would need ADC for the project.
        firebase_admin.initialize_app(options={"projectId": args.project})
    functions = discover()
    delay_ms = float(os.environ.get("LOCAL_COMMIT_DELAY_MS") or 0)
    if delay_ms > 0:
        slow_commits(delay_ms)
    host = Host(args.project, functions)
    # Fault injection for concurrency tests: answer each delivery at once and handle it in a
    # thread, so the emulator's next delivery of the same document overlaps it as in production.
    host.concurrent_triggers = os.environ.get("LOCAL_CONCURRENT_TRIGGERS") == "true"
    server = make_server("127.0.0.1", args.port, host, threaded=True)
    console = None
    if args.hosting_port:
        console = make_server(
            "127.0.0.1", args.hosting_port, console_app(host, args.project, args.auth_port),
            threaded=True,
        )  # fmt: skip
        threading.Thread(target=console.serve_forever, name="hosting", daemon=True).start()
    scheduler = None
    if not args.no_schedules:
        scheduler = Scheduler(f"http://127.0.0.1:{args.port}", args.project, functions)
        scheduler.start()
    names = ", ".join(f"{f.name} ({f.kind})" for f in functions)
    log.info("functions host on 127.0.0.1:%d serving %s", args.port, names)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if scheduler:
            scheduler.stop()
        if console is not None:
            console.shutdown()
            console.server_close()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
