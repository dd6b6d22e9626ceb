from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image

from intake.core.files import clean_file, sniff, strip_jpeg_metadata
from intake.errors import FileRejected
from tests.support.pdfs import CANARIES, gps_photo, telling_pdf


def image_bytes(fmt: str, mode: str = "RGB", exif: bool = True) -> bytes:
    image = Image.new(mode, (40, 30), 128 if mode == "L" else (10, 20, 30)[: len(mode)] or 0)
    out = io.BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "CanaryCam"
        data.get_ifd(0x8825)[2] = (50.0, 27.0, 0.0)
        kwargs["exif"] = data
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "P"), ("WEBP", "RGB")]
)
def test_images_lose_their_metadata(fmt: str, mode: str) -> None:
    original = image_bytes(fmt, mode, exif=fmt != "PNG" or mode != "P")
    cleaned = clean_file(original)
    assert b"CanaryCam" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as image:
        assert image.format == fmt
        assert image.size == (40, 30)
        assert not image.getexif()


def test_orientation_is_applied_before_stripping() -> None:
    image = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    with Image.open(io.BytesIO(clean_file(out.getvalue()).data)) as cleaned:
        assert cleaned.size == (20, 40)


@pytest.mark.parametrize(
    "data",
    [b"", b"GIF89a....", b"\xff\xd8\xff broken jpeg", b"PK\x03\x04 zip", b"<html>", b"MZ\x90"],
)
def test_other_content_is_refused_whatever_its_name(data: bytes) -> None:
    with pytest.raises(FileRejected) as refused:
        clean_file(data)
    assert refused.value.reason == "type_not_allowed"


def test_size_limits() -> None:
    with pytest.raises(FileRejected) as refused:
        clean_file(b"%PDF-1.7" + b"0" * 100, max_bytes=50)
    assert refused.value.reason == "too_large"
    with pytest.raises(FileRejected):
        clean_file(b"", declared_size=10**9)


def test_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("L", (9000, 9000)).save(out, format="PNG")
    with pytest.raises(FileRejected) as refused:
        clean_file(out.getvalue())
    assert refused.value.reason == "too_large"


def test_sniff_by_content() -> None:
    assert sniff(b"%PDF-1.4 ...") == "application/pdf"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"hello") is None


def test_a_pdf_loses_its_author_xmp_and_its_photos_exif() -> None:
    data = telling_pdf()
    assert all(canary in data for canary in CANARIES)
    cleaned = clean_file(data)
    assert cleaned.media_type == "application/pdf"
    assert not any(canary in cleaned.data for canary in CANARIES), cleaned.data[:400]
    with pikepdf.open(io.BytesIO(cleaned.data)) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        [page] = pdf.pages
        raw = page.Resources.XObject.Im0.read_raw_bytes()
    with Image.open(io.BytesIO(raw)) as photo:  # still the picture, without its EXIF
        assert photo.size == (32, 24) and not photo.getexif()


@pytest.mark.parametrize(
    "data",
    [telling_pdf("secret"), telling_pdf(""), b"%PDF-1.7\n this is not a PDF at all"],
    ids=["encrypted", "encrypted-without-password", "damaged"],
)
def test_a_pdf_that_cannot_be_cleaned_is_refused(data: bytes) -> None:
    with pytest.raises(FileRejected) as refused:
        clean_file(data)
    assert refused.value.reason == "pdf_not_cleanable"


def test_jpeg_segments_are_cut_losslessly() -> None:
    photo = gps_photo()
    stripped = strip_jpeg_metadata(photo)
    assert b"CanaryCam" not in stripped and b"Exif" not in stripped
    assert photo.endswith(stripped[stripped.index(b"\xff\xda") :])  # scan data untouched
