"""Requests to a loopback port, stamped by the kernel as they cross the wire (Linux, root).

The fake Bot API stamps a request when its handler starts. That is late whenever the fake's own
process is kept off a busy CPU: it then stamps a burst of requests that arrived apart, and
counts more in one second than the senders sent. A platform's front end counts requests as they
come in; on loopback the nearest thing is the moment the kernel passes the packet on, which no
process's scheduling moves. `WireStamps` reads the loopback interface through a packet socket,
keeps only the TCP segments to one port whose payload starts an HTTP request for given paths,
and keeps the kernel's receive timestamp of each (SO_TIMESTAMPNS), so the thread reading them can
fall behind without moving a stamp.

It needs CAP_NET_RAW (root): `WireStamps.available()` says whether it can run, and the bench
falls back to the fake's own stamps, saying so, when it cannot.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import threading
from typing import Self

from tests.fakes.telegram_api import busiest_within

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # on loopback each packet is seen leaving and arriving; count it once
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_ATTACH_FILTER = 26
ETHERNET_HEADER = 14  # the loopback interface's packets carry a zeroed Ethernet header


def _port_filter(port: int) -> bytes:
    """A classic BPF program: IPv4, TCP, not a later fragment, to `port` (as tcpdump compiles
    `ip and tcp dst port PORT`), so the socket is not woken for the database's traffic."""
    program = [
        (0x28, 0, 0, 12),  # ldh [12]: EtherType
        (0x15, 0, 8, 0x0800),  # IPv4, else drop
        (0x30, 0, 0, 23),  # ldb [23]: protocol
        (0x15, 0, 6, 6),  # TCP, else drop
        (0x28, 0, 0, 20),  # ldh [20]: flags and fragment offset
        (0x45, 4, 0, 0x1FFF),  # a later fragment: drop
        (0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf): the IP header's length
        (0x48, 0, 0, 16),  # ldh [x+16]: the TCP destination port
        (0x15, 0, 1, port),  # the port, else drop
        (0x06, 0, 0, 0x40000),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


class WireStamps:
    """Kernel timestamps of the HTTP requests sent to 127.0.0.1:`port` whose request line holds
    one of `path_parts`."""

    def __init__(self, port: int, path_parts: tuple[bytes, ...]) -> None:
        self.port = port
        self.path_parts = path_parts
        self.stamps: list[float] = []
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._filter: ctypes.Array[ctypes.c_char] | None = None

    @staticmethod
    def available() -> bool:
        try:
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)).close()
        except (OSError, AttributeError):
            return False
        return True

    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        program = _port_filter(self.port)
        # struct sock_fprog: the number of instructions, and where they are.
        self._filter = ctypes.create_string_buffer(program, len(program))
        fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(self._filter))
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
        sock.bind(("lo", 0))
        sock.settimeout(0.2)
        self._socket = sock
        self._thread = threading.Thread(target=self._read, name="wire-stamps", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if self._socket is not None:
            self._socket.close()

    def _read(self) -> None:
        assert self._socket is not None
        space = socket.CMSG_SPACE(16)
        while not self._stopping.is_set():
            try:
                packet, ancillary, _flags, address = self._socket.recvmsg(65536, space)
            except TimeoutError:
                continue
            if address[2] == PACKET_OUTGOING:
                continue
            stamp = next(
                (
                    struct.unpack("qq", data[:16])
                    for level, kind, data in ancillary
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                ),
                None,
            )
            if stamp is not None and self._starts_request(packet):
                self.stamps.append(stamp[0] + stamp[1] / 1e9)

    def _starts_request(self, packet: bytes) -> bool:
        ip = packet[ETHERNET_HEADER:]
        ip_header = (ip[0] & 0x0F) * 4
        tcp = ip[ip_header:]
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if not payload.startswith(b"POST "):
            return False
        line_end = payload.find(b"\r\n")
        line = payload[: line_end if line_end >= 0 else None]
        return any(part in line for part in self.path_parts)

    def busiest(self, window: float = 1.0) -> int:
        """The most requests within any rolling `window` seconds, counted as the fake counts
        its own stamps."""
        return busiest_within(sorted(self.stamps), window)
