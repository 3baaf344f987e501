"""Tests of nasrank.benchmarks.fetch: mirror, installed package and HTTP sources.

The HTTP tests run against a real server on 127.0.0.1 (``http.server`` in a thread) that
supports ``Range`` and can be told, request by request, to fail in the ways the network
does: a connection closed mid-body, a slow answer, a 5xx, a 404, an ignored ``Range``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from nasrank.benchmarks import fetch
from nasrank.benchmarks.fetch import download, fetch_benchmark, fetch_file, verify_dir
from nasrank.benchmarks.registry import NB_GRAPH_DATASETS, RemoteFile, get_benchmark
from nasrank.errors import ChecksumError, DownloadError, UnknownNameError
from nasrank.io import sha256_file

NBMACRO = get_benchmark("nbmacro").files[0]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _listing(path: Path) -> list[str]:
    """Every entry of ``path``, dot files included."""
    return sorted(os.listdir(path))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any HTTP request fail the test: the source under test must not need one."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected HTTP request {args} {kwargs}")

    monkeypatch.setattr(requests, "get", refuse)


# --- a real HTTP server ---------------------------------------------------------------


class Server:
    """State of the test server: files served, per-request faults, and a request log.

    ``plans[path]`` is a list of faults consumed one per request to ``path``:
    ``("truncate", n)`` sends the headers of the full answer but only ``n`` body bytes
    and closes the connection; ``("sleep", s)`` waits ``s`` seconds before answering;
    ``("status", code)`` answers ``code`` with an empty body; ``("norange",)`` ignores
    ``Range`` and sends the whole file with ``200``. Without a plan, the file is served
    normally, honouring ``Range``.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.plans: dict[str, list[tuple]] = {}
        self.log: list[dict[str, object]] = []
        self.stop = threading.Event()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        state: Server = self.server.state  # type: ignore[attr-defined]
        entry: dict[str, object] = {"path": self.path, "range": self.headers.get("Range")}
        state.log.append(entry)
        plan = state.plans.get(self.path) or []
        fault = plan.pop(0) if plan else ("ok",)
        data = state.files.get(self.path)
        try:
            if fault[0] == "sleep":
                state.stop.wait(fault[1])
            if fault[0] == "status" or data is None:
                status = fault[1] if fault[0] == "status" else 404
                entry["status"] = status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            rng = self.headers.get("Range")
            if rng and fault[0] != "norange":
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    entry["status"] = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                entry["status"] = 206
            else:
                self.send_response(200)
                entry["status"] = 200
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if fault[0] == "truncate":
                self.wfile.write(body[: fault[1]])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout test)


@pytest.fixture
def server() -> Iterator[Server]:
    """A threaded HTTP server on an ephemeral port of 127.0.0.1."""
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def payload(request: pytest.FixtureRequest) -> bytes:
    """Bytes of a real benchmark file (NAS-Bench-Macro) from the mirror.

    Where the mirror is absent, seeded random bytes of the same size stand in, so the
    HTTP tests still run.
    """
    try:
        mirror = request.getfixturevalue("mirror")
    except pytest.skip.Exception:
        return random.Random(0).randbytes(NBMACRO.size or 1 << 20)
    return (mirror / NBMACRO.mirror_path).read_bytes()


@pytest.fixture
def served(server: Server, payload: bytes) -> RemoteFile:
    """``payload`` served at ``/data/<name>``, registered like the NAS-Bench-Macro file."""
    path = f"/data/{NBMACRO.name}"
    server.files[path] = payload
    return dataclasses.replace(
        NBMACRO, url=server.url(path), sha256=_sha(payload), size=len(payload), mirror_path=None
    )


def _download(rf: RemoteFile, dest_dir: Path, **kwargs: object) -> str:
    opts: dict = {"timeout_s": 5.0, "retries": 0, "backoff_s": 0.001, "progress": False}
    opts.update(kwargs)
    return download(rf.url, dest_dir / rf.name, sha256=rf.sha256, size=rf.size, **opts)


# --- mirror -----------------------------------------------------------------------------


