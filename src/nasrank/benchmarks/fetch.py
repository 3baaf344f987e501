"""Fetching the registered benchmark files into ``data/raw/<benchmark>/``.

Every file listed in :mod:`nasrank.benchmarks.registry` is taken from the first source
that has it, and must hash to its pinned SHA-256 whatever the source:

1. the destination itself, if it already holds the right bytes (nothing is copied);
2. the local mirror directory (``mirror / rf.mirror_path``), if one is given and has it;
3. the installed Python distribution that ships it (``rf.package``), located through
   its metadata without importing the package;
4. the pinned upstream ``rf.url``, over HTTP with timeouts, retries with exponential
   backoff, resumption of interrupted transfers and a progress bar.

Files land atomically: a failed or corrupt fetch never leaves a file under its final
name, so a later stage (or Snakemake/DVC) never takes half a download for done. The one
thing deliberately left behind is ``dest_dir/.<name>.part`` when every HTTP attempt
failed; the next call resumes from it with a ``Range`` request.

Usage::

    from pathlib import Path
    from nasrank.benchmarks.fetch import fetch_benchmark, verify_dir

    paths = fetch_benchmark("nb201", Path("data/raw/nb201"), mirror=Path("../shared/nasdata"))
    assert verify_dir("nb201", Path("data/raw/nb201")) == []

Each file's source is logged on the ``nasrank.fetch`` logger.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import requests
from tqdm import tqdm

from nasrank import __version__
from nasrank.benchmarks.registry import RemoteFile, get_benchmark
from nasrank.errors import ChecksumError, DownloadError
from nasrank.io import atomic_path, sha256_file

logger = logging.getLogger("nasrank.fetch")

HTTP_CHUNK = 1 << 16
USER_AGENT = f"nasrank/{__version__} (python-requests/{requests.__version__})"
MAX_RETRY_AFTER_S = 60.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class _RetryableError(Exception):
    """A failed HTTP attempt worth repeating (5xx, 429, short body)."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Errors of one attempt that a later attempt may not meet: network trouble, not the request.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    _RetryableError,
)


