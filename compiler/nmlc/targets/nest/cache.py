"""Content-hash cache of built NEST extension modules.

A built module lives in ``<root>/<key>/`` together with the sources it was
built from. Building a key happens at most once across processes: a file lock
per key serialises builders, the build runs in a private temporary folder, and
the finished folder is renamed into place, so readers never see a half-built
module and a failed build leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

# A key becomes a folder name; keep it to characters that are safe everywhere.
_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Names the relative path of the finished .so inside a key's folder; written last.
_MANIFEST = "BUILT"
# Builds that take longer than this while another process waits are treated as hung.
_LOCK_TIMEOUT_S = 3600.0


def cache_dir() -> Path:
    """Return nmlc's cache root: ``$NMLC_CACHE_DIR``, else ``$XDG_CACHE_HOME/nmlc``, else ``~/.cache/nmlc``.

    The folder is not created here.
    """
    explicit = os.environ.get("NMLC_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "nmlc"


def content_hash(*parts: str | bytes) -> str:
    """Return the sha256 hex digest of ``parts``.

    Each part is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")`` hash
    differently. Strings are hashed as UTF-8; ``"x"`` and ``b"x"`` hash alike.
    """
    digest = hashlib.sha256()
    for index, part in enumerate(parts):
        if isinstance(part, str):
            data = part.encode("utf-8")
        elif isinstance(part, (bytes, bytearray, memoryview)):
            data = bytes(part)
        else:
            raise TypeError(f"content_hash: part {index} is {type(part).__name__}, expected str or bytes")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class ModuleCache:
    """Built modules stored under ``root``, one folder per key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _check_key(self, key: str) -> None:
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValueError(
                f"invalid module cache key {key!r}: use 1-128 characters from [A-Za-z0-9_.-], "
                "not starting with '.' or '-' (for example a content_hash())"
            )

    def _entry(self, key: str) -> Path:
        return self.root / key

    def lookup(self, key: str) -> Path | None:
        """Return the path of the built ``.so`` for ``key``, or None if it was not built yet."""
        self._check_key(key)
        entry = self._entry(key)
        try:
            relative = (entry / _MANIFEST).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        so_path = entry / relative
        return so_path if relative and so_path.is_file() else None

    def build(self, key: str, make: Callable[[Path], Path]) -> Path:
        """Return the ``.so`` for ``key``, calling ``make`` to build it if it is missing.

        ``make(tmp_dir)`` must build the module inside ``tmp_dir`` and return the
        path of the ``.so`` there. Concurrent callers with the same key (threads or
        processes) wait for one another: exactly one of them calls ``make``. If
        ``make`` raises, its exception propagates and nothing is stored.
        """
        self._check_key(key)
        found = self.lookup(key)
        if found is not None:
            return found

        self.root.mkdir(parents=True, exist_ok=True)
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(exist_ok=True)
        lock = FileLock(str(lock_dir / f"{key}.lock"), timeout=_LOCK_TIMEOUT_S)
        try:
            with lock:
                # Another process may have finished while we waited for the lock.
                found = self.lookup(key)
                if found is not None:
                    return found
                return self._build_locked(key, make)
        except Timeout:
            raise TimeoutError(
                f"waited {_LOCK_TIMEOUT_S:.0f} s for another process building module {key!r} in "
                f"{self.root}; if no build is running, delete {lock_dir / (key + '.lock')}"
            ) from None

    def _build_locked(self, key: str, make: Callable[[Path], Path]) -> Path:
        self._remove_stale_tmp(key)
        tmp_dir = Path(tempfile.mkdtemp(prefix=self._tmp_prefix(key), dir=self.root))
        try:
            so_path = Path(make(tmp_dir))
            if not so_path.is_absolute():
                so_path = tmp_dir / so_path
            try:
                relative = so_path.resolve().relative_to(tmp_dir.resolve())
            except ValueError:
                raise ValueError(
                    f"module cache: make() returned {so_path}, which is not inside its build folder {tmp_dir}"
                ) from None
            if not so_path.is_file():
                raise FileNotFoundError(f"module cache: make() returned {so_path}, which does not exist")

            (tmp_dir / _MANIFEST).write_text(relative.as_posix() + "\n", encoding="utf-8")
            entry = self._entry(key)
            if entry.exists():
                # Left over without a manifest (an interrupted copy by hand, say): replace it.
                shutil.rmtree(entry)
            # mkdtemp made the folder private (0700); make it readable like a normal folder
            # (reading the umask would mean changing it, which races with other threads).
            tmp_dir.chmod(0o755)
            # Renaming a folder is atomic on one file system: readers see all or nothing.
            os.rename(tmp_dir, entry)
            return entry / relative
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise

    @staticmethod
    def _tmp_prefix(key: str) -> str:
        # '@' cannot occur in a key, so one key's prefix never matches another key's folders.
        return f".tmp-{key}@"

    def _remove_stale_tmp(self, key: str) -> None:
        # Called under the key's lock: no live builder owns these folders, they are
        # what a builder that crashed or was killed left behind.
        for path in self.root.glob(self._tmp_prefix(key) + "*"):
            shutil.rmtree(path, ignore_errors=True)
