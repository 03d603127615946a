"""Images as phones save them, with the metadata that can identify someone: EXIF with a
GPS position, the phone model and the owner's name, an XMP packet, a comment, a trailer."""

from __future__ import annotations

import io

from PIL import Image

OWNER = "Nguyen Thi Hoa"
DEVICE = "Pixel 7 Pro"
RED, BLUE = (220, 20, 20), (20, 20, 220)


def picture() -> Image.Image:
    """64×48: the left half red, the right half blue (to see which way it was turned)."""
    im = Image.new("RGB", (64, 48), BLUE)
    im.paste(RED, (0, 0, 32, 48))
    return im


def exif(orientation: int = 1) -> Image.Exif:
    e = Image.Exif()
    e[0x0110] = DEVICE  # Model
    e[0x013B] = OWNER  # Artist
    e[0x0112] = orientation
    gps = e.get_ifd(0x8825)  # GPSInfo: 16°04'02.5"N 108°13'07"E, Đà Nẵng
    gps[1], gps[2], gps[3], gps[4] = "N", (16.0, 4.0, 2.5), "E", (108.0, 13.0, 7.0)
    return e


def jpeg_with_gps(orientation: int = 1) -> bytes:
    """A phone photo as sent "as a file": EXIF with GPS, an XMP packet, a comment, and a
    trailer after the end of the image (as some phones append)."""
    buf = io.BytesIO()
    picture().save(buf, "JPEG", exif=exif(orientation), quality=95, comment=OWNER.encode())
    data = buf.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + OWNER.encode() + b"</x:xmpmeta>"
    app1 = b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp
    return data[:2] + app1 + data[2:] + b"OWNER:" + OWNER.encode()


def leaks(data: bytes) -> list[bytes]:
    return [s for s in (OWNER.encode(), DEVICE.encode(), b"Exif\x00", b"xmpmeta", b"eXIf",
                        b"tEXt", b"iTXt", b"XMP ", b"EXIF") if s in data]


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB").tobytes()
