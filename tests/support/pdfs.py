"""PDFs that say too much about their author, for the file-cleaning tests."""

from __future__ import annotations

import io

import pikepdf
from PIL import Image

CANARIES = (b"CanaryAuthor", b"CanaryCam", b"CanaryXmpTool", b"CanaryCreator")


def gps_photo() -> bytes:
    """A JPEG with a camera make and a GPS position in its EXIF."""
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # camera make
    exif.get_ifd(0x8825)[1] = "N"
    exif.get_ifd(0x8825)[2] = (50.0, 27.0, 0.0)  # GPS latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def telling_pdf(user_password: str | None = None) -> bytes:
    """One page showing a GPS-tagged photo, with an author in its info and XMP metadata.

    With `user_password`, encrypted ("" opens without a password, yet is encrypted).
    """
    pdf = pikepdf.new()
    photo = gps_photo()
    image = pikepdf.Stream(pdf, photo)
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = 32, 24
    image.ColorSpace = pikepdf.Name.DeviceRGB
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name.DCTDecode
    page = pdf.add_blank_page(page_size=(320, 240))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 320 0 0 240 0 0 cm /Im0 Do Q")
    pdf.docinfo["/Author"] = "CanaryAuthor"
    pdf.docinfo["/Creator"] = "CanaryCreator"
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["xmp:CreatorTool"] = "CanaryXmpTool"
        meta["dc:creator"] = ["CanaryAuthor"]
    out = io.BytesIO()
    if user_password is None:
        pdf.save(out, compress_streams=False)
    else:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user=user_password))
    return out.getvalue()
