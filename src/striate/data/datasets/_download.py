"""Finding, downloading and verifying dataset files: cache, mirrors, SHA-256, atomic writes."""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

__all__ = [
    "Resource",
    "DatasetNotFoundError",
    "ChecksumError",
    "data_root",
    "search_dirs",
    "find_file",
    "verify",
    "download",
    "fetch",
]

ENV_VAR = "STRIATE_DATA"
DEFAULT_ROOT = "~/.cache/striate"
TIMEOUT = 30.0  # seconds without data before a mirror counts as unreachable
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is neither on disk nor downloadable; the message says where to put it."""


class ChecksumError(ValueError):
    """A dataset file's size or SHA-256 differs from the published file."""


@dataclass(frozen=True)
class Resource:
    """One published file: its name, SHA-256, size in bytes and (for reference) its MD5."""

    filename: str
    sha256: str
    size: int
    md5: str = ""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$STRIATE_DATA``, else ``~/.cache/striate``.

    >>> data_root("/tmp/d")
    PosixPath('/tmp/d')
    """
    if root is None:
        root = os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(root).expanduser()


def search_dirs(root, folder: str) -> list[Path]:
    """Where a dataset's files are looked for: ``<data root>/<folder>``, then the data root."""
    base = data_root(root)
    return [base / folder, base]


def find_file(filename: str, dirs: Sequence[Path]) -> Path | None:
    """The first ``dir/filename`` that is a file, or None."""
    for d in dirs:
        if (d / filename).is_file():
            return d / filename
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, resource: Resource) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the published size and SHA-256."""
    size = path.stat().st_size
    if size != resource.size:
        raise ChecksumError(
            f"{path}: {size} bytes, but the published {resource.filename} has {resource.size}; "
            f"the file is truncated or not the published one: delete it and download it again"
        )
    digest = _sha256(path)
    if digest != resource.sha256:
        raise ChecksumError(
            f"{path}: SHA-256 {digest} does not match the published {resource.filename} "
            f"({resource.sha256}); the file is corrupt: delete it and download it again"
        )


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fetch_url(url: str, resource: Resource, dest: Path) -> None:
    """Stream ``url`` into a temporary file beside ``dest``, check it, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{resource.filename}.", suffix=".part", dir=dest.parent)
    try:
        h, n = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) != resource.size:
                raise ChecksumError(
                    f"{url}: the server offers {declared} bytes, expected {resource.size} bytes "
                    f"with SHA-256 {resource.sha256}; the file was not saved"
                )
            # read at most one byte more than expected: a longer answer is wrong and must not
            # fill the disk
            while n <= resource.size:
                chunk = response.read(min(_CHUNK, resource.size + 1 - n))
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
                n += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if n < resource.size and declared is not None:
            raise ConnectionError(f"the transfer stopped after {n} of {resource.size} bytes")
        if n != resource.size or h.hexdigest() != resource.sha256:
            got = f"{n} bytes" if n != resource.size else f"SHA-256 {h.hexdigest()}"
            raise ChecksumError(
                f"{url}: download has {got}, expected {resource.size} bytes with SHA-256 "
                f"{resource.sha256}; the file was not saved"
            )
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(
    resource: Resource,
    mirrors: Sequence[str],
    dest_dir: Path,
    dataset: str = "",
    searched: Sequence[Path] = (),
) -> Path:
    """Download ``resource`` from the first mirror that serves the right bytes into ``dest_dir``.

    Raises:
        ChecksumError: a mirror answered with different bytes (nothing is left in ``dest_dir``).
        DatasetNotFoundError: no mirror could be reached.
    """
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetNotFoundError(
            f"{dataset} file {resource.filename} cannot be downloaded: cannot create "
            f"{dest_dir} ({e.strerror or e})"
        ) from None
    failures, bad = [], []
    for base in mirrors:
        url = base.rstrip("/") + "/" + resource.filename
        print(f"striate: downloading {url} to {dest_dir}", file=sys.stderr)
        try:
            _fetch_url(url, resource, dest_dir / resource.filename)
            return dest_dir / resource.filename
        except ChecksumError as e:
            bad.append(e)
        except urllib.error.HTTPError as e:
            failures.append(f"{url}: HTTP {e.code} {e.reason}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', None) or e or type(e).__name__}")
    if bad:
        raise bad[0]
    raise DatasetNotFoundError(
        f"{dataset} file {resource.filename} is not in "
        f"{' or '.join(map(str, searched or [dest_dir]))} "
        f"and could not be downloaded "
        f"({'; '.join(failures) or 'no mirrors'}); download it from {_url(mirrors, resource)} "
        f"and put it in {dest_dir}"
    )


def _url(mirrors: Sequence[str], resource: Resource) -> str:
    return (mirrors[0].rstrip("/") + "/" if mirrors else "") + resource.filename


def fetch(
    resource: Resource,
    *,
    dataset: str,
    folder: str,
    root=None,
    mirrors: Sequence[str] = (),
    download_missing: bool = True,
) -> Path:
    """The verified local path of ``resource``: found in the data folders, else downloaded."""
    dirs = search_dirs(root, folder)
    path = find_file(resource.filename, dirs)
    if path is not None:
        verify(path, resource)
        return path
    if not download_missing:
        raise DatasetNotFoundError(
            f"{dataset} file {resource.filename} not found in {dirs[0]} or {dirs[1]}; "
            "download it from "
            f"{_url(mirrors, resource)} (or pass download=True) and put it in {dirs[0]}"
        )
    return download(resource, mirrors, dirs[0], dataset, searched=dirs)
