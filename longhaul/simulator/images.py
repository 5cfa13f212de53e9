"""Real, small, deterministic images for ``image_generation_call.result`` and chart files.

Images are drawn with Pillow from a seed so the same prompt gives the same bytes. They are
rendered at most ``MAX_SIDE`` pixels on the longest side (keeping the requested aspect ratio)
so that creating hundreds of responses stays cheap.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw

MAX_SIDE = 256
FORMATS = ("png", "webp", "jpeg", "gif", "svg")
MIME_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}


def parse_size(size: str | None) -> tuple[int, int]:
    """``"1536x1024"`` → (1536, 1024); ``auto``/missing/invalid → (1024, 1024)."""
    if size and "x" in size:
        w, _, h = size.partition("x")
        if w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0:
            return int(w), int(h)
    return 1024, 1024


def _palette(seed: str) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode()).digest()
    return [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 30, 3)]


def _render_dims(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@lru_cache(maxsize=256)
def render_image(seed: str, output_format: str = "png", size: str | None = None) -> bytes:
    """Encoded image bytes for ``seed`` in ``output_format`` (svg returns SVG text as UTF-8)."""
    fmt = output_format.lower() if output_format else "png"
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in FORMATS:
        fmt = "png"
    width, height = _render_dims(*parse_size(size))
    colors = _palette(seed)
    if fmt == "svg":
        return _svg(width, height, colors)
    frames = [_frame(width, height, colors, shift) for shift in range(2 if fmt == "gif" else 1)]
    buffer = io.BytesIO()
    if fmt == "gif":
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
    else:
        frames[0].save(buffer, fmt.upper(), **({"quality": 80} if fmt != "png" else {}))
    return buffer.getvalue()


def _frame(width: int, height: int, colors: list[tuple[int, int, int]], shift: int) -> Image.Image:
    image = Image.new("RGB", (width, height), colors[0])
    draw = ImageDraw.Draw(image)
    for i, color in enumerate(colors[1:6]):
        x0 = (width * (i + shift)) // 7
        y0 = (height * i) // 8
        draw.ellipse((x0, y0, x0 + width // 3, y0 + height // 3), fill=color)
    draw.rectangle((0, height - height // 6, width, height), fill=colors[6])
    return image


def _svg(width: int, height: int, colors: list[tuple[int, int, int]]) -> bytes:
    def hexc(c: tuple[int, int, int]) -> str:
        return "#{:02x}{:02x}{:02x}".format(*c)

    circles = "".join(
        f'<circle cx="{(width * (i + 1)) // 7}" cy="{(height * (i + 1)) // 7}" '
        f'r="{min(width, height) // 6}" fill="{hexc(c)}"/>'
        for i, c in enumerate(colors[1:6])
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" '
        f'fill="{hexc(colors[0])}"/>{circles}</svg>'
    ).encode()
