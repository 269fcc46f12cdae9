"""Non-HTML captures that real crawl files contain: robots.txt, an image, a PDF.

Extraction must skip them by content type; they get labels of kind
"non_html" so every response record in a WARC has a label.
"""

import struct
import zlib
from collections.abc import Iterator

from .plan import PageSpec, record_id

ROBOTS = b"User-agent: *\nDisallow: /login\nDisallow: /app/\n\nSitemap: /sitemap.xml\n"

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
       b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >> endobj\n"
       b"4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 20 50 Td (Annual report) Tj ET\nendstream endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")


def _png(width: int = 16, height: int = 16) -> bytes:
    """A valid grey-gradient PNG, built by hand so no imaging library is needed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes((x * 16) % 256 for x in range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def non_html_records(seed: int, shard: int) -> Iterator[tuple[PageSpec, bytes, str]]:
    """(spec, body, content type) of the extra captures closing shard `shard`."""
    host = f"news.example-{shard % 8 + 1}.com"
    items = [(f"https://{host}/robots.txt", ROBOTS, "text/plain"),
             (f"https://{host}/static/logo-{shard}.png", _png(), "image/png"),
             (f"https://{host}/files/annual-report-{shard}.pdf", PDF, "application/pdf")]
    for k, (url, body, ctype) in enumerate(items):
        # Negative indices never collide with page indices in record ids.
        index = -(1 + shard * len(items) + k)
        yield PageSpec(index, "non_html", url, record_id(seed, index, "response"), None), body, ctype
