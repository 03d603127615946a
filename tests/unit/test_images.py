"""Metadata is stripped from stored images (storage.images, FileStore.put): EXIF with GPS,
device and owner, XMP, comments, text chunks and trailers go; pixels stay; an EXIF
orientation is applied to the pixels first."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from storage.files import FileStore
from storage.images import strip_metadata
from tests.support.images import DEVICE, OWNER, exif, jpeg_with_gps, leaks, picture, pixels
from tests.support.seed import JPEG, PNG


def test_a_jpeg_loses_gps_device_owner_and_keeps_every_pixel():
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as im:  # the test image really carries them
        assert im.getexif().get_ifd(0x8825)[2] == (16.0, 4.0, 2.5)
    assert leaks(original)
    clean = strip_metadata(original, "image/jpeg")
    assert leaks(clean) == []
    with Image.open(io.BytesIO(clean)) as im:
        assert im.format == "JPEG" and im.size == (64, 48)
        assert not im.getexif() and "comment" not in im.info
    assert pixels(clean) == pixels(original)  # no re-encoding: not one pixel changed
    assert clean.endswith(b"\xff\xd9")  # the trailer is gone too
    assert strip_metadata(clean, "image/jpeg") == clean


def test_the_orientation_is_applied_before_it_is_dropped():
    clean = strip_metadata(jpeg_with_gps(orientation=6), "image/jpeg")  # turn 90° clockwise
    assert leaks(clean) == []
    with Image.open(io.BytesIO(clean)) as im:
        assert im.size == (48, 64) and not im.getexif()
        top, bottom = im.convert("RGB").getpixel((24, 4)), im.convert("RGB").getpixel((24, 60))
    # The left (red) half is now on top, as a viewer honouring the tag showed it.
    assert top[0] > 180 > top[2] and bottom[2] > 180 > bottom[0]


def test_png_and_webp_lose_their_metadata_chunks():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", OWNER)
    info.add_itxt("Comment", f"{DEVICE} {OWNER}", zip=False)
    buf = io.BytesIO()
    picture().save(buf, "PNG", pnginfo=info, exif=exif())
    png = buf.getvalue()
    assert leaks(png)
    clean = strip_metadata(png, "image/png")
    assert leaks(clean) == [] and pixels(clean) == pixels(png)

    buf = io.BytesIO()
    picture().save(buf, "WEBP", exif=exif(), xmp=f"<x:xmpmeta>{OWNER}</x:xmpmeta>".encode(),
                   lossless=True)
    webp = buf.getvalue()
    assert leaks(webp)
    clean = strip_metadata(webp, "image/webp")
    assert leaks(clean) == [] and pixels(clean) == pixels(webp)
    assert int.from_bytes(clean[4:8], "little") == len(clean) - 8  # the RIFF size fits
    with Image.open(io.BytesIO(clean)) as im:
        assert "exif" not in im.info and "xmp" not in im.info


def test_the_file_store_keeps_only_the_stripped_image(tmp_path: Path):
    store = FileStore(tmp_path, 10 * 1024 * 1024)
    original = jpeg_with_gps()
    sha, mime = store.put(original)
    stored = store.get(sha)
    assert mime == "image/jpeg" and leaks(stored) == []
    assert sha == hashlib.sha256(stored).hexdigest()
    assert not list(tmp_path.rglob("*.tmp"))
    assert sha != hashlib.sha256(original).hexdigest()


@pytest.mark.parametrize("data,mime", [(JPEG, "image/jpeg"), (PNG, "image/png")])
def test_files_that_do_not_parse_are_kept_as_they_are(data, mime):
    assert strip_metadata(data, mime) == data


@given(st.sampled_from([(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
                        (b"\x89PNG\r\n\x1a\n", "image/png"),
                        (b"RIFF\x00\x01\x00\x00WEBPVP8X", "image/webp")]),
       st.binary(max_size=300))
def test_any_bytes_strip_without_error_and_only_once(head, tail):
    prefix, mime = head
    once = strip_metadata(prefix + tail, mime)
    assert strip_metadata(once, mime) == once
