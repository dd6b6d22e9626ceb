"""Checking and cleaning the files defenders send, before they are stored.

The type is decided by content, never by the name or the platform's claim.
Images are decoded and re-encoded from their pixels, which drops EXIF (GPS
position, camera serial, time), XMP and ICC comments; orientation is applied
first so the picture still looks right.

PDFs are rewritten by qpdf (pikepdf) without their document information
(author, creator tool, dates), without any XMP metadata stream (the
document's, a page's, an image's), with the EXIF/XMP/IPTC segments cut out of
embedded JPEG photos (losslessly: the compressed picture is kept as it is),
and with a new file identifier; only objects the document still uses are
written, so an earlier revision's metadata does not survive either. A PDF
that cannot be cleaned so (encrypted, damaged, carrying embedded files or
JPEG 2000 pictures, which may hold metadata we cannot remove) is refused with
its own answer. Anything else is refused.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pikepdf
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
        return CleanFile(_clean_pdf(data), media_type)
    return CleanFile(_reencode_image(data), media_type)


# JPEG segments that describe the photo, its camera and its author, not the picture:
# APP1 (EXIF, with GPS, and XMP), APP12/APP13 (Ducky, Photoshop IPTC), COM (comments).
# APP0 (JFIF), APP2 (ICC colour profile) and APP14 (Adobe colour transform) stay: the
# picture needs them to show its colours.
_JPEG_DROPPED = {0xE1, 0xEC, 0xED, 0xFE} | set(range(0xE3, 0xEC)) | {0xEF}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The same JPEG without its metadata segments (lossless: the scan data is copied).

    Raises:
        ValueError: not a JPEG whose header segments can be read.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    out = bytearray(b"\xff\xd8")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("JPEG segment expected")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:  # start of scan: the picture itself, to the end
            out += data[position:]
            return bytes(out)
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        end = position + 2 + length
        if length < 2 or end > len(data):
            raise ValueError("truncated JPEG segment")
        if marker not in _JPEG_DROPPED:
            out += data[position:end]
        position = end
    raise ValueError("JPEG without picture data")


def _clean_pdf(data: bytes) -> bytes:
    """The PDF without document info, XMP and its photos' EXIF (see the module docstring)."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise FileRejected("pdf_not_cleanable")
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            names = pdf.Root.get("/Names")
            if pdf.attachments or (names is not None and "/EmbeddedFiles" in names):
                raise FileRejected("pdf_not_cleanable")
            for obj in pdf.objects:
                if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                    continue
                for key in ("/Metadata", "/PieceInfo"):
                    if key in obj:
                        del obj[key]
                if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image":
                    _clean_image_stream(obj)
            out = io.BytesIO()
            # deterministic_id: a new /ID computed from the cleaned content, not the
            # original's (which may tie the file to the author's copy).
            pdf.save(out, deterministic_id=True)
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, KeyError):
        raise FileRejected("pdf_not_cleanable") from None
    return out.getvalue()


def _clean_image_stream(image: pikepdf.Stream) -> None:
    filters = image.get("/Filter")
    chain = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
    if "/JPXDecode" in chain:
        raise FileRejected("pdf_not_cleanable")  # JPEG 2000 boxes may hold XMP or EXIF
    if chain == ["/DCTDecode"]:
        raw = image.read_raw_bytes()
        image.write(strip_jpeg_metadata(raw), filter=pikepdf.Name.DCTDecode)


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
