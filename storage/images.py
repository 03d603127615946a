"""Strip metadata from the images people send: EXIF (GPS position, device, owner name,
time), XMP, IPTC, comments, text chunks, embedded thumbnails and trailing data.

A photo sent "as a file" arrives exactly as the phone saved it; for an anonymous tipster
its GPS position or owner name can say who they are. Pixels and colour are kept: the
metadata segments (JPEG), chunks (PNG) or RIFF chunks (WebP) are dropped without
re-encoding, so the image loses no quality. Only when the EXIF orientation says the
pixels must be turned is the image decoded, turned upright and encoded again with
Pillow (the orientation tag goes with the rest of the EXIF). Something that does not
parse as its format is kept from the first unreadable byte on as it is: no image reader
finds metadata there either.
"""

from __future__ import annotations

import io
import logging
import struct

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

MAX_UPRIGHT_PIXELS = 50_000_000  # larger images are stripped but not turned
_ORIENTATION = 0x0112


def strip_metadata(data: bytes, mime: str) -> bytes:
    """``data`` without metadata, turned upright if its EXIF said so; same format."""
    strip = _STRIPPERS.get(mime)
    if strip is None:
        return data
    if _orientation(data) not in (None, 1):
        upright = _upright(data, mime)
        if upright is not None:
            data = upright
    return strip(data)


# --- orientation ------------------------------------------------------------------------

def _orientation(data: bytes) -> int | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(_ORIENTATION)
    except Exception:  # an image Pillow cannot read (or a bomb) has nothing to turn
        return None
    return int(value) if isinstance(value, int) else None


def _upright(data: bytes, mime: str) -> bytes | None:
    """Decode, apply the EXIF orientation, encode again (without EXIF); None if not done."""
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[mime]
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_UPRIGHT_PIXELS or getattr(im, "n_frames", 1) > 1:
                return None
            icc = im.info.get("icc_profile")
            turned = ImageOps.exif_transpose(im)
            out = io.BytesIO()
            options: dict[str, object] = {"icc_profile": icc} if icc else {}
            if fmt != "PNG":
                options["quality"] = 90
            turned.save(out, fmt, **options)
            return out.getvalue()
    except Exception as exc:  # keep the pixels as they are; they are still stripped
        log.info("could not turn an image upright: %s", type(exc).__name__)
        return None


# --- JPEG: drop APPn (but JFIF, ICC profile, Adobe colour) and COM segments -------------

def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:  # COM
        return False
    if 0xE0 <= marker <= 0xEF:  # APP0 … APP15
        return ((marker == 0xE0 and payload.startswith(b"JFIF\x00"))
                or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
                or (marker == 0xEE and payload.startswith(b"Adobe")))
    return True


def _jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        return data
    out = bytearray(b"\xff\xd8")
    pos, n = 2, len(data)
    in_scan = False
    while pos < n:
        if in_scan:
            # Entropy-coded data: only FF00 (a stuffed byte), RSTn, fill bytes or a marker.
            ff = data.find(b"\xff", pos)
            if ff < 0 or ff + 1 >= n:
                out += data[pos:]
                return bytes(out)
            out += data[pos:ff]
            pos = ff
            nxt = data[pos + 1]
            if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                out += data[pos:pos + 2]
                pos += 2
                continue
            if nxt == 0xFF:
                pos += 1  # a fill byte
                continue
            in_scan = False
        if data[pos] != 0xFF or pos + 1 >= n:
            out += data[pos:]  # not a marker: keep the rest as it is
            return bytes(out)
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:  # EOI: whatever follows (a second image, a trailer) is dropped
            out += b"\xff\xd9"
            return bytes(out)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            out += data[pos:pos + 2]
            pos += 2
            continue
        if pos + 4 > n:
            out += data[pos:]
            return bytes(out)
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > n:
            out += data[pos:]
            return bytes(out)
        if _keep_jpeg_segment(marker, data[pos + 4:end]):
            out += data[pos:end]
        pos = end
        in_scan = marker == 0xDA  # SOS: the scan's coded data follows its header
    return bytes(out)


# --- PNG: keep the chunks that make the picture, drop text, time, EXIF and the rest --------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB",
             b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"hIST", b"cICP", b"mDCv", b"cLLI",
             b"acTL", b"fcTL", b"fdAT"}


def _png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        return data
    out = bytearray(_PNG_SIGNATURE)
    pos, n = len(_PNG_SIGNATURE), len(data)
    while pos + 12 <= n:
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > n or not kind.isalpha():
            break
        if kind in _PNG_KEEP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    out += data[pos:]
    return bytes(out)


# --- WebP: drop the EXIF and XMP chunks and their flags ---------------------------------

_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    out = bytearray(data[:12])
    pos, n = 12, min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= n:
        kind = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + size + (size & 1)
        if end > n:
            break
        chunk = bytearray(data[pos:end])
        if kind == b"VP8X" and size >= 1:
            chunk[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
        if kind not in (b"EXIF", b"XMP "):
            out += chunk
        pos = end
    out += data[pos:n]  # anything unreadable stays as it was; past the RIFF size goes
    struct.pack_into("<I", out, 4, len(out) - 8)
    return bytes(out)


_STRIPPERS = {"image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp}
