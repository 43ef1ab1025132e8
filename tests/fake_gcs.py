"""Cloud Storage stand-ins for the export download tests: a loopback server speaking the Cloud Storage JSON API
(as strict as the real one for listing and media download), an in-memory storage, and exported GeoTIFF bytes.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
from osgeo import gdal

from smdownscale.algorithms.raster import srs_from_user


def tif_bytes(values: np.ndarray, x0: float, y0: float, res: float = 1000.0) -> bytes:
    """A float32 GeoTIFF in EPSG:6933 as Earth Engine exports it (upper-left corner x0, y0), as bytes.

    ``values``: one band (rows, cols) or several (bands, rows, cols)."""
    name = f"/vsimem/tile_{abs(hash((x0, y0)))}.tif"
    bands = values if values.ndim == 3 else values[None]
    ds = gdal.GetDriverByName("GTiff").Create(name, bands.shape[2], bands.shape[1], bands.shape[0], gdal.GDT_Float32)
    ds.SetGeoTransform((x0, res, 0, y0, 0, -res))
    ds.SetProjection(srs_from_user("EPSG:6933").ExportToWkt())
    for k, band in enumerate(bands):
        ds.GetRasterBand(k + 1).WriteArray(band)
    ds = None
    f = gdal.VSIFOpenL(name, "rb")
    gdal.VSIFSeekL(f, 0, 2)
    size = gdal.VSIFTellL(f)
    gdal.VSIFSeekL(f, 0, 0)
    data = bytes(gdal.VSIFReadL(1, size, f))
    gdal.VSIFCloseL(f)
    gdal.Unlink(name)
    return data


class MemoryStorage:
    """Cloud Storage stand-in: objects in a dict; counts downloads."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects
        self.downloads: list[str] = []

    def list(self, bucket: str, prefix: str) -> list[str]:
        return sorted(n for b, n in self.objects if b == bucket and n.startswith(prefix))

    def download(self, bucket: str, name: str, path: str) -> None:
        self.downloads.append(name)
        with open(path, "wb") as fh:
            fh.write(self.objects[(bucket, name)])


class FakeGcs:
    """A loopback stand-in for the Cloud Storage JSON API (object listing and media download)."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Silent."""

            def do_GET(self) -> None:
                url = urlparse(self.path)
                fake.paths.append(url.path)
                m = re.match(r"^/(download/)?storage/v1/b/([^/]+)/o(?:/(.+))?$", url.path)
                if m and m.group(3) is None:
                    prefix = parse_qs(url.query).get("prefix", [""])[0]
                    items = [{"kind": "storage#object", "bucket": b, "name": n, "size": str(len(v))}
                             for (b, n), v in sorted(fake.objects.items()) if b == m.group(2) and n.startswith(prefix)]
                    self._send(200, json.dumps({"kind": "storage#objects", "items": items}).encode(),
                               "application/json")
                elif m and (m.group(2), unquote(m.group(3))) in fake.objects:
                    self._send(200, fake.objects[(m.group(2), unquote(m.group(3)))], "application/octet-stream")
                else:
                    self._send(404, b'{"error": {"code": 404, "message": "No such object."}}', "application/json")

            def _send(self, status: int, payload: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
