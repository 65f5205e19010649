"""Start the whole local stack the way `make serve` and `make demo` both do: every port checked
first, then the BigQuery emulator (when installed), the Cloud Storage emulator for background
exports (when installed), the Auth emulator (when firebase-tools is installed) with its demo
users, the functions host serving the console, and the Firestore emulator; and the lines that
tell a person where everything is."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from local_stack.auth_emulator import AuthEmulatorError, DemoUser, auth_missing
from local_stack.bigquery_emulator import (
    BigQueryEmulator,
    bigquery_env,
    bigquery_missing,
    optional_bigquery_emulator,
)
from local_stack.ports import PortUnavailable
from local_stack.stack import (
    REPO_ROOT,
    ConsolePorts,
    LocalStack,
    StackError,
    StackPorts,
    auth_ports_of,
    bigquery_ports_of,
    firestore_port_of,
    functions_port_of,
    hosting_port_of,
    local_ports,
    start_stack,
)
from local_stack.storage_emulator import (
    StorageEmulator,
    start_storage_emulator,
    storage_missing,
    storage_port_of,
)

LaunchError = (StackError, PortUnavailable, AuthEmulatorError)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags both commands take (each port also has its environment variable)."""
    parser.add_argument("--project", default="demo-cvplus")
    parser.add_argument("--firestore-port", type=int, default=None, help="or FIRESTORE_PORT")
    parser.add_argument("--functions-port", type=int, default=None, help="or FUNCTIONS_PORT")
    parser.add_argument(
        "--bigquery-port", type=int, default=None, help="or BIGQUERY_PORT; gRPC on it + 10"
    )
    parser.add_argument("--hosting-port", type=int, default=None, help="or HOSTING_PORT")
    parser.add_argument(
        "--auth-port", type=int, default=None, help="or AUTH_PORT; hub and logging on the next two"
    )
    parser.add_argument("--storage-port", type=int, default=None, help="or STORAGE_PORT")


@dataclass
class Launched:
    """What `launch` started; stop() ends all of it."""

    stack: LocalStack
    warehouse: BigQueryEmulator | None
    users: list[DemoUser] = field(default_factory=list)
    storage: StorageEmulator | None = None

    def stop(self) -> None:
        """Stop the stack, then the BigQuery and Cloud Storage emulators."""
        self.stack.stop()
        if self.warehouse is not None:
            self.warehouse.stop()
        if self.storage is not None:
            self.storage.stop()

    def console_lines(self) -> list[str]:
        """Where the console is and who can sign in."""
        url = self.stack.console_url
        if url is None:
            return []
        lines = [f"console: {url}/"]
        if self.stack.auth is None:
            lines.append(f"  no Auth emulator ({auth_missing()}); nobody can sign in")
        for user in self.users:
            role = user.role or "no role"
            lines.append(f"  sign in as {user.email} / {user.password} ({role})")
        return lines


def launch(
    args: argparse.Namespace,
    env: Callable[[BigQueryEmulator | None], dict[str, str]],
    run_schedules: bool = True,
) -> Launched:
    """Check every port, then start everything; raises one of LaunchError, leaving nothing
    running, when something cannot start."""
    missing = bigquery_missing()
    no_auth = auth_missing()
    console = ConsolePorts(args.hosting_port or 0, None if no_auth else (args.auth_port or 0))
    no_storage = storage_missing()
    storage_port = None if no_storage else storage_port_of(args.storage_port)
    local_ports(
        args.firestore_port, args.functions_port, args.bigquery_port, missing is None, console,
        storage_port,
    )  # fmt: skip
    warehouse: BigQueryEmulator | None = None
    if missing is None:
        rest, grpc = bigquery_ports_of(args.bigquery_port)
        warehouse = optional_bigquery_emulator(
            args.project, rest.number, grpc.number, REPO_ROOT / ".stack" / "bigquery"
        )
    else:
        print(f"no BigQuery emulator ({missing}); running without BigQuery", file=sys.stderr)
    if no_auth:
        print(f"no Auth emulator ({no_auth}); the console cannot sign in", file=sys.stderr)
    storage: StorageEmulator | None = None
    if storage_port is None:
        print(f"no Cloud Storage emulator ({no_storage}); large exports fail", file=sys.stderr)
    try:
        if storage_port is not None:
            storage = start_storage_emulator(storage_port, REPO_ROOT / ".stack")
        ports = StackPorts(
            firestore_port_of(args.firestore_port).number,
            functions_port_of(args.functions_port).number,
            hosting_port_of(args.hosting_port).number,
            None if no_auth else auth_ports_of(args.auth_port)[0].number,
        )
        stack = start_stack(
            args.project,
            ports,
            rules_path=REPO_ROOT / "firestore.rules",
            run_schedules=run_schedules,
            env=env(warehouse) | ({} if storage is None else storage.env()),
        )
        launched = Launched(stack, warehouse, storage=storage)
        if stack.auth is not None:
            try:
                launched.users = stack.auth.seed_demo_users()
            except BaseException:
                stack.stop()
                raise
    except BaseException:
        if warehouse is not None:
            warehouse.stop()
        if storage is not None:
            storage.stop()
        raise
    return launched


def default_env(warehouse: BigQueryEmulator | None, project: str) -> dict[str, str]:
    """The functions' settings for the local stack: BigQuery's when it runs."""
    return bigquery_env(warehouse, project)
