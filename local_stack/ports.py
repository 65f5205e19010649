"""Ports of the local stack on 127.0.0.1: picking free ones, refusing taken ones, and telling a
listener the stack started from someone else's."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


@dataclass(frozen=True)
class Port:
    """A port the stack will bind: its number, what listens there, the setting that moves it."""

    number: int
    what: str
    setting: str


class PortUnavailable(RuntimeError):
    """A port the stack needs is taken (or named twice); the message names it and its setting."""

    def __init__(self, port: Port, reason: str, held: bool = True) -> None:
        remedy = "stop whatever holds it or choose" if held else "choose"
        super().__init__(
            f"port {port.number} ({port.what}) {reason}; {remedy} another port with {port.setting}"
        )
        self.port = port


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that nothing on 127.0.0.1 holds right now."""
    # All sockets stay bound until every port is picked, so the kernel never hands out one twice.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def why_unusable(port: int) -> str | None:
    """Why a server could not listen on 127.0.0.1:`port` now, or None when it could."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        # Something accepts connections there (a listener on 0.0.0.0 or ::, too).
        if probe.connect_ex((HOST, port)) == 0:
            return "is already in use on 127.0.0.1 by another process"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as servers set it: a closed connection in TIME_WAIT does not count,
        # a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "is already in use on 127.0.0.1 by another process"
            return f"cannot be bound on 127.0.0.1 ({error.strerror})"
    return None


def require_free(ports: Iterable[Port]) -> None:
    """Raise PortUnavailable for the first port that is named twice or cannot be bound."""
    seen: dict[int, Port] = {}
    for port in ports:
        if port.number in seen:
            raise PortUnavailable(port, f"is also the {seen[port.number].what}'s", held=False)
        seen[port.number] = port
        reason = why_unusable(port.number)
        if reason is not None:
            raise PortUnavailable(port, reason)


def owns_listener(pid: int, port: int) -> bool | None:
    """Whether process `pid` or one of its descendants listens on `port` (TCP, any address);
    None where /proc cannot tell (not Linux)."""
    listening = _listening_inodes(port)
    if listening is None:
        return None
    try:
        return any(_socket_inodes(member) & listening for member in _family(pid))
    except PermissionError:
        return None  # not allowed to look at its descriptors: cannot tell


def _listening_inodes(port: int) -> set[str] | None:
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not any(table.exists() for table in tables):
        return None
    inodes: set[str] = set()
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            fields = line.split()
            if len(fields) <= 9 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return inodes  # exited: it holds nothing
    for descriptor in descriptors:
        try:
            target = os.readlink(descriptor)
        except FileNotFoundError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _family(pid: int) -> list[int]:
    """`pid` and its descendants (a launcher script may run the server as a child)."""
    family, index = [pid], 0
    while index < len(family):
        for children in Path(f"/proc/{family[index]}/task").glob("*/children"):
            try:
                family.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
        index += 1
    return family
