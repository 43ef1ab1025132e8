"""CMR search and resumable, authenticated downloads against a loopback fake of NASA Earthdata."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from smdownscale.algorithms import earthdata
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.tests.fake_earthdata import FakeEarthdata, FakeGranule

TOKEN = "edl-token-1234"


def _granules(n=5, size=300_000):
    out = []
    for i in range(n):
        when = dt.datetime(2023, 6, 1 + i // 2, 1 + 3 * (i % 2), 30)
        data = hashlib.sha256(str(i).encode()).digest() * (size // 32)
        out.append(FakeGranule("SPL4SMGP", "008", when, f"SMAP_L4_SM_gph_{when:%Y%m%dT%H%M%S}_Vv8010_001.h5", data))
    out.append(FakeGranule("SPL4SMGP", "007", dt.datetime(2023, 6, 1, 1, 30), "old_v7.h5", b"x"))
    return out


def test_search_through_earthaccess_reads_umm(tmp_path):
    with FakeEarthdata(_granules()) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 3), (115, 41, 117, 43),
                                 cmr_url=fake.url)
        searches = fake.requests_to("/search/")
    assert [g.name for g in found] == [g.name for g in _granules()[:5]]
    assert found[0].size == 300_000 and found[0].algorithm == "MD5"
    assert found[0].checksum == hashlib.md5(_granules()[0].data).hexdigest()
    assert found[0].url == f"{fake.url}/data/{found[0].name}"
    assert len(searches) == 1  # earthaccess asks for pages of 2000
    query = searches[0][0]
    assert "short_name=SPL4SMGP" in query and "version=008" in query and "page_size=2000" in query
    assert "bounding_box=115.0,41.0,117.0,43.0" in query
    assert "temporal%5B%5D=2023-06-01T00:00:00Z,2023-06-03T23:59:59Z" in query
    assert "authorization" not in searches[0][1]  # not logged in: an anonymous search


def test_search_follows_cmr_search_after_paging():
    many = [FakeGranule("SPL4SMGP", "008", dt.datetime(2023, 1, 1) + dt.timedelta(hours=3 * i),
                        f"SMAP_L4_{i:05d}.h5", b"") for i in range(2105)]
    with FakeEarthdata(many) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 1, 1), dt.date(2023, 12, 31), (0, 0, 1, 1),
                                 cmr_url=fake.url)
        searches = fake.requests_to("/search/")
    assert [g.name for g in found] == [g.name for g in many]
    assert len(searches) == 2
    assert "cmr-search-after" not in searches[0][1]
    assert searches[1][1]["cmr-search-after"] == '[2000, "G2000-NSIDC_CPRD"]'
    with FakeEarthdata(many) as fake, pytest.raises(InputError, match="More than 2000 SPL4SMGP granules match"):
        earthdata.search("SPL4SMGP", dt.date(2023, 1, 1), dt.date(2023, 12, 31), (0, 0, 1, 1), cmr_url=fake.url,
                         limit=2000)


def test_search_errors_are_named(tmp_path):
    with FakeEarthdata(_granules()) as fake:
        with pytest.raises(InputError, match=r"no SPL4SMGP version 008 granule over the area between 2019-01-01"):
            earthdata.search("SPL4SMGP", dt.date(2019, 1, 1), dt.date(2019, 1, 2), (0, 0, 1, 1), cmr_url=fake.url)
        stale = earthdata.login(token="stale-token-987", cmr_url=fake.url)
        refused = r"CMR refused the search: Token does not exist\. The Earthdata Login token is not valid \(tokens"
        with pytest.raises(earthdata.EarthdataError, match=refused) as err:
            earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 2), (0, 0, 1, 1), auth=stale)
        assert "stale-token-987" not in str(err.value)
        assert fake.requests_to("/search/")[-1][1]["authorization"] == "Bearer stale-token-987"
    with pytest.raises(earthdata.EarthdataError, match="cannot be reached"):
        earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 2), (0, 0, 1, 1),
                         cmr_url="http://127.0.0.1:9")


def test_download_authenticates_only_at_the_data_endpoint_and_caches(tmp_path):
    with FakeEarthdata(_granules()) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 1), (0, 0, 1, 1), cmr_url=fake.url)
        seen = []
        paths = earthdata.download(found, str(tmp_path / "cache"), TOKEN, progress=seen.append)
        assert [open(p, "rb").read() for p in paths] == [g.data for g in _granules()[:2]]
        assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
        assert all(h.get("authorization") == f"Bearer {TOKEN}" for _, h in fake.requests_to("/data/"))
        assert all("authorization" not in h for _, h in fake.requests_to("/s3/"))  # never sent on to storage
        n = len(fake.requests)
        again = earthdata.download(found, str(tmp_path / "cache"), TOKEN)
        assert again == paths and len(fake.requests) == n  # complete files are not fetched again
    assert not [f for f in os.listdir(tmp_path / "cache") if f.endswith(".partial")]


def test_dropped_connection_resumes_with_a_range_request(tmp_path):
    with FakeEarthdata(_granules(1), drop_after=100_000, drops=1) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 1), (0, 0, 1, 1), cmr_url=fake.url)
        logs = []
        (path,) = earthdata.download(found, str(tmp_path), TOKEN, log=logs.append, backoff=0.01)
        ranges = [h.get("range") for _, h in fake.requests_to("/s3/")]
    assert open(path, "rb").read() == _granules(1)[0].data
    assert ranges == [None, "bytes=100000-"]
    assert any("resuming after 100,000 bytes" in m for m in logs)


def test_killed_download_resumes_and_partial_files_are_never_used(tmp_path):
    g = _granules(1)[0]
    with FakeEarthdata([g]) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 1), (0, 0, 1, 1), cmr_url=fake.url)
        (tmp_path / (g.name + ".partial")).write_bytes(g.data[:123_456])  # what a killed QGIS left behind
        (path,) = earthdata.download(found, str(tmp_path), TOKEN)
        assert open(path, "rb").read() == g.data
        assert [h.get("range") for _, h in fake.requests_to("/s3/")] == ["bytes=123456-"]
        # a partial file with wrong bytes fails the checksum: removed, nothing under the final name
        os.remove(path)
        (tmp_path / (g.name + ".partial")).write_bytes(b"\0" * 1000)
        with pytest.raises(earthdata.EarthdataError, match="MD5 checksum differs from NASA's"):
            earthdata.download(found, str(tmp_path), TOKEN)
        assert not os.path.exists(path) and not os.path.exists(path + ".partial")


def test_bad_or_missing_token(tmp_path):
    with FakeEarthdata(_granules(1)) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 1), (0, 0, 1, 1), cmr_url=fake.url)
        with pytest.raises(earthdata.EarthdataError, match=r"refused the credentials \(HTTP 401\)") as err:
            earthdata.download(found, str(tmp_path), "wrong-secret-token")
        assert "wrong-secret-token" not in str(err.value)
        with pytest.raises(InputError, match="needs an Earthdata Login token"):
            earthdata.download(found, str(tmp_path), None)
    assert os.listdir(tmp_path) == []


def test_cancel_keeps_the_partial_file_for_the_next_run(tmp_path):
    g = _granules(1, size=3_000_000)[0]
    with FakeEarthdata([g]) as fake:
        found = earthdata.search("SPL4SMGP", dt.date(2023, 6, 1), dt.date(2023, 6, 1), (0, 0, 1, 1), cmr_url=fake.url)
        calls = {"n": 0}

        def is_canceled():
            calls["n"] += 1
            return calls["n"] > 2

        with pytest.raises(Canceled, match="resumes on the next run"):
            earthdata.download(found, str(tmp_path), TOKEN, is_canceled=is_canceled)
        assert not os.path.exists(tmp_path / g.name) and os.path.getsize(tmp_path / (g.name + ".partial")) > 0
        (path,) = earthdata.download(found, str(tmp_path), TOKEN)
    assert open(path, "rb").read() == g.data
