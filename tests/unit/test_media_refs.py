"""The media store's pure pieces: types by magic bytes, names by hash, the reference grammar."""

from __future__ import annotations

import pytest

from bot.delivery.message import parse_stored_ref, stored_ref
from bot.services.notices import PhotoRef, photos_for
from bot.storage.media_store import MediaStore, allowed_types, sniff_type

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"#!AMR\n\x3c", "audio/amr"),
        (b"OggS" + bytes(24) + b"Speex   1.2", "audio/speex"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"%PDF-1.7", None),
        (b"<svg xmlns=", None),
        (b"", None),
    ],
)
def test_a_file_type_is_read_from_its_first_bytes(head: bytes, mime: str | None):
    assert sniff_type(head) == mime


def test_photos_are_images_and_voice_messages_are_audio():
    assert "image/jpeg" in allowed_types("report") and "audio/amr" not in allowed_types("report")
    assert allowed_types("voice") == {"audio/amr", "audio/speex", "audio/mpeg"}


def test_a_stored_reference_names_a_hash_and_never_a_path():
    assert parse_stored_ref(stored_ref(DIGEST)) is not None
    assert parse_stored_ref(stored_ref(DIGEST, "AgAC-x_1")).platform_id == "AgAC-x_1"  # type: ignore[union-attr]
    assert stored_ref(DIGEST, "../etc/passwd") == f"media:{DIGEST}"  # an odd id is left out
    for ref in ("media:../../etc/passwd", f"media:{DIGEST}/x", "/etc/hostname", "canary.txt"):
        assert parse_stored_ref(ref) is None
    with pytest.raises(ValueError):
        stored_ref("not-a-hash")
    with pytest.raises(ValueError):
        MediaStore("/tmp/media").path_of("../" + DIGEST[3:])


def test_a_photo_not_yet_stored_is_shown_only_on_its_own_channel():
    pending = PhotoRef("wechat", "MEDIA_1")
    stored = PhotoRef("wechat", "MEDIA_1", DIGEST)
    assert photos_for("wechat", [pending]) == ("MEDIA_1",)
    assert photos_for("telegram", [pending]) == ()
    assert photos_for("wechat", [stored]) == (f"media:{DIGEST}:MEDIA_1",)
    assert photos_for("telegram", [stored]) == (f"media:{DIGEST}",)
    assert photos_for("telegram", ["AgAC-file"], "telegram") == ("AgAC-file",)