def fetch_benchmark(
    bench: str,
    dest_dir: Path,
    *,
    mirror: Path | None = None,
    timeout_s: float = 60.0,
    retries: int = 4,
    backoff_s: float = 2.0,
    accept_unpinned: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Fetch every registered file of ``bench`` into ``dest_dir``.

    Args:
        bench: registered benchmark name (``nb101``, ``nb201``, ...).
        dest_dir: destination directory, normally ``data/raw/<bench>``; created if needed.
        mirror: local mirror directory tried before the package and the network.
        timeout_s: HTTP connect and read timeout, in seconds.
        retries: HTTP retries after the first attempt.
        backoff_s: base of the exponential backoff between attempts.
        accept_unpinned: download files that upstream publishes no checksum for.
        progress: show a progress bar on stderr while downloading.

    Returns:
        The paths of the fetched files, in registry order.

    Raises:
        UnknownNameError: ``bench`` is not registered.
        ChecksumError: a source holds bytes that differ from the pinned hash.
        DownloadError: a file is available from no source.
    """
    benchmark = get_benchmark(bench)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    return [
        fetch_file(
            rf,
            dest_dir,
            mirror=mirror,
            timeout_s=timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            accept_unpinned=accept_unpinned,
            progress=progress,
        )
        for rf in benchmark.files
    ]


def fetch_file(
    rf: RemoteFile,
    dest_dir: Path,
    *,
    mirror: Path | None = None,
    timeout_s: float = 60.0,
    retries: int = 4,
    backoff_s: float = 2.0,
    accept_unpinned: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch one registered file to ``dest_dir / rf.name`` from the first source that has it.

    The sources are tried in the order of the module docstring. A mirror copy with the
    wrong hash is an error, not a reason to go to the network: a corrupt mirror must be
    repaired, not silently bypassed.

    Args:
        rf: the registered file.
        dest_dir: destination directory; created if needed.
        mirror, timeout_s, retries, backoff_s, accept_unpinned, progress: as in
            :func:`fetch_benchmark`.

    Returns:
        ``dest_dir / rf.name``, holding the pinned bytes.

    Raises:
        ChecksumError: the mirror, the installed package or the download holds other
            bytes than pinned; nothing is left under the destination name.
        DownloadError: ``rf.sha256`` is ``None`` and ``accept_unpinned`` is false; the
            package is not installed or lacks the file; or every HTTP attempt failed.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / rf.name

    if dest.is_file():
        actual = sha256_file(dest)
        if rf.sha256 is None:
            # Only ever created by a completed fetch, so whole; it cannot be verified.
            logger.info("%s: present (unpinned, not verified; SHA-256 %s)", rf.name, actual)
            return dest
        if actual == rf.sha256:
            logger.info("%s: up to date", rf.name)
            return dest
        logger.warning(
            "%s: existing file has SHA-256 %s, expected %s; fetching it again",
            rf.name,
            actual,
            rf.sha256,
        )

    if rf.sha256 is None and not accept_unpinned:
        raise DownloadError(
            f"{rf.name}: upstream publishes no checksum for {rf.url}, so its bytes cannot be "
            "verified. Pass accept_unpinned=True (CLI: --accept-unpinned) to download it "
            "anyway; the computed SHA-256 is then logged so it can be pinned in the registry."
        )

    if mirror is not None and rf.mirror_path is not None:
        src = Path(mirror) / rf.mirror_path
        if src.is_file():
            _copy_verified(src, dest, rf.sha256, "the mirror copy is corrupt; repair the mirror")
            logger.info("%s: copied from mirror %s", rf.name, src)
            return dest
        logger.debug("%s: not in mirror (%s)", rf.name, src)

    if rf.package is not None:
        src, version = _package_file(rf)
        dist = rf.package[0]
        _copy_verified(
            src,
            dest,
            rf.sha256,
            f"installed {dist} {version} differs from the pinned release; "
            f"pip install {dist}=={_pinned_version(rf) or '<pinned version>'}",
        )
        logger.info(
            "%s: copied from installed distribution %s %s (%s)", rf.name, dist, version, src
        )
        return dest

    actual = download(
        rf.url,
        dest,
        sha256=rf.sha256,
        size=rf.size,
        timeout_s=timeout_s,
        retries=retries,
        backoff_s=backoff_s,
        progress=progress,
    )
    logger.info("%s: downloaded from %s", rf.name, rf.url)
    if rf.sha256 is None:
        logger.warning(
            "%s: upstream publishes no checksum; the downloaded file has SHA-256 %s "
            "(pin it in nasrank/benchmarks/registry.py)",
            rf.name,
            actual,
        )
    return dest


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    size: int | None,
    timeout_s: float = 60.0,
    retries: int = 4,
    backoff_s: float = 2.0,
    progress: bool = True,
) -> str:
    """Download ``url`` to ``dest`` through ``dest.parent / f".{dest.name}.part"``.

    Bytes are streamed into the partial file; an existing partial file is resumed with a
    ``Range`` request (appended to on ``206``, restarted on ``200``); it holds every
    whole 64 KiB chunk received before a connection broke. Connection errors, timeouts,
    short bodies, ``5xx`` and ``429`` are retried ``retries`` times, sleeping
    ``backoff_s * 2**attempt`` (or the server's ``Retry-After``, up to a minute) after
    failed attempt ``attempt``; any other status fails at once. Only a complete file
    with the right hash is renamed onto ``dest``.

    Args:
        url: the URL to fetch.
        dest: final path of the file.
        sha256: expected hex SHA-256, or ``None`` to accept any bytes.
        size: expected size in bytes where known (progress bar total).
        timeout_s: connect and read timeout, in seconds.
        retries: retries after the first attempt.
        backoff_s: base of the exponential backoff.
        progress: show a tqdm progress bar on stderr.

    Returns:
        The SHA-256 of the downloaded file.

    Raises:
        ChecksumError: the complete download has another hash; the partial file is
            deleted, so the next call starts from scratch.
        DownloadError: a non-retryable status (e.g. 404), or every attempt failed. In
            the latter case the partial file is kept on purpose: the next call resumes it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.parent / f".{dest.name}.part"
    attempts = retries + 1
    last_error: BaseException | None = None
    restarted_after_416 = False
    attempt = 0
    while attempt < attempts:
        try:
            _attempt(url, part, size=size, timeout_s=timeout_s, progress=progress)
            break
        except _RangeNotSatisfiable:
            # The partial file is already whole (a crash between download and rename)
            # or longer than the file: keep it if its hash proves it whole, else restart.
            if sha256 is not None and sha256_file(part) == sha256:
                break
            if restarted_after_416:
                raise DownloadError(
                    f"{url}: server keeps answering 416 (range not satisfiable)"
                ) from None
            restarted_after_416 = True
            logger.warning("%s: server cannot resume partial file; restarting", dest.name)
            part.unlink(missing_ok=True)
            continue
        except _TRANSIENT as exc:
            last_error = exc
            if attempt + 1 < attempts:
                delay = max(backoff_s * 2**attempt, getattr(exc, "retry_after", 0.0))
                logger.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %.3g s",
                    url,
                    attempt + 1,
                    attempts,
                    _describe(exc),
                    delay,
                )
                time.sleep(delay)
        except requests.RequestException as exc:  # invalid URL, too many redirects, ...
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
        attempt += 1
    else:
        kept = part.stat().st_size if part.exists() else 0
        msg = (
            f"could not download {url} after {attempts} attempt{'s' * (attempts != 1)}; "
            f"last error: {_describe(last_error)}"
        )
        if kept:
            msg += f". The partial file {part} ({kept} bytes) is kept; run again to resume"
        raise DownloadError(msg)

    actual = sha256_file(part)
    if sha256 is not None and actual != sha256:
        part.unlink(missing_ok=True)
        raise _checksum_error(
            dest.name, sha256, actual, f"downloaded from {url}; the download was deleted"
        )
    os.chmod(part, 0o644)
    os.replace(part, dest)
    return actual


def verify_dir(bench: str, dest_dir: Path) -> list[str]:
    """Names of the registered files of ``bench`` missing from ``dest_dir`` or corrupt.

    Files without a pinned hash count as corrupt only when missing.

    Args:
        bench: registered benchmark name.
        dest_dir: directory the files were fetched into.

    Returns:
        The offending file names, in registry order; empty when all is well.

    Raises:
        UnknownNameError: ``bench`` is not registered.
    """
    bad = []
    for rf in get_benchmark(bench).files:
        path = Path(dest_dir) / rf.name
        if not path.is_file() or (rf.sha256 is not None and sha256_file(path) != rf.sha256):
            bad.append(rf.name)
    return bad


def check_raw(bench: str, raw_dir: Path) -> None:
    """Refuse raw files that are not the fetched bytes: every present file of ``bench``
    with a pinned SHA-256 must hash to it (missing files are left to the reader, which
    names them). Readers trust their input after this; the hash costs well under a second
    per benchmark (the raw files here are 1-16 MB).

    Raises:
        ChecksumError: naming the file, the pinned and the actual hash.
    """
    for rf in get_benchmark(bench).files:
        path = Path(raw_dir) / rf.name
        if rf.sha256 is None or not path.is_file():
            continue
        actual = sha256_file(path)
        if actual != rf.sha256:
            raise ChecksumError(str(path), rf.sha256, f"{actual} (edited or corrupt since "
                                f"fetch; delete it and run `nasrank fetch {bench}`)")


class _RangeNotSatisfiable(Exception):
    """The server answered 416 to a resume request."""


def _attempt(url: str, part: Path, *, size: int | None, timeout_s: float, progress: bool) -> None:
    """One HTTP request, streaming into (or appending to) ``part``.

    Raises:
        _RetryableError: 5xx, 429, or a body shorter than announced.
        _RangeNotSatisfiable: the server answered 416 to the resume request.
        DownloadError: any other unexpected status.
        requests.RequestException: network errors and timeouts, from requests.
    """
    offset = part.stat().st_size if part.exists() else 0
    # identity: the bytes on the wire are the file's bytes, so Range offsets mean bytes
    # of the file (a gzip-encoded response would be decoded by requests).
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with requests.get(url, headers=headers, stream=True, timeout=(timeout_s, timeout_s)) as r:
        status = r.status_code
        if status == 416 and offset:
            raise _RangeNotSatisfiable()
        if status == 429 or status >= 500:
            raise _RetryableError(f"HTTP {status} {r.reason}", _retry_after(r))
        if status not in (200, 206):
            raise DownloadError(f"{url}: HTTP {status} {r.reason}")
        total: int | None
        if status == 206:
            match = _CONTENT_RANGE.fullmatch(r.headers.get("Content-Range", "").strip())
            if match is None or int(match.group(1)) != offset:
                part.unlink(missing_ok=True)
                raise _RetryableError(
                    f"server answered a resume request with a wrong range "
                    f"({r.headers.get('Content-Range')!r}); restarting"
                )
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
            logger.info("%s: resuming at byte %d", part.name, offset)
        else:
            if offset:
                logger.info("%s: server ignored the range request; restarting", part.name)
            offset = 0
            length = r.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        with (
            open(part, mode) as f,
            tqdm(
                total=total or size,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name[1 : -len(".part")],
                file=sys.stderr,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for chunk in r.iter_content(HTTP_CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
        got = part.stat().st_size
        if total is not None and got < total:
            raise _RetryableError(f"connection closed after {got} of {total} bytes")


def _describe(exc: BaseException | None) -> str:
    """One line for a failed attempt: the message, prefixed by the requests error type."""
    if isinstance(exc, requests.RequestException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def _retry_after(r: requests.Response) -> float:
    """The server's ``Retry-After`` in seconds (numeric form only), capped."""
    value = r.headers.get("Retry-After", "")
    return min(float(value), MAX_RETRY_AFTER_S) if value.isdigit() else 0.0


def _copy_verified(src: Path, dest: Path, sha256: str | None, hint: str) -> None:
    """Copy ``src`` onto ``dest`` atomically; the copy must hash to ``sha256``.

    Raises:
        ChecksumError: naming ``src``; ``dest`` is left untouched and no temp file stays.
    """
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        actual = sha256_file(tmp)
        if sha256 is not None and actual != sha256:
            raise _checksum_error(str(src), sha256, actual, hint)


def _package_file(rf: RemoteFile) -> tuple[Path, str]:
    """The file ``rf.package`` names, in the installed distribution, and its version.

    Found through the distribution's metadata, so the package (and whatever it imports)
    is never imported.

    Raises:
        DownloadError: the distribution is not installed, or lacks the file.
    """
    assert rf.package is not None
    dist_name, relpath = rf.package
    install = f"pip install {dist_name}" + (f"=={v}" if (v := _pinned_version(rf)) else "")
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise DownloadError(
            f"{rf.name} ships in the Python distribution {dist_name}, which is not "
            f"installed; run `{install}`"
        ) from None
    path = Path(str(dist.locate_file(relpath)))
    if not path.is_file():
        raise DownloadError(
            f"{rf.name}: installed {dist_name} {dist.version} has no {relpath} "
            f"(looked at {path}); run `{install}`"
        )
    return path, dist.version


def _pinned_version(rf: RemoteFile) -> str | None:
    """The version pinned in a PyPI project URL (``.../project/<dist>/<version>/``)."""
    match = re.search(r"/project/[^/]+/([^/]+)/?$", rf.url)
    return match.group(1) if match else None


def _checksum_error(path: str, expected: str, actual: str, hint: str) -> ChecksumError:
    """A :class:`ChecksumError` whose message also says what to do about it."""
    err = ChecksumError(path, expected, actual)
    err.args = (f"{err.args[0]} ({hint})",)
    return err
