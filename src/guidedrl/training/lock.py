"""One owner per run directory: ``run.lock``, held with ``fcntl.flock`` for as long as a run trains.

The lock is taken before anything else is written and released when the run ends, however it
ends; the kernel drops it when the owner dies, so a lock file left by a dead process is simply
taken over. The file holds the owner's pid, which a refused process names. The file itself is
never removed: unlinking a lock file others may be waiting on would let two owners in.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Optional

from guidedrl.errors import RunLockedError

LOCK = "run.lock"


class RunLock:
    """``with RunLock(directory):`` owns ``directory`` (created if missing) or raises
    :class:`~guidedrl.errors.RunLockedError` naming the owner's pid."""

    def __init__(self, directory: os.PathLike, what: str = "run directory"):
        self.directory = Path(directory)
        self.what = what
        self.path = self.directory / LOCK
        self._fd: Optional[int] = None
        self.created_directory = False

    def acquire(self) -> "RunLock":
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self.created_directory = True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            owner = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"{self.what} {str(self.directory)!r} is in use by process {owner} (another guidedrl "
                f"{'bench' if 'bench' in self.what else 'run'} holds its run.lock); wait for it to end, or choose "
                "another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def abandon(self) -> None:
        """Release, and remove the directory again if this lock created it and nothing else
        was written there (a run refused during its set-up leaves nothing behind)."""
        self.release()
        if self.created_directory and [p.name for p in self.directory.iterdir()] == [LOCK]:
            self.path.unlink()
            self.directory.rmdir()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self if self.held else self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def owner_of(directory: os.PathLike) -> Optional[int]:
    """The pid recorded in ``directory``'s lock file (its owner if the lock is held), or None."""
    try:
        return int((Path(directory) / LOCK).read_text().strip())
    except (OSError, ValueError):
        return None
