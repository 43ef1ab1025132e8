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
* Earthdata Login (EDL), as earthaccess reaches it: ``POST https://<edl host>/api/users/find_or_create_token``
  answers 401 without HTTP Basic credentials or with wrong ones (``{"error": "invalid_credentials", ...}``) and
  the account's token (``{"access_token", "token_type", "expiration_date"}``) with the right ones; any other
  method 405. earthaccess builds EDL's address as ``https://<hostname>`` (port 443), so the fake is also an
  HTTPS proxy: ``CONNECT <edl host>:443`` is answered by a TLS server with a certificate for that host made by
  ``openssl`` for the test (:meth:`FakeEarthdata.proxy_env` gives ``HTTPS_PROXY``, ``NO_PROXY`` and
  ``REQUESTS_CA_BUNDLE``); CONNECT to any other host is refused (502), so nothing leaves the machine.
* CMR also takes the EDL token (``Authorization: Bearer``) earthaccess sends once logged in: an unknown one is
  refused (401), as CMR does. ``temporal`` and ``temporal[]`` are both read (python-cmr sends the latter).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import json
import os
import ssl
import subprocess
import tempfile
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
    EDL_HOST = "urs.earthdata.test"

    def __init__(self, granules: list[FakeGranule], token: str = "edl-token-1234", drop_after: int | None = None,
                 drops: int = 0, users: dict[str, str] | None = None) -> None:
        self.granules = granules
        self.token = token
        self.users = dict(users or {})
        self._tls: ssl.SSLContext | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.ca_file = ""
        self.drop_after = drop_after
        self.drops = drops
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _record(self):
                with fake._lock:
                    fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))

            def do_CONNECT(self):
                self._record()
                if self.path != f"{fake.EDL_HOST}:443" or fake._tls is None:
                    return fake._send(self, 502, b"")
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tunnel = fake._tls.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True
                    return
                Handler(tunnel, self.client_address, fake.server)  # serves the requests inside the tunnel
                self.close_connection = True

            def do_POST(self):
                self._record()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if isinstance(self.connection, ssl.SSLSocket) and self.path == "/api/users/find_or_create_token":
                    return fake._find_or_create_token(self, body)
                return fake._send(self, 405 if self.path.startswith("/api/") else 404, b"")

            def do_GET(self):
                self._record()
                url = urllib.parse.urlparse(self.path)
                if isinstance(self.connection, ssl.SSLSocket):  # only EDL's POST endpoint is served over TLS
                    return fake._send(self, 405 if url.path == "/api/users/find_or_create_token" else 404, b"")
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
        if self._tmp is not None:
            self._tmp.cleanup()

    def proxy_env(self) -> dict[str, str]:
        """Environment making requests (earthaccess) reach EDL through this fake: a TLS certificate for
        :attr:`EDL_HOST` is made with openssl on first use."""
        if self._tls is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fake-edl-")
            cert, key = (os.path.join(self._tmp.name, n) for n in ("edl.pem", "edl.key"))
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                            f"/CN={self.EDL_HOST}", "-addext", f"subjectAltName=DNS:{self.EDL_HOST}", "-keyout", key,
                            "-out", cert], check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._tls, self.ca_file = ctx, cert
        proxy = self.url
        return {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost", "REQUESTS_CA_BUNDLE": self.ca_file,
                "SMDOWNSCALE_EDL_HOST": self.EDL_HOST}

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

    def _find_or_create_token(self, h, body: bytes) -> None:
        auth = h.headers.get("Authorization", "")
        user = password = None
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                pass
        if user is None or self.users.get(user) != password:
            return self._send(h, 401, json.dumps({"error": "invalid_credentials", "error_description":
                                                  "Invalid user credentials"}).encode(),
                              {"Content-Type": "application/json", "WWW-Authenticate": 'Basic realm="Please enter '
                               'your Earthdata Login credentials"'})
        self._send(h, 200, json.dumps({"access_token": self.token, "token_type": "Bearer",
                                       "expiration_date": "2/4/2027"}).encode(), {"Content-Type": "application/json"})

    def _search(self, h, q: dict[str, list[str]]) -> None:
        auth = h.headers.get("Authorization")
        if auth is not None and auth != f"Bearer {self.token}":
            return self._errors(h, 401, "Token does not exist")
        if "temporal[]" in q:
            q["temporal"] = q.pop("temporal[]")
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