@pytest.mark.mirror
@pytest.mark.parametrize("bench", ["nbmacro", "nb101"])
def test_fetch_from_mirror_then_up_to_date(
    bench: str, mirror: Path, tmp_path: Path, no_network: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nasrank.fetch")
    files = get_benchmark(bench).files
    paths = fetch_benchmark(bench, tmp_path, mirror=mirror, progress=False)
    assert paths == [tmp_path / rf.name for rf in files]
    for rf, path in zip(files, paths, strict=True):
        assert sha256_file(path) == rf.sha256
        assert path.stat().st_size == rf.size
    assert _listing(tmp_path) == sorted(rf.name for rf in files)  # no temp files left
    assert sum("copied from mirror" in r.getMessage() for r in caplog.records) == len(files)
    assert verify_dir(bench, tmp_path) == []

    mtimes = {p: p.stat().st_mtime_ns for p in paths}
    time.sleep(0.01)
    caplog.clear()
    assert fetch_benchmark(bench, tmp_path, mirror=mirror, progress=False) == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == mtimes
    assert sum("up to date" in r.getMessage() for r in caplog.records) == len(files)
    assert not any("copied" in r.getMessage() for r in caplog.records)


def test_corrupt_mirror_is_checksum_error(tmp_path: Path, no_network: None) -> None:
    mirror = tmp_path / "mirror"
    src = mirror / NBMACRO.mirror_path
    src.parent.mkdir(parents=True)
    src.write_bytes(b'{"truncated": ')
    dest = tmp_path / "raw"
    with pytest.raises(ChecksumError) as info:
        fetch_benchmark("nbmacro", dest, mirror=mirror, progress=False)
    msg = str(info.value)
    assert str(src) in msg
    assert NBMACRO.sha256 in msg
    assert _sha(b'{"truncated": ') in msg
    assert "mirror" in msg and "corrupt" in msg
    assert info.value.expected == NBMACRO.sha256
    assert _listing(dest) == []  # neither the file nor a temp file


def test_stale_destination_is_replaced_from_mirror(tmp_path: Path, no_network: None) -> None:
    data = b"good bytes\n" * 100
    rf = RemoteFile("f.json", "http://invalid.test/f.json", _sha(data), len(data), "x/f.json")
    (tmp_path / "m" / "x").mkdir(parents=True)
    (tmp_path / "m" / "x" / "f.json").write_bytes(data)
    dest = tmp_path / "raw"
    dest.mkdir()
    (dest / "f.json").write_bytes(b"stale")
    assert _stale_names([rf], dest) == ["f.json"]
    assert fetch_file(rf, dest, mirror=tmp_path / "m", progress=False) == dest / "f.json"
    assert (dest / "f.json").read_bytes() == data
    assert _listing(dest) == ["f.json"]


def _stale_names(files: list[RemoteFile], dest: Path) -> list[str]:
    """verify_dir's rule for files that are not registered."""
    return [rf.name for rf in files if sha256_file(dest / rf.name) != rf.sha256]


def test_file_absent_from_mirror_falls_through_to_http(
    tmp_path: Path, served: RemoteFile, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nasrank.fetch")
    rf = dataclasses.replace(served, mirror_path="nowhere/" + served.name)
    (tmp_path / "mirror").mkdir()
    path = fetch_file(rf, tmp_path / "raw", mirror=tmp_path / "mirror", progress=False)
    assert sha256_file(path) == rf.sha256
    assert len(server.log) == 1
    assert any("downloaded from http://127.0.0.1" in r.getMessage() for r in caplog.records)


# --- installed package ------------------------------------------------------------------


def test_nbgraph_from_installed_package(
    tmp_path: Path, no_network: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nasrank.fetch")
    paths = fetch_benchmark("nbgraph", tmp_path, progress=False)
    assert [p.name for p in paths] == [f"{d}.bench" for d in NB_GRAPH_DATASETS]
    for rf, path in zip(get_benchmark("nbgraph").files, paths, strict=True):
        assert sha256_file(path) == rf.sha256
        assert path.stat().st_size == rf.size
    assert _listing(tmp_path) == sorted(p.name for p in paths)
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("installed distribution nas-bench-graph 1.4.0" in m for m in msgs) == 9

    assert verify_dir("nbgraph", tmp_path) == []
    (tmp_path / "cora.bench").unlink()
    with open(tmp_path / "pubmed.bench", "r+b") as f:
        f.seek(1000)
        f.write(b"\0")
    assert verify_dir("nbgraph", tmp_path) == ["cora.bench", "pubmed.bench"]


def test_package_source_does_not_import_the_package(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from nasrank.benchmarks.fetch import fetch_file\n"
        "from nasrank.benchmarks.registry import get_benchmark\n"
        "rf = get_benchmark('nbgraph').file('proteins.bench')\n"
        f"fetch_file(rf, Path({str(tmp_path)!r}), progress=False)\n"
        "assert 'nas_bench_graph' not in sys.modules, 'package was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert (tmp_path / "proteins.bench").is_file()


def test_package_not_installed_says_what_to_install(tmp_path: Path, no_network: None) -> None:
    rf = RemoteFile(
        "x.bench",
        "https://pypi.org/project/nasrank-no-such-dist/9.9.1/",
        "0" * 64,
        package=("nasrank-no-such-dist", "pkg/x.bench"),
    )
    with pytest.raises(DownloadError, match=r"pip install nasrank-no-such-dist==9\.9\.1"):
        fetch_file(rf, tmp_path, progress=False)
    missing = dataclasses.replace(rf, package=("nas-bench-graph", "nas_bench_graph/nope.bench"))
    with pytest.raises(DownloadError, match=r"has no nas_bench_graph/nope\.bench"):
        fetch_file(missing, tmp_path, progress=False)
    assert _listing(tmp_path) == []


# --- HTTP -------------------------------------------------------------------------------


def test_http_download(
    tmp_path: Path, served: RemoteFile, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nasrank.fetch")
    path = fetch_file(served, tmp_path, progress=False)
    assert path == tmp_path / served.name
    assert sha256_file(path) == served.sha256
    assert _listing(tmp_path) == [served.name]
    assert server.log == [{"path": f"/data/{served.name}", "range": None, "status": 200}]
    assert any(f"downloaded from {served.url}" in r.getMessage() for r in caplog.records)


def test_http_progress_bar_on_stderr(
    tmp_path: Path, served: RemoteFile, capsys: pytest.CaptureFixture[str]
) -> None:
    _download(served, tmp_path, progress=True)
    err = capsys.readouterr().err
    assert served.name in err and "B/s" in err


def test_http_resume_after_interrupted_transfer(
    tmp_path: Path, served: RemoteFile, server: Server, payload: bytes
) -> None:
    path = f"/data/{served.name}"
    cut = 300_000
    server.plans[path] = [("truncate", cut)]
    part = tmp_path / f".{served.name}.part"
    with pytest.raises(DownloadError) as info:
        _download(served, tmp_path)
    assert served.url in str(info.value) and "1 attempt" in str(info.value)
    assert str(part) in str(info.value)  # the message says the partial file is kept
    # Whole chunks received before the cut are kept (the chunk in flight is lost).
    kept = part.read_bytes()
    assert 0 < len(kept) <= cut
    assert kept == payload[: len(kept)]
    assert not (tmp_path / served.name).exists()

    assert _download(served, tmp_path) == served.sha256
    assert [(e["range"], e["status"]) for e in server.log] == [
        (None, 200),
        (f"bytes={len(kept)}-", 206),
    ]
    assert (tmp_path / served.name).read_bytes() == payload
    assert _listing(tmp_path) == [served.name]


def test_http_resume_within_one_call(
    tmp_path: Path, served: RemoteFile, server: Server, payload: bytes
) -> None:
    server.plans[f"/data/{served.name}"] = [("truncate", 200_000)]
    assert _download(served, tmp_path, retries=2) == served.sha256
    assert [e["status"] for e in server.log] == [200, 206]
    second = server.log[1]["range"]
    assert isinstance(second, str) and 0 < int(second[len("bytes=") : -1]) <= 200_000
    assert (tmp_path / served.name).read_bytes() == payload
    assert _listing(tmp_path) == [served.name]


def test_http_server_ignoring_range_restarts_from_zero(
    tmp_path: Path, served: RemoteFile, server: Server, payload: bytes
) -> None:
    # A stale partial file whose bytes would corrupt the result if appended to.
    (tmp_path / f".{served.name}.part").write_bytes(b"X" * 5000)
    server.plans[f"/data/{served.name}"] = [("norange",)]
    assert _download(served, tmp_path) == served.sha256
    assert [(e["range"], e["status"]) for e in server.log] == [("bytes=5000-", 200)]
    assert (tmp_path / served.name).read_bytes() == payload


def test_http_complete_partial_file_is_kept_on_416(
    tmp_path: Path, served: RemoteFile, server: Server, payload: bytes
) -> None:
    (tmp_path / f".{served.name}.part").write_bytes(payload)
    assert _download(served, tmp_path) == served.sha256
    assert [e["status"] for e in server.log] == [416]
    assert _listing(tmp_path) == [served.name]


def test_http_wrong_checksum_leaves_nothing(
    tmp_path: Path, served: RemoteFile, server: Server, payload: bytes
) -> None:
    wrong = dataclasses.replace(served, sha256="ab" * 32)
    with pytest.raises(ChecksumError) as info:
        fetch_file(wrong, tmp_path, progress=False)
    msg = str(info.value)
    assert served.name in msg and "ab" * 32 in msg and _sha(payload) in msg
    assert info.value.actual == _sha(payload)
    assert _listing(tmp_path) == []  # no file, no partial file


def test_http_404_fails_without_retrying(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(fetch.time, "sleep", sleeps.append)
    rf = RemoteFile("gone.json", server.url("/data/gone.json"), "0" * 64)
    with pytest.raises(DownloadError) as info:
        fetch_file(rf, tmp_path, retries=3, backoff_s=0.001, progress=False)
    assert rf.url in str(info.value) and "404" in str(info.value)
    assert len(server.log) == 1
    assert sleeps == []


def test_http_timeout_is_retried_then_fails(
    tmp_path: Path, served: RemoteFile, server: Server
) -> None:
    server.plans[f"/data/{served.name}"] = [("sleep", 10.0)] * 3
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        _download(served, tmp_path, timeout_s=0.5, retries=2, backoff_s=0.01)
    elapsed = time.monotonic() - start
    msg = str(info.value)
    assert served.url in msg and "3 attempts" in msg and "timed out" in msg.lower()
    assert len(server.log) == 3
    assert 1.4 < elapsed < 5.0  # three 0.5 s timeouts, not the server's 10 s
    assert not (tmp_path / served.name).exists()


def test_http_5xx_and_429_are_retried_with_backoff(
    tmp_path: Path, served: RemoteFile, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(fetch.time, "sleep", sleeps.append)
    server.plans[f"/data/{served.name}"] = [("status", 503), ("status", 429), ("status", 500)]
    assert _download(served, tmp_path, retries=3, backoff_s=0.25) == served.sha256
    assert [e["status"] for e in server.log] == [503, 429, 500, 200]
    assert sleeps == [0.25, 0.5, 1.0]
    assert _listing(tmp_path) == [served.name]


def test_http_5xx_exhausting_retries(
    tmp_path: Path, served: RemoteFile, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(fetch.time, "sleep", sleeps.append)
    server.plans[f"/data/{served.name}"] = [("status", 502)] * 3
    with pytest.raises(DownloadError) as info:
        _download(served, tmp_path, retries=2, backoff_s=1.0)
    assert served.url in str(info.value) and "3 attempts" in str(info.value)
    assert "502" in str(info.value)
    assert sleeps == [1.0, 2.0]
    assert len(server.log) == 3


def test_unpinned_file_is_refused(tmp_path: Path, served: RemoteFile, server: Server) -> None:
    rf = dataclasses.replace(served, sha256=None)
    with pytest.raises(DownloadError, match="--accept-unpinned"):
        fetch_file(rf, tmp_path, progress=False)
    assert server.log == []
    assert _listing(tmp_path) == []


def test_unpinned_file_accepted_logs_its_hash(
    tmp_path: Path, served: RemoteFile, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    rf = dataclasses.replace(served, sha256=None)
    path = fetch_file(rf, tmp_path, accept_unpinned=True, progress=False)
    assert sha256_file(path) == served.sha256
    assert any(
        r.levelno == logging.WARNING and served.sha256 in r.getMessage() for r in caplog.records
    )


def test_unknown_benchmark(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="nbmacro"):
        fetch_benchmark("nb999", tmp_path)
