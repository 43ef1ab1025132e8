"""A loopback stand-in for NASA's CMR granule search and an Earthdata-protected data endpoint.

As strict as the real services where the plugin depends on them:

* ``GET /search/granules.umm_json``: ``short_name`` required (HTTP 400 with CMR's ``{"errors": [...]}``
  otherwise), ``page_size`` at most 2000, ``temporal`` and ``version`` filter, results in pages continued by
  the ``CMR-Search-After`` header (``CMR-Hits`` gives the total); UMM-G items with ``RelatedUrls`` (GET DATA),
  ``DataGranule.ArchiveAndDistributionInformation`` (size, MD5 checksum) and ``TemporalExtent``.
* ``GET /data/<name>``: needs ``Authorization: Bearer <token>`` (401 otherwise), then redirects (302) to a
  signed storage URL ``/s3/<name>?X-Amz-Signature=...`` which refuses any Authorization header (400, as S3
  does) and serves ``Range`` requests (206 with ``Content-Range``; 416 past the end).
* ``drop_after``: the first ``drops`` data responses close the connection after that many bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass


@dataclass
class FakeGranule:
    short_name: str
    version: str
    start: dt.datetime
    name: str
    data: bytes


class FakeEarthdata:
    def __init__(self, granules: list[FakeGranule], token: str = "edl-token-1234", drop_after: int | None = None,
                 drops: int = 0) -> None:
        self.granules = granules
        self.token = token
        self.drop_after = drop_after
        self.drops = drops
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                with fake._lock:
                    fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                url = urllib.parse.urlparse(self.path)
                if url.path == "/search/granules.umm_json":
                    return fake._search(self, urllib.parse.parse_qs(url.query))
                if url.path.startswith("/data/"):
                    return fake._data(self, url.path[len("/data/"):])
                if url.path.startswith("/s3/"):
                    return fake._s3(self, url.path[len("/s3/"):], urllib.parse.parse_qs(url.query))
                return fake._send(self, 404, b"not found")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeEarthdata:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests_to(self, prefix: str) -> list[tuple[str, dict[str, str]]]:
        return [r for r in self.requests if r[0].startswith(prefix)]

    # -- responses ----------------------------------------------------------------------------------
    @staticmethod
    def _send(h, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _errors(self, h, code: int, *messages: str) -> None:
        self._send(h, code, json.dumps({"errors": list(messages)}).encode(), {"Content-Type": "application/json"})

    def _search(self, h, q: dict[str, list[str]]) -> None:
        if "short_name" not in q:
            return self._errors(h, 400, "The CMR does not allow querying across granules in all collections. To help "
                                        "optimize your search, you should limit your query using conceptId, "
                                        "provider, short_name, or version.")
        size = int(q.get("page_size", ["10"])[0])
        if not 0 <= size <= 2000:
            return self._errors(h, 400, "page_size must be a number between 0 and 2000")
        found = [g for g in self.granules if g.short_name == q["short_name"][0]
                 and ("version" not in q or g.version == q["version"][0])]
        if "temporal" in q:
            lo, hi = (dt.datetime.fromisoformat(v.rstrip("Z")) for v in q["temporal"][0].split(","))
            found = [g for g in found if lo <= g.start <= hi]
        found.sort(key=lambda g: g.start)
        after = h.headers.get("CMR-Search-After")
        start = int(json.loads(after)[0]) if after else 0
        page = found[start:start + size]
        headers = {"Content-Type": "application/vnd.nasa.cmr.umm_results+json", "CMR-Hits": str(len(found))}
        if start + size < len(found):
            headers["CMR-Search-After"] = json.dumps([start + size, f"G{start + size}-NSIDC_CPRD"])
        items = [{"meta": {"concept-id": f"G{i}-NSIDC_CPRD", "native-id": g.name},
                  "umm": {"GranuleUR": g.name,
                          "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": g.start.isoformat() + "Z"}},
                          "RelatedUrls": [
                              {"URL": f"{self.url}/data/{g.name}", "Type": "GET DATA"},
                              {"URL": f"s3://nsidc-cumulus-prod-protected/SMAP/{g.name}", "Type": "GET DATA VIA DIRECT "
                               "ACCESS"},
                              {"URL": f"{self.url}/data/{g.name}.xml", "Type": "EXTENDED METADATA"}],
                          "DataGranule": {"ArchiveAndDistributionInformation": [
                              {"Name": g.name, "SizeInBytes": len(g.data),
                               "Checksum": {"Value": hashlib.md5(g.data).hexdigest(), "Algorithm": "MD5"}},
                              {"Name": g.name + ".xml", "SizeInBytes": 1000}]}}}
                 for i, g in enumerate(page, start)]
        self._send(h, 200, json.dumps({"hits": len(found), "took": 5, "items": items}).encode(), headers)

    def _granule(self, name: str) -> FakeGranule | None:
        return next((g for g in self.granules if g.name == name), None)

    def _data(self, h, name: str) -> None:
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(h, 401, b"HTTP Basic: Access denied.\n", {"WWW-Authenticate": 'Basic realm="Please '
                                                                                         'enter your Earthdata Login '
                                                                                         'credentials"'})
        if self._granule(name) is None:
            return self._send(h, 404, b"Not Found")
        self._send(h, 302, b"", {"Location": f"{self.url}/s3/{name}?X-Amz-Signature=abc123&X-Amz-Expires=3600"})

    def _s3(self, h, name: str, q: dict[str, list[str]]) -> None:
        if h.headers.get("Authorization"):
            return self._send(h, 400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; "
                                      b"only the X-Amz-Algorithm query parameter, Signature query string parameter or "
                                      b"the Authorization header should be specified</Message></Error>")
        if "X-Amz-Signature" not in q:
            return self._send(h, 403, b"<Error><Code>AccessDenied</Code></Error>")
        g = self._granule(name)
        if g is None:
            return self._send(h, 404, b"<Error><Code>NoSuchKey</Code></Error>")
        data, code, headers = g.data, 200, {"Content-Type": "application/x-hdf5", "Accept-Ranges": "bytes"}
        rng = h.headers.get("Range")
        if rng:
            first = int(rng.split("=")[1].split("-")[0])
            if first >= len(g.data):
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(g.data)}"})
            data, code = g.data[first:], 206
            headers["Content-Range"] = f"bytes {first}-{len(g.data) - 1}/{len(g.data)}"
        with self._lock:
            drop = self.drop_after is not None and self.drops > 0
            if drop:
                self.drops -= 1
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if drop:
            h.wfile.write(data[: self.drop_after])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(data)
