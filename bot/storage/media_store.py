"""The media store: photos and voice messages of cases, kept by content on the local disk.

A file is named by the SHA-256 of its bytes, under two levels of directories taken from the
hash (``JINGTU_MEDIA_DIR/ab/cd/abcd…``), so the same photo sent twice is kept once and a name
can never point outside the store. Files are written atomically (a temporary file in the same
directory, flushed to disk, then renamed), so a crash leaves either the whole file or none.

Only types Jingtu can show again are kept, recognised by their first bytes, never by a name or
a header the sender chose: JPEG, PNG, WebP and GIF photos; AMR, Speex (in Ogg) and MP3 voice
messages (what WeChat delivers).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

SHA256_RE = re.compile(r"[0-9a-f]{64}")

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
AUDIO_TYPES = frozenset({"audio/amr", "audio/speex", "audio/mpeg"})
# What each kind of case media may be; any other kind is a photo.
VOICE_KIND = "voice"


def allowed_types(kind: str) -> frozenset[str]:
    return AUDIO_TYPES if kind == VOICE_KIND else IMAGE_TYPES


def sniff_type(data: bytes) -> str | None:
    """The MIME type the bytes are, by their magic numbers; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "audio/amr"
    # Speex in Ogg: the first page's packet starts "Speex   " (at byte 28 of the page).
    if data.startswith(b"OggS") and data[28:36] == b"Speex   ":
        return "audio/speex"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"  # an ID3 tag, or an MPEG audio frame's sync bits
    return None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MediaStore:
    """Files by SHA-256 under one directory; safe to share between processes on one disk."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):
            raise ValueError("not a SHA-256 in lowercase hex")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, data: bytes) -> str:
        """Keep the bytes (once, whoever else keeps the same); returns their SHA-256."""
        sha256 = sha256_of(data)
        await asyncio.to_thread(self._write, sha256, data)
        return sha256

    def _write(self, sha256: str, data: bytes) -> None:
        path = self.path_of(sha256)
        if path.is_file() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{sha256[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def read(self, sha256: str) -> bytes | None:
        """The stored bytes, or None when the file is missing or no longer matches its name."""
        return await asyncio.to_thread(self._read, sha256)

    def _read(self, sha256: str) -> bytes | None:
        try:
            data = self.path_of(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        return data if sha256_of(data) == sha256 else None


# --- the port channels fill the store through -----------------------------------------------------


class MediaUnavailable(Exception):
    """A file could not be fetched. `final`: trying again cannot help (the platform no longer
    has it); `refused`: it exists but Jingtu will not keep it (larger than the limit)."""

    def __init__(self, message: str, *, final: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.final = final or refused
        self.refused = refused


class MediaSource(Protocol):
    """A channel's way to download a file by the reference it gave us."""

    async def fetch(self, file_ref: str, *, max_bytes: int) -> bytes:
        """The file's bytes; raises `MediaUnavailable` (refused when over `max_bytes`)."""
        ...
