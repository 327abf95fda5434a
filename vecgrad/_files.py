"""Opening a user-named file without surprises: never block, only regular files.

A FIFO opened the ordinary way blocks until a writer appears, forever if none does; a
device file can stream without end. Checkpoints and IDX files are read through this.
"""

from __future__ import annotations

import os
import stat


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def open_regular(path, error, what: str):
    """(binary stream, size) of the regular file `path`; anything else raises `error`
    (an exception class) with one line that starts with `what` and the path.

    O_NONBLOCK makes opening a FIFO return at once; fstat on the opened descriptor then
    says what it really is (no race between a check and the open).
    """
    if not os.fspath(path):  # would read "checkpoint  does not exist"
        raise error(f"{what}: the file name is empty")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise error(f"{what} {path} is not a regular file ({_kind(info.st_mode)})")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size
