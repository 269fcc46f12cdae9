"""A minimal WARC/1.0 writer in the shape of Common Crawl files.

Every record is its own gzip member (so readers can seek to a record), with
sha1 base32 block and payload digests. gzip's mtime is pinned to 0 so the
same records give the same bytes.
"""

import base64
import gzip
import hashlib
from typing import BinaryIO

USER_AGENT = "CCBot/2.0 (https://commoncrawl.org/faq/)"


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def http_response(body: bytes, content_type: str, http_date: str) -> bytes:
    head = (f"HTTP/1.1 200 OK\r\nDate: {http_date}\r\nServer: nginx\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


def http_request(url: str) -> bytes:
    scheme_host, _, path = url.partition("://")[2].partition("/")
    return (f"GET /{path} HTTP/1.1\r\nHost: {scheme_host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
            "Accept-Encoding: identity\r\nConnection: close\r\n\r\n").encode("ascii")


class WarcWriter:
    def __init__(self, out: BinaryIO, filename: str, warcinfo_id: str, date: str):
        self.out = out
        self.warcinfo_id = warcinfo_id
        info = (f"software: curate.sample\r\nformat: WARC File Format 1.0\r\n"
                f"isPartOf: curate-sample\r\noperator: curate\r\nrobots: checked via robots.txt\r\n").encode()
        self._record("warcinfo", warcinfo_id, date, info,
                     {"Content-Type": "application/warc-fields", "WARC-Filename": filename}, with_info=False)

    def _record(self, warc_type: str, rid: str, date: str, block: bytes, headers: dict[str, str],
                with_info: bool = True) -> None:
        lines = [f"WARC-Type: {warc_type}", f"WARC-Date: {date}", f"WARC-Record-ID: {rid}",
                 f"Content-Length: {len(block)}"]
        if with_info:
            lines.append(f"WARC-Warcinfo-ID: {self.warcinfo_id}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        record = ("WARC/1.0\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"
        self.out.write(gzip.compress(record, compresslevel=6, mtime=0))

    def capture(self, url: str, date: str, http_date: str, ids: dict[str, str], body: bytes, content_type: str,
                ip: str, metadata: bytes | None = None) -> None:
        """A request/response pair (and optionally a metadata record) for one URL.

        `ids` holds the record ids for the keys "request", "response", "metadata".
        """
        request = http_request(url)
        self._record("request", ids["request"], date, request, {
            "Content-Type": "application/http; msgtype=request",
            "WARC-IP-Address": ip, "WARC-Target-URI": url, "WARC-Block-Digest": sha1_b32(request)})
        response = http_response(body, content_type, http_date)
        self._record("response", ids["response"], date, response, {
            "Content-Type": "application/http; msgtype=response",
            "WARC-Concurrent-To": ids["request"], "WARC-IP-Address": ip, "WARC-Target-URI": url,
            "WARC-Payload-Digest": sha1_b32(body), "WARC-Block-Digest": sha1_b32(response),
            "WARC-Identified-Payload-Type": content_type.split(";")[0]})
        if metadata is not None:
            self._record("metadata", ids["metadata"], date, metadata, {
                "Content-Type": "application/warc-fields", "WARC-Target-URI": url,
                "WARC-Concurrent-To": ids["response"], "WARC-Block-Digest": sha1_b32(metadata)})
