"""What an uploaded file is, from its bytes alone (never its name or the browser's word), and the
thumbnail of an image. Only PNG, JPEG, GIF and WebP count as images, and only when Pillow can read
them within a pixel budget: anything else, a decompression bomb or a broken image included, is a
plain file, served as a download."""

import io
import warnings
from typing import BinaryIO, NamedTuple

from PIL import Image, ImageOps

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# A few other types recognised by their first bytes; still served as attachments.
MAGIC_TYPES = ((b"%PDF-", "application/pdf"),)
OCTET_STREAM = "application/octet-stream"
# Larger images are kept as files without a thumbnail: decoding one would take too much memory
# (Pillow's own bomb check, Image.MAX_IMAGE_PIXELS, is a warning up to twice its limit).
MAX_PIXELS = 32_000_000
THUMBNAIL_SIZE = (480, 480)


class Sniffed(NamedTuple):
    content_type: str
    is_image: bool = False
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None  # WebP, for images


def sniff(file: BinaryIO) -> Sniffed:
    """The file's type from its content; for a readable image, its size and a WebP thumbnail.
    Reads from the start and leaves the file at its start."""
    try:
        return _image(file) or _other(file)
    finally:
        file.seek(0)


def _other(file: BinaryIO) -> Sniffed:
    file.seek(0)
    head = file.read(16)
    for magic, content_type in MAGIC_TYPES:
        if head.startswith(magic):
            return Sniffed(content_type)
    return Sniffed(OCTET_STREAM)


def _image(file: BinaryIO) -> Sniffed | None:
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=list(IMAGE_TYPES)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return None
                content_type = IMAGE_TYPES[image.format]
                image.draft("RGB", THUMBNAIL_SIZE)  # a JPEG decodes at a fraction of its size
                image.load()
                thumbnail = _thumbnail(image)
    except (Exception, Image.DecompressionBombWarning):
        # Not an image Pillow can read (or a bomb): a file like any other. Pillow raises many
        # kinds (OSError, SyntaxError, ValueError, DecompressionBombError, struct errors...).
        return None
    return Sniffed(content_type, True, width, height, thumbnail)


def _thumbnail(image: Image.Image) -> bytes:
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode in ("LA", "PA", "P") else "RGB")
    image.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80)
    return out.getvalue()
