"""Checking and cleaning the files defenders send, before they are stored.

The type is decided by content, never by the name or the platform's claim.
Images are decoded and re-encoded from their pixels, which drops EXIF (GPS
position, camera serial, time), XMP and ICC comments; orientation is applied
first so the picture still looks right. Anything else is refused.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from intake.errors import FileRejected

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# Decoded pixels cap: a small compressed file can expand to gigabytes.
MAX_PIXELS = 40_000_000

_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CleanFile:
    data: bytes
    media_type: str


def sniff(data: bytes) -> str | None:
    """The media type by magic bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_file(
    data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, declared_size: int | None = None
) -> CleanFile:
    """Check a file and strip what it says about its author.

    Raises:
        FileRejected: too large, or not a type we accept.
    """
    if max(len(data), declared_size or 0) > max_bytes:
        raise FileRejected("too_large")
    media_type = sniff(data)
    if media_type is None:
        raise FileRejected("type_not_allowed")
    if media_type == "application/pdf":
        # PDFs are kept as sent: rewriting them safely needs a PDF library we
        # have not adopted; officers are told metadata may remain.
        return CleanFile(data, media_type)
    return CleanFile(_reencode_image(data), media_type)


def _reencode_image(data: bytes) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in _IMAGE_FORMATS:
                    raise FileRejected("type_not_allowed")
                if image.width * image.height > MAX_PIXELS:
                    raise FileRejected("too_large")
                image_format = image.format
                upright = ImageOps.exif_transpose(image)
                if upright.mode not in ("RGB", "RGBA", "L", "LA"):
                    upright = upright.convert("RGBA" if upright.mode in ("P", "PA") else "RGB")
                # A fresh image from the pixels alone: no EXIF, XMP, comments or ICC.
                pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FileRejected("too_large") from None
    except (OSError, ValueError, SyntaxError):
        raise FileRejected("type_not_allowed") from None
    out = io.BytesIO()
    if image_format == "JPEG":
        if pixels.mode not in ("RGB", "L"):
            pixels = pixels.convert("RGB")  # JPEG has no alpha
        pixels.save(out, format="JPEG", quality=90)
    else:
        pixels.save(out, format=image_format)
    return out.getvalue()
