"""Get a manifest's upstream files onto disk and verify them: from the mirrors, a `--from` URL or a
`--from` folder.

Downloads stream to `downloads/<file>.part`, resume with an HTTP `Range` request where the server
allows it, and are verified (size, then sha256) before they are renamed to their cache name. An
HTML page served with status 200 in place of a binary is detected and refused.

Offline is decided fast: before downloading, every mirror host is probed in parallel (a HEAD request
with a 3 s timeout; the whole probe waits at most `PROBE_BUDGET` seconds), so a machine with no
route fails in seconds with an `OfflineError` that says which `--from` command to run. Transient
failures during a transfer (timeouts, resets, HTTP 5xx) are retried a bounded number of times,
resuming the partial file.

A file whose sha256 differs from the manifest is accepted only through `--from`, with a warning
showing both hashes; the mismatch is recorded in the dataset's provenance. No TensorFlow here.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shlex
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, getproxies, urlopen, url2pathname

from modelzoo import __version__, paths, ui
from modelzoo.datasets.manifest import FileSpec, Manifest
from modelzoo.datasets.store import downloads_dir, now_iso, read_json, write_json
from modelzoo.errors import ChecksumError, DataError, OfflineError

CONNECT_TIMEOUT = 3.0  # seconds, per probe (DNS + TCP + TLS + HEAD)
PROBE_BUDGET = 4.0  # seconds the parallel probe of all hosts may take in total
READ_TIMEOUT = 20.0  # seconds without a byte before a transfer counts as stalled
RETRY_DELAYS = (0.25, 1.0)  # one retry per delay, for transient failures, resuming the file
CHUNK = 1 << 20
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
USER_AGENT = f"modelzoo/{__version__} (+https://github.com/; dataset downloader)"


# --------------------------------------------------------------------------- results


@dataclass
class Resolved:
    """A verified local copy of one upstream file and where it came from."""

    filename: str
    path: Path
    origin: str  # the URL it was downloaded from, or the local path it was read from
    kind: str  # "url" (downloaded now), "cache" (downloaded before), "local" (--from folder)
    sha256: str
    size: int
    expected_sha256: str | None
    expected_size: int | None
    matched: bool | None  # None: the manifest has no checksum for this input

    def record(self) -> dict:
        rec = {"file": self.filename, "source": self.origin, "kind": self.kind,
               "sha256": self.sha256, "size": self.size,
               "expected_sha256": self.expected_sha256, "expected_size": self.expected_size,
               "checksum_matched": self.matched}
        if self.matched is False:
            rec["accepted_via"] = "--from"
        return rec


@dataclass(frozen=True)
class Source:
    """A parsed `--from` value: a base URL or a local path."""

    raw: str
    url: str | None = None
    path: Path | None = None


def parse_source(source: str | os.PathLike | None) -> Source | None:
    if source is None or str(source) == "":
        return None
    raw = str(source)
    scheme = urlsplit(raw).scheme.lower()
    if scheme in ("http", "https"):
        return Source(raw, url=raw.rstrip("/") + "/")
    if scheme == "file":
        raw_path = url2pathname(urlsplit(raw).path)
        return parse_source(raw_path)
    path = Path(raw).expanduser().resolve()
    if not path.exists():
        raise DataError(f"--from {raw}: no such file or folder.",
                        fix="Pass a folder holding the upstream files, the archive itself, or "
                            "the base URL of a mirror (http:// or https://).")
    return Source(raw, path=path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_command(name: str, data_dir: Path, source: str | None = "DIR") -> str:
    """The exact `modelzoo download` command for `name` (with --data-dir when not the default)."""
    cmd = f"modelzoo download --dataset {name}"
    if Path(data_dir).resolve() != paths.data_dir():
        cmd += f" --data-dir {shlex.quote(str(data_dir))}"
    if source:
        cmd += f" --from {source if source == 'DIR' else shlex.quote(str(source))}"
    return cmd


# --------------------------------------------------------------------------- local files


def local_candidates(manifest: Manifest, folder: Path, filename: str) -> list[Path]:
    dirs = [folder] + [folder / d for d in dict.fromkeys((manifest.name, *manifest.source_dirs))]
    names = [filename] + ([filename[:-3]] if filename.endswith(".gz") else [])
    return [d / n for d in dirs for n in names]


def find_local(manifest: Manifest, path: Path, specs=None) -> dict[str, Path] | None:
    """Map each upstream file name to a file under `path` (a folder, or one of the files);
    None when any is missing."""
    specs = list(specs if specs is not None else manifest.files)
    found: dict[str, Path] = {}
    if path.is_file():
        names = [s.filename for s in specs]
        if path.name in names or (path.name + ".gz") in names:
            key = path.name if path.name in names else path.name + ".gz"
            found[key] = path
        elif len(specs) == 1:
            found[specs[0].filename] = path
        path = path.parent
    for spec in specs:
        if spec.filename in found:
            continue
        hit = next((c for c in local_candidates(manifest, path, spec.filename) if c.is_file()),
                   None)
        if hit is None:
            return None
        found[spec.filename] = hit
    return found


def verify_local(manifest: Manifest, spec: FileSpec, path: Path) -> Resolved:
    """Hash a `--from` file; a mismatch is accepted with a warning showing both hashes."""
    size = path.stat().st_size
    got = sha256_file(path)
    matched = got == spec.sha256 and size == spec.size
    if not matched:
        ui.warn(f"{path}: sha256 {got} ({size:,} bytes) differs from the manifest's "
                  f"{spec.sha256} ({spec.size:,} bytes) for {spec.filename} in {manifest.where}. "
                  "Accepted because it came through --from; recorded as unverified in "
                  "provenance.json.")
    return Resolved(spec.filename, path, str(path), "local", got, size, spec.sha256, spec.size,
                    matched)


def resolve_local(manifest: Manifest, path: Path, data_dir: Path, specs=None) -> list[Resolved]:
    specs = list(specs if specs is not None else manifest.files)
    found = find_local(manifest, path, specs)
    if found is None:
        folder = path if path.is_dir() else path.parent
        missing = [s.filename for s in specs
                   if not any(c.is_file() for c in local_candidates(manifest, folder, s.filename))]
        looked = ", ".join(str(d) for d in dict.fromkeys(
            c.parent for c in local_candidates(manifest, folder, specs[0].filename)))
        raise DataError(
            f"--from {path}: {', '.join(missing)} not found (looked in {looked}). The "
            f"{manifest.name} files are: {', '.join(s.filename for s in specs)}.",
            fix=f"Put those files in one folder and run "
                f"`{download_command(manifest.name, data_dir)}`.")
    return [verify_local(manifest, s, found[s.filename]) for s in specs]


# --------------------------------------------------------------------------- HTTP


class _Failure(Exception):
    """One failed attempt at one URL."""

    def __init__(self, url: str, reason: str, status: int | None = None, *,
                 transient: bool = False, host_down: bool = False):
        super().__init__(reason)
        self.url, self.reason, self.status = url, reason, status
        self.transient, self.host_down = transient, host_down

    def line(self) -> str:
        status = f"HTTP {self.status}: " if self.status else ""
        return f"{self.url} ({status}{self.reason})"


def _reason(exc: BaseException) -> tuple[str, bool]:
    """(a short human reason, whether it means the host cannot be reached at all)."""
    inner = exc.reason if isinstance(exc, URLError) and not isinstance(exc, HTTPError) else exc
    if isinstance(inner, socket.gaierror):
        return "cannot resolve the host name", True
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return "no answer in time", True
    if isinstance(inner, ssl.SSLError):
        return f"TLS error: {inner}", True
    if isinstance(inner, OSError) and inner.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH,
                                                      errno.ENETDOWN, errno.EHOSTDOWN):
        return "no route to host", True
    if isinstance(inner, ConnectionError):
        return f"connection failed: {inner}", False
    return str(inner) or type(inner).__name__, False


def _host(url: str) -> str:
    """The host:port a request to `url` really goes to (its proxy, when one is configured)."""
    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    no_proxy = os.environ.get("no_proxy", os.environ.get("NO_PROXY", ""))
    if proxy and not any(parts.hostname and parts.hostname.endswith(h.strip().lstrip("."))
                         for h in no_proxy.split(",") if h.strip()):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def probe(urls: list[str], budget: float = PROBE_BUDGET) -> dict[str, str | None]:
    """Probe each distinct host once, in parallel: host -> None if it answered, else why not.

    Any HTTP answer (even 403/405) counts as reachable; the whole probe takes at most `budget` s.
    """
    first_url: dict[str, str] = {}
    for url in urls:
        first_url.setdefault(_host(url), url)
    results: dict[str, str | None] = {}

    def check(host: str, url: str) -> None:
        req = Request(url, method="HEAD", headers={"User-Agent": USER_AGENT})
        try:
            with urlopen(req, timeout=CONNECT_TIMEOUT):
                pass
            results[host] = None
        except HTTPError:
            results[host] = None  # the server answered
        except Exception as exc:  # noqa: BLE001 - every failure is a reason to report
            results[host] = _reason(exc)[0]

    threads = [threading.Thread(target=check, args=item, daemon=True)
               for item in first_url.items()]
    deadline = time.monotonic() + budget
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return {host: results.get(host, f"no answer within {budget:.0f} s") for host in first_url}


def _looks_html(first: bytes) -> bool:
    head = first[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


def _stream(url: str, part: Path, *, expected_size: int | None, max_size: int | None,
            task) -> bool:
    """One attempt to fill `part` from `url`, resuming it when possible. True if it resumed."""
    start = part.stat().st_size if part.exists() else 0
    if start and expected_size is not None and start >= expected_size:
        part.unlink()  # too long to be a prefix of the file: start over
        start = 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urlopen(Request(url, headers=headers), timeout=READ_TIMEOUT)
    except HTTPError as exc:
        if exc.code == 416 and start:  # our partial file is not a prefix the server knows
            part.unlink(missing_ok=True)
            raise _Failure(url, "range not satisfiable; restarting", 416, transient=True) from exc
        raise _Failure(url, str(exc.reason), exc.code,
                       transient=exc.code in _TRANSIENT_STATUS) from exc
    except (URLError, OSError, http.client.HTTPException) as exc:
        reason, down = _reason(exc)
        raise _Failure(url, reason, transient=not down, host_down=down) from exc
    with resp:
        status = resp.status
        ctype = resp.headers.get("Content-Type", "") or ""
        resumed = False
        if start and status == 206:
            content_range = resp.headers.get("Content-Range", "")
            if not content_range.replace(" ", "").startswith(f"bytes{start}-"):
                part.unlink(missing_ok=True)
                raise _Failure(url, f"server sent the wrong range ({content_range!r})", status,
                               transient=True)
            resumed, mode = True, "ab"
        else:
            start, mode = 0, "wb"  # a 200 to a Range request: the server sends it all again
        length = resp.headers.get("Content-Length")
        expect_body = int(length) if length and length.isdigit() else None
        if resumed:
            task.update(start)
        written = 0
        try:
            with open(part, mode) as out:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    if written == 0 and not resumed and not url.lower().endswith((".html", ".htm")):
                        if "text/html" in ctype.lower() or _looks_html(chunk):
                            raise _Failure(
                                url, f"the server sent an HTML page (Content-Type: "
                                     f"{ctype or 'none'}) instead of the file; a login, error or "
                                     "captive-portal page", status)
                    out.write(chunk)
                    written += len(chunk)
                    task.advance(len(chunk))
                    if max_size is not None and start + written > max_size:
                        raise _Failure(url, f"sent more than the expected {max_size:,} bytes",
                                       status)
        except _Failure:
            part.unlink(missing_ok=True)
            raise
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout mid-transfer
            raise _Failure(url, f"transfer interrupted: {_reason(exc)[0]}", status,
                           transient=True) from exc
        if expect_body is not None and written != expect_body:
            raise _Failure(url, f"connection closed after {written:,} of {expect_body:,} bytes",
                           status, transient=True)
    return resumed


def _attempts(url: str, part: Path, spec: FileSpec, max_size: int | None) -> bool:
    """`_stream` with bounded retries for transient failures. True if any attempt resumed."""
    resumed = False
    label = (f"download {spec.filename}")
    with ui.progress(label, total=spec.size, bytes_=True) as task:
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                resumed = _stream(url, part, expected_size=max_size, max_size=max_size,
                                  task=task) or resumed
                return resumed
            except _Failure as failure:
                if not failure.transient or attempt == len(RETRY_DELAYS):
                    raise
                time.sleep(RETRY_DELAYS[attempt])
    return resumed


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def cached(data_dir: Path, spec: FileSpec) -> Resolved | None:
    """The verified cache copy of `spec`, if there is one."""
    path = downloads_dir(data_dir) / spec.filename
    if not path.is_file() or path.stat().st_size != spec.size:
        return None
    got = sha256_file(path)
    if got != spec.sha256:
        return None
    try:
        origin = read_json(_sidecar(path)).get("url", str(path))
    except DataError:
        origin = str(path)
    return Resolved(spec.filename, path, origin, "cache", got, spec.size, spec.sha256, spec.size,
                    True)


@dataclass
class _Mismatch:
    url: str
    kept: Path
    got: str
    size: int

    def line(self, spec: FileSpec) -> str:
        return (f"{self.url} gave {self.size:,} bytes with sha256 {self.got}, expected "
                f"{spec.size:,} bytes with sha256 {spec.sha256} (kept as {self.kept})")


def _download_one(manifest: Manifest, spec: FileSpec, urls: list[str], data_dir: Path,
                  dead: dict[str, str], allow_mismatch: bool) -> Resolved:
    folder = downloads_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (spec.filename + ".part")
    failures: list[_Failure] = []
    mismatches: list[_Mismatch] = []
    if part.is_file() and part.stat().st_size == spec.size and sha256_file(part) == spec.sha256:
        # a finished transfer whose rename was interrupted: no need to fetch it again
        final = folder / spec.filename
        os.replace(part, final)
        return Resolved(spec.filename, final, str(final), "cache", spec.sha256, spec.size,
                        spec.sha256, spec.size, True)
    for url in urls:
        host = _host(url)
        if host in dead:
            failures.append(_Failure(url, dead[host], host_down=True))
            continue
        for _fresh in (False, True):  # a resumed file that fails verification is fetched again
            try:
                resumed = _attempts(url, part, spec, None if allow_mismatch else spec.size)
            except _Failure as failure:
                failures.append(failure)
                if failure.host_down:
                    dead[host] = failure.reason
                break
            size, got = part.stat().st_size, sha256_file(part)
            if size == spec.size and got == spec.sha256:
                final = folder / spec.filename
                os.replace(part, final)
                write_json(_sidecar(final), {"url": url, "sha256": got, "size": size,
                                             "fetched": now_iso()})
                return Resolved(spec.filename, final, url, "url", got, size, spec.sha256,
                                spec.size, True)
            if resumed:
                part.unlink(missing_ok=True)
                continue
            if allow_mismatch:
                keep = folder / "unverified" / got[:12] / spec.filename
                keep.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part, keep)
                ui.warn(f"{url}: sha256 {got} ({size:,} bytes) differs from the manifest's "
                          f"{spec.sha256} ({spec.size:,} bytes) for {spec.filename} in "
                          f"{manifest.where}. Accepted because it came through --from; kept as "
                          f"{keep} and recorded as unverified in provenance.json.")
                return Resolved(spec.filename, keep, url, "url", got, size, spec.sha256,
                                spec.size, False)
            bad = folder / f"{spec.filename}.{got[:12]}.bad"
            os.replace(part, bad)
            mismatches.append(_Mismatch(url, bad, got, size))
            break
    command = download_command(manifest.name, data_dir)
    if mismatches:
        lines = "; ".join(m.line(spec) for m in mismatches)
        others = "; ".join(f.line() for f in failures)
        raise ChecksumError(
            f"{spec.filename} for {manifest.name} failed verification: {lines}."
            + (f" Other mirrors failed: {others}." if others else ""),
            fix=f"Try again later (a mirror may be serving a damaged copy). If the upstream file "
                f"really changed, check it yourself, then run `{command}` with a folder holding "
                f"it, or update the sha256 in {manifest.where}.")
    if failures and all(f.host_down for f in failures):
        raise _offline(manifest, [spec], failures, data_dir)
    raise DataError(
        f"Could not download {spec.filename} for {manifest.name}: "
        + "; ".join(f.line() for f in failures) + ".",
        fix=f"Check the URLs in {manifest.where}, or fetch {spec.filename} yourself and run "
            f"`{command}`.")


def _offline(manifest: Manifest, specs: list[FileSpec], failures: list[_Failure],
             data_dir: Path, elapsed: float | None = None) -> OfflineError:
    hosts: dict[str, str] = {}
    for f in failures:
        hosts.setdefault(urlsplit(f.url).netloc, f.reason)
    tried = "; ".join(f"{h} ({r})" for h, r in hosts.items())
    took = f" after {elapsed:.1f} s" if elapsed is not None else ""
    return OfflineError(
        f"Cannot download {manifest.name}: no mirror could be reached{took} (tried {tried}). "
        f"Expected files: {', '.join(s.filename for s in specs)}. On a machine without "
        f"internet, copy those files into a folder (their URLs and sha256 are in "
        f"{manifest.where}) and prepare the dataset from it.",
        fix=f"{download_command(manifest.name, data_dir)}")


def download_files(manifest: Manifest, data_dir: Path, specs=None, *,
                   base_url: str | None = None) -> list[Resolved]:
    """Each file of `specs` from the cache, else the mirrors (or only `base_url`, a `--from`
    mirror, whose mismatching files are accepted with a warning)."""
    specs = list(specs if specs is not None else manifest.files)
    out: dict[str, Resolved] = {}
    todo = []
    for spec in specs:
        hit = None if base_url else cached(data_dir, spec)
        if hit:
            out[spec.filename] = hit
        else:
            todo.append(spec)
    if todo:
        url_lists = {s.filename: ([base_url + s.filename] if base_url else list(s.urls))
                     for s in todo}
        started = time.monotonic()
        status = probe([u for urls in url_lists.values() for u in urls])
        dead = {h: r for h, r in status.items() if r is not None}
        if len(dead) == len(status):
            failures = [_Failure(u, dead[_host(u)], host_down=True)
                        for urls in url_lists.values() for u in urls]
            raise _offline(manifest, todo, failures, data_dir, time.monotonic() - started)
        for spec in todo:
            out[spec.filename] = _download_one(manifest, spec, url_lists[spec.filename],
                                               data_dir, dead, allow_mismatch=bool(base_url))
    return [out[s.filename] for s in specs]


def resolve(manifest: Manifest, source: Source | None, data_dir: Path,
            specs=None) -> list[Resolved]:
    """The verified upstream files for `manifest`, from `source` (a `--from`) or the mirrors."""
    if source is None:
        return download_files(manifest, data_dir, specs)
    if source.url:
        return download_files(manifest, data_dir, specs, base_url=source.url)
    return resolve_local(manifest, source.path, data_dir, specs)
