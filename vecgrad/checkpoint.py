"""Checkpoints: nested state (model, optimizer, metadata) in one validated ``.npz`` file.

Layout of a checkpoint file (a plain numpy ``.npz`` zip archive):

- ``__manifest__``: a uint8 array holding UTF-8 JSON that describes the nested structure.
  Every node names its type; arrays and tensors point at an archive member and record
  dtype, shape and a SHA-256 digest of their bytes.
- ``__digest__``: the SHA-256 of the manifest bytes, so an edited manifest is noticed.
- ``a0``, ``a1``, ...: one member per array or tensor, written and read with
  ``allow_pickle=False``.

Nothing in a checkpoint is ever executed: pickled payloads and object arrays are refused,
and every mismatch between the manifest and the archive raises :class:`CheckpointError`
naming the entry. Writes go to a temporary file in the target directory, which then
replaces the target with ``os.replace`` so a crash mid-write leaves the old file intact.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import sys
import tempfile
import time
import zipfile
from typing import Any

import numpy as np

from vecgrad._files import open_regular

FORMAT_NAME = "vecgrad-checkpoint"
FORMAT_VERSION = 1
MANIFEST_MEMBER = "__manifest__"
DIGEST_MEMBER = "__digest__"

# dtypes a checkpoint may carry: plain numbers only (never object, void or string arrays).
_ALLOWED_DTYPE_KINDS = "biuf"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_PICKLE_MAGIC = b"\x80"
_TENSOR_ATTRIBUTES = ("numpy", "device", "requires_grad", "shape", "dtype")
# Limits that keep a hostile file from costing more than its size in memory or time.
_MAX_NPY_HEADER = 10_000          # bytes of one .npy header (numpy's own default)
MAX_DEPTH = 10_000                # containers inside containers (a trainer state uses 5)
_PLAIN_DTYPE = re.compile(r"^[<>|=][biuf](1|2|4|8|16)$")  # what save writes
_MAX_DIM = 2**62                  # one dimension of an array described by the manifest


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; the message names the entry and the problem."""


class SaveAbandoned(KeyboardInterrupt):
    """A second Ctrl-C/SIGTERM during `save`: the save was rolled back (the old file is
    untouched). A single signal lets the save finish and then raises KeyboardInterrupt."""


def _is_tensor(obj: Any) -> bool:
    """A vecgrad Tensor (checked by its interface so this module never imports the engine)."""
    if isinstance(obj, np.ndarray):
        return False
    return all(hasattr(obj, name) for name in _TENSOR_ATTRIBUTES)


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes(order="C")).hexdigest()


def _check_array_dtype(array: np.ndarray, where: str) -> None:
    if array.dtype.kind not in _ALLOWED_DTYPE_KINDS:
        raise CheckpointError(
            f"{where}: arrays of dtype {array.dtype} cannot be stored "
            "(only bool, integer and floating point arrays are allowed; no objects, no pickle)"
        )


# --------------------------------------------------------------------------------- save
def _encode_leaf(value: Any, where, arrays: dict[str, np.ndarray]) -> dict | None:
    """The manifest node for a non-container value, or None if `value` is a container.

    `where()` spells out the value's path, only when an error needs it."""
    if value is None:
        return {"type": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, (int, np.integer)):
        value = int(value)
        # JSON writes ints as decimal text, which Python limits (4300 digits by default):
        # json.dumps raised "Exceeds the limit (4300 digits) for integer string conversion"
        digits = sys.get_int_max_str_digits()
        if digits and value.bit_length() > 3 * digits and abs(value) >= 10 ** digits:
            raise CheckpointError(f"{where()}: an int of more than {digits} digits cannot be "
                                  "stored (a checkpoint writes ints as decimal text)")
        return {"type": "int", "value": value}
    if isinstance(value, (float, np.floating)):
        number = float(value)
        # JSON has no inf/nan: store those by name, every finite float exactly via repr.
        return {"type": "float", "value": number if math.isfinite(number) else repr(number)}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, np.ndarray) or _is_tensor(value):
        array = value if isinstance(value, np.ndarray) else value.numpy()
        if array.dtype.kind not in _ALLOWED_DTYPE_KINDS:
            _check_array_dtype(array, where())
        key = f"a{len(arrays)}"
        arrays[key] = array
        node = {
            "type": "ndarray",
            "member": key,
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "sha256": _array_digest(array),
        }
        if not isinstance(value, np.ndarray):
            device, requires_grad = str(value.device), bool(value.requires_grad)
            node.update(type="tensor", device=device, requires_grad=requires_grad)
        return node
    if isinstance(value, (dict, list, tuple)):
        return None
    raise CheckpointError(
        f"{where()}: cannot store a value of type {type(value).__name__} "
        "(allowed: dict with str keys, list, tuple, Tensor, numpy array, "
        "int, float, bool, str, None)"
    )


def _encode(state: Any) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Walk `state` iteratively; return (flat manifest node list, archive members).

    Node 0 is the root; containers refer to their children by index, and a child's index
    is always larger than its parent's, so the manifest stays flat (no nested JSON).
    """
    arrays: dict[str, np.ndarray] = {}
    nodes: list = [None]
    paths = _Paths(1)  # parent and key per node: paths cost memory linear in the depth
    depth = [0]
    stack = [0]  # node indices still to encode
    values = {0: state}
    seen_containers: set[int] = set()
    while stack:
        index = stack.pop()
        value = values.pop(index)
        leaf = _encode_leaf(value, lambda: paths(index), arrays)
        if leaf is not None:
            nodes[index] = leaf
            continue
        if id(value) in seen_containers:
            raise CheckpointError(
                f"{paths(index)}: the same container appears twice (shared or cyclic reference)"
            )
        if depth[index] >= MAX_DEPTH:
            raise CheckpointError(f"{paths(index)}: containers nested more than "
                                  f"{MAX_DEPTH} deep cannot be stored")
        seen_containers.add(id(value))
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        items = []
        for key, child in pairs:
            if isinstance(value, dict) and not isinstance(key, str):
                raise CheckpointError(
                    f"{paths(index)}: dict keys must be str, got {key!r} ({type(key).__name__})"
                )
            nodes.append(None)
            child_index = len(nodes) - 1
            paths.parent.append(index)
            paths.key.append(key)
            depth.append(depth[index] + 1)
            items.append([key, child_index] if isinstance(value, dict) else child_index)
            values[child_index] = child
            stack.append(child_index)
        kind = "dict" if isinstance(value, dict) else type(value).__name__
        nodes[index] = {"type": kind, "items": items}
    return nodes, arrays


def _file_name(path, verb: str) -> str:
    """`path` as a str file name; an open file, a buffer or anything else raises a
    TypeError saying why a name is needed (torch.save/torch.load also take file
    objects, so users try them)."""
    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fsdecode(path)
    usage = "save(state, path)" if verb == "save" else "load(path, device=None)"
    text = (f"vecgrad.{usage} takes a file name (str or os.PathLike), not "
            f"{type(path).__name__}")
    if hasattr(path, "read") or hasattr(path, "write"):  # an open file, io.BytesIO
        text += ("; unlike torch, not an open file or buffer: " + (
            "the checkpoint is written beside its target and renamed over it, so a crash "
            "never leaves half a file" if verb == "save" else "only regular files are read, "
            "their size bounding what a hostile file can cost") + " (for bytes in memory, "
            "use a temporary file)")
    raise TypeError(text)


def check_writable(path, name: str = "checkpoint") -> None:
    """Raise CheckpointError, naming `name` and `path`, unless `save` can write `path`:
    its folder exists and takes a new file, and `path` is not a folder or a special file.
    Training checks this before its first epoch (found after a whole epoch otherwise)."""
    path = _file_name(path, "save")
    if not path.strip():
        raise CheckpointError(f"{name} {path!r}: give a file name")
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        problem = (f"{folder} is not a folder" if os.path.exists(folder)
                   else f"the folder {folder} does not exist")
        raise CheckpointError(f"{name} {path}: {problem}")
    if os.path.isdir(target):
        raise CheckpointError(f"{name} {path}: it is a folder; give a file name")
    if os.path.exists(target) and not os.path.isfile(target):
        raise CheckpointError(f"{name} {path}: it exists and is not a regular file")
    try:  # the real test: create (and remove) a file where the save will create its own
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.",
                                         suffix=".probe")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise CheckpointError(f"{name} {path}: cannot write in {folder} "
                              f"({exc.strerror or exc})") from None


def save(state: Any, path: str | os.PathLike) -> None:
    """Write `state` to `path` atomically.

    `state` is a nested structure of dicts (str keys), lists and tuples whose leaves are
    vecgrad Tensors, numpy arrays (bool/int/float), int, float, bool, str or None, e.g.
    ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``.
    The file is an ``.npz`` archive readable with ``numpy.load(path, allow_pickle=False)``.
    """
    path = _file_name(path, "save")
    nodes, arrays = _encode(state)
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "nodes": nodes}
    manifest_bytes = json.dumps(manifest, allow_nan=False, sort_keys=True).encode("utf-8")
    members = dict(arrays)
    members[MANIFEST_MEMBER] = np.frombuffer(manifest_bytes, dtype=np.uint8)
    digest = hashlib.sha256(manifest_bytes).hexdigest().encode("ascii")
    members[DIGEST_MEMBER] = np.frombuffer(digest, dtype=np.uint8)

    if not path:  # abspath("") is the working folder: "it is a directory"
        raise CheckpointError("cannot save: the file name is empty")
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise CheckpointError(f"cannot save to {target}: directory {directory} does not exist")
    if os.path.isdir(target):
        raise CheckpointError(f"cannot save to {target}: it is a directory; give a file name")
    # A signal (Ctrl-C, SIGTERM) that arrives while the file is written is held until
    # the save is complete, so the file on disk always matches what was reported saved.
    with _signals_deferred():
        _remove_stale_temp_files(target)
        try:
            handle, temp_path = tempfile.mkstemp(
                dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
        except OSError as exc:
            raise CheckpointError(f"cannot save to {target}: {exc.strerror or exc}") from None
        stream = os.fdopen(handle, "wb")
        try:
            # Locked while written: a later save sees a live writer's temp file as busy.
            _lock(stream.fileno())
            np.savez(stream, **members)
            stream.flush()
            os.fsync(stream.fileno())
            # mkstemp makes the file private (0600); give it the mode a plain open() would.
            os.fchmod(stream.fileno(), _file_mode(target))
            os.replace(temp_path, target)
        except BaseException as exc:
            # The old checkpoint (if any) is untouched; only the partial temp file goes.
            try:
                stream.close()
            except OSError:  # flushing the rest fails the same way (e.g. a full disk)
                pass
            if os.path.exists(temp_path):
                os.unlink(temp_path)
            if isinstance(exc, OSError):  # full disk, read-only folder, quota...
                raise CheckpointError(f"cannot save to {target}: "
                                      f"{exc.strerror or exc}") from None
            raise
        stream.close()


# mkstemp's names: the prefix, eight characters of [a-z0-9_], the suffix.
_TEMP_NAME = re.compile(r"^\.(?P<base>.+)\.[a-z0-9_]{8}\.tmp$")


def _lock(fd: int) -> bool:
    """An exclusive lock on `fd` without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): leftovers are then kept, never misjudged
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _remove_stale_temp_files(target: str) -> None:
    """Remove temp files a killed save to `target` left behind (our naming only).

    A temp file whose lock can be taken has no live writer (a writer holds its lock
    until the rename); a file younger than two seconds is left alone in case its writer
    has not taken the lock yet.
    """
    directory, base = os.path.split(target)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None or match.group("base") != base:
            continue
        candidate = os.path.join(directory, name)
        try:
            fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > 2 and _lock(fd):
                os.unlink(candidate)
        except OSError:
            pass
        finally:
            os.close(fd)


class _signals_deferred:
    """Hold SIGINT and SIGTERM while a save runs; deliver them once it is complete.

    A second signal during the same save rolls it back instead (KeyboardInterrupt
    inside the save, which removes the temp file and leaves the old checkpoint): a save
    that hangs (a stalled network disk) can still be abandoned. Only the main thread can
    handle signals; elsewhere this does nothing.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __enter__(self):
        import signal
        import threading

        self.caught, self.previous = [], {}
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in self.SIGNALS:
            number = getattr(signal, name, None)
            # None: a handler installed outside Python, which could not be put back
            if number is None or signal.getsignal(number) is None:
                continue
            try:
                self.previous[number] = signal.signal(number, self._hold)
            except (ValueError, OSError):  # not allowed here: leave it as it was
                pass
        return self

    def _hold(self, number, frame):
        self.caught.append((number, frame))
        if len(self.caught) > 1:  # asked twice: give up this save (it rolls back)
            raise SaveAbandoned

    def __exit__(self, exc_type, *exc_info):
        import signal

        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if exc_type is not None and len(self.caught) > 1:
            return False  # the rollback's KeyboardInterrupt is already on its way
        for number, frame in self.caught[:1]:  # deliver the first, as if it came now
            handler = self.previous.get(number)
            if callable(handler):
                handler(number, frame)
            elif handler == signal.SIG_DFL:
                if number == signal.SIGINT:
                    raise KeyboardInterrupt
                os.kill(os.getpid(), number)
        return False


def _file_mode(target: str) -> int:
    """The permission bits for `target`: the old file's, else 0666 minus the umask."""
    try:
        return os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# --------------------------------------------------------------------------------- load
def _open_regular(path: str):
    stream, size = open_regular(path, CheckpointError, "checkpoint")
    return stream, size


class _Archive:
    """An opened checkpoint whose members are checked before any of their data is read.

    Checked on opening, from the zip directory alone: every member is a .npy entry,
    stored uncompressed (so it cannot inflate beyond the file) and lies inside the file.
    A member's data is read only when asked for, after its .npy header declares a plain
    dtype and exactly the bytes the archive holds. Memory stays bounded by the file size.
    """

    def __init__(self, path: str):
        self.path = path
        stream, size = _open_regular(path)
        self._stream = stream
        try:
            head = stream.read(4)
            if head[:1] == _PICKLE_MAGIC:
                raise CheckpointError(
                    f"{path} holds a pickled payload; refusing to load it (pickles can run code)")
            if head not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
                raise CheckpointError(
                    f"{path} is not a vecgrad checkpoint (.npz archive): it starts with {head!r}")
            stream.seek(0)
            try:
                self.zip = zipfile.ZipFile(stream)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError,
                    ValueError, NotImplementedError) as exc:  # (a forged "zip version")
                raise CheckpointError(f"{path} is truncated or corrupt: "
                                      f"{_one_line(exc)}") from None
            self.infos: dict[str, zipfile.ZipInfo] = {}
            for info in self.zip.infolist():
                self._check_entry(info, size)
        except BaseException:
            stream.close()
            raise

    def _check_entry(self, info: zipfile.ZipInfo, size: int) -> None:
        where = f"{self.path}: entry {info.filename[:60]!r}"
        if info.filename.endswith(".pkl"):  # torch.save writes a zip around data.pkl
            raise CheckpointError(f"{where} is a pickle: this is not a vecgrad checkpoint "
                                  "(torch.save writes files like this); vecgrad never loads "
                                  "pickles, since they can run code")
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{where} is not a numpy array (.npy)")
        name = info.filename[:-len(".npy")]
        if name in self.infos:
            raise CheckpointError(f"{self.path}: the archive names entry {name[:60]!r} twice")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{where} is compressed; vecgrad checkpoints store their "
                                  "arrays uncompressed (a compressed entry could inflate to "
                                  "any size)")
        if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
            raise CheckpointError(f"{where} declares {info.file_size} bytes, more than the "
                                  f"file's {size} (truncated or forged)")
        self.infos[name] = info

    def close(self) -> None:
        self.zip.close()
        self._stream.close()

    def header(self, name: str, where: str):
        """(open stream at the data, shape, fortran order, dtype) of member `name`."""
        info = self.infos[name]
        try:
            stream = self.zip.open(info)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            raise CheckpointError(f"{where}: entry {name!r} is corrupt: "
                                  f"{_one_line(exc)}") from None
        try:
            version = np.lib.format.read_magic(stream)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = reader(stream, max_header_size=_MAX_NPY_HEADER)
            header_bytes = stream.tell()
        except zipfile.BadZipFile as exc:  # a bad CRC shows on the first read
            stream.close()
            raise CheckpointError(f"{where}: entry {name!r} is corrupt: "
                                  f"{_one_line(exc)}") from None
        except Exception as exc:  # numpy reports bad headers as ValueError, SyntaxError...
            stream.close()
            raise CheckpointError(f"{where}: entry {name!r} has no valid .npy header "
                                  f"({_one_line(exc)})") from None
        problem = None
        if dtype.hasobject:
            problem = ("holds pickled objects (dtype object); refusing to load it (pickles "
                       "can run code)")
        elif dtype.kind not in _ALLOWED_DTYPE_KINDS or dtype.shape != ():
            problem = (f"dtype {dtype.str} is not allowed (only bool, integer and float "
                       "arrays)")
        else:
            nbytes = math.prod(shape) * dtype.itemsize
            if header_bytes + nbytes != info.file_size:
                problem = (f"its header declares shape {tuple(shape)} of {dtype.str} "
                           f"({nbytes} bytes) but the entry holds "
                           f"{info.file_size - header_bytes} bytes of data")
        if problem:
            stream.close()
            raise CheckpointError(f"{where}: entry {name!r}: {problem}")
        return stream, tuple(shape), fortran, dtype

    def read(self, name: str, where: str, expect=None) -> np.ndarray:
        """Member `name` as an array. `expect` = (dtype text, shape) from the manifest is
        compared with the member's header before its data is read."""
        stream, shape, fortran, dtype = self.header(name, where)
        with stream:
            if expect is not None:
                want_dtype, want_shape = expect
                if dtype.str != want_dtype:
                    raise CheckpointError(f"{where}: dtype mismatch: manifest says "
                                          f"{want_dtype[:40]}, entry {name!r} holds {dtype.str}")
                if shape != want_shape:
                    raise CheckpointError(f"{where}: shape mismatch: manifest says "
                                          f"{want_shape}, entry {name!r} holds {shape}")
            array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
            if array.size:
                view = memoryview(array.reshape(-1, order="A")).cast("B")
                try:
                    got = stream.readinto(view)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    raise CheckpointError(f"{where}: entry {name!r} is corrupt: "
                                          f"{_one_line(exc)}") from None
                if got != len(view):
                    raise CheckpointError(f"{where}: entry {name!r} ends after {got} of "
                                          f"{len(view)} bytes")
        return array


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _read_manifest(archive: _Archive) -> dict:
    path = archive.path
    raw = {}
    for name in (MANIFEST_MEMBER, DIGEST_MEMBER):
        if name not in archive.infos:
            raise CheckpointError(f"{path}: no {name} entry; not a vecgrad checkpoint")
        stream, shape, _, dtype = archive.header(name, path)
        stream.close()
        if dtype != np.uint8 or len(shape) != 1:
            raise CheckpointError(f"{path}: entry {name} must be a 1-D uint8 array, "
                                  f"got {dtype} {shape}")
        raw[name] = archive.read(name, path).tobytes()
    manifest_bytes = raw[MANIFEST_MEMBER]
    expected = raw[DIGEST_MEMBER].decode("ascii", errors="replace")
    if hashlib.sha256(manifest_bytes).hexdigest() != expected:
        raise CheckpointError(
            f"{path}: the manifest does not match its digest (the file was modified)"
        )
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{path}: the manifest's JSON is nested too deeply "
                              "(vecgrad writes a flat node list)") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, huge integers
        raise CheckpointError(f"{path}: the manifest is not valid JSON: "
                              f"{_one_line(exc)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: the manifest does not describe a {FORMAT_NAME} file")
    if manifest.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {str(manifest.get('version'))[:20]!r} "
            f"is not supported (expected {FORMAT_VERSION})"
        )
    nodes = manifest.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, dict) for n in nodes):
        raise CheckpointError(f"{path}: the manifest has no valid node list")
    return manifest


def _field(node: dict, name: str, kind: type | tuple, where: str) -> Any:
    value = node.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise CheckpointError(
            f"{where}: manifest field {name!r} is missing or has the wrong type ({shown})"
        )
    return value


def _manifest_shape(node: dict, where: str) -> tuple:
    shape = _field(node, "shape", list, where)
    if len(shape) > 32 or not all(isinstance(d, int) and not isinstance(d, bool)
                                  and 0 <= d <= _MAX_DIM for d in shape):
        raise CheckpointError(f"{where}: manifest shape is not a list of at most 32 sizes "
                              f"in 0..2**62")
    return tuple(shape)


def _decode_array(node: dict, where: str, archive: _Archive, used: set[str]) -> np.ndarray:
    """The archive member `node` points at, after checking dtype, shape and digest."""
    member = _field(node, "member", str, where)
    if member in (MANIFEST_MEMBER, DIGEST_MEMBER) or member not in archive.infos:
        raise CheckpointError(f"{where}: archive entry {member[:40]!r} is missing")
    if member in used:
        raise CheckpointError(f"{where}: archive entry {member!r} is referenced twice")
    used.add(member)
    dtype_text = _field(node, "dtype", str, where)
    if not _PLAIN_DTYPE.match(dtype_text):
        raise CheckpointError(f"{where}: manifest dtype {dtype_text[:40]!r} is not a numpy "
                              "dtype of a plain number (such as <f4, <i8, |b1)")
    array = archive.read(member, where, expect=(dtype_text, _manifest_shape(node, where)))
    if _array_digest(array) != _field(node, "sha256", str, where):
        raise CheckpointError(
            f"{where}: the data of entry {member!r} does not match its SHA-256 digest "
            "(modified or corrupt)"
        )
    return array


def _decode_scalar(node: dict, kind: str, where: str) -> Any:
    if kind == "none":
        return None
    if kind == "bool":
        return _field(node, "value", bool, where)
    if kind == "int":
        return _field(node, "value", int, where)
    if kind == "str":
        return _field(node, "value", str, where)
    value = node.get("value")
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return float(value)
        except OverflowError:  # a 400-digit "float"
            pass
    raise CheckpointError(f"{where}: manifest float value is not a number")


class _Where:
    """`path: state['a'][0]` for messages, spelled out only when formatted (lazily)."""

    def __init__(self, path: str, paths: "_Paths", index: int):
        self.path, self.paths, self.index = path, paths, index

    def __str__(self) -> str:
        return f"{self.path}: {self.paths(self.index)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _Paths:
    """Where each manifest node sits ("state['model']['w']"), built only for messages.

    Storing every node's full path costs memory quadratic in the depth; a parent index
    and a key per node is linear, and a path is spelled out only when an error needs it.
    """

    def __init__(self, count: int):
        self.parent = [-1] * count
        self.key: list = [None] * count

    def __call__(self, index: int) -> str:
        keys = []
        while index > 0 and len(keys) <= MAX_DEPTH + 1:  # bounded even if forged
            keys.append(self.key[index])
            index = self.parent[index]
        keys.reverse()
        if len(keys) > 12:  # a deep path is shown by its ends: messages stay one line
            return ("state" + "".join(f"[{k!r}]" for k in keys[:3]) +
                    f"...({len(keys) - 9} levels)..." + "".join(f"[{k!r}]" for k in keys[-6:]))
        return "state" + "".join(f"[{k!r}]" for k in keys)


def _child_links(nodes: list[dict], path: str) -> tuple[list[list], _Paths]:
    """Validate the tree shape top-down; return [(key, child index)] per node, and the
    paths. Raises CheckpointError for unreachable or shared nodes and for nesting deeper
    than MAX_DEPTH."""
    paths = _Paths(len(nodes))
    has_parent = [True] + [False] * (len(nodes) - 1)
    depth = [0] * len(nodes)
    links = []
    for index, node in enumerate(nodes):
        if not has_parent[index]:
            raise CheckpointError(f"{path}: manifest node {index} is not reachable from the root")
        children: list = []
        kind = node.get("type")
        if kind in ("dict", "list", "tuple"):
            if depth[index] >= MAX_DEPTH:
                raise CheckpointError(f"{path}: {paths(index)}: containers are nested "
                                      f"more than {MAX_DEPTH} deep")
            for item in _field(node, "items", list, _Where(path, paths, index)):
                if kind == "dict":
                    ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    key, child = (item[0], item[1]) if ok else (None, None)
                else:
                    key, child = len(children), item
                if not isinstance(child, int) or isinstance(child, bool):
                    raise CheckpointError(f"{path}: {paths(index)}: malformed item in the "
                                          "manifest")
                if not index < child < len(nodes) or has_parent[child]:
                    raise CheckpointError(f"{path}: {paths(index)}: an item points at an "
                                          "invalid node")
                has_parent[child] = True
                depth[child] = depth[index] + 1
                paths.parent[child], paths.key[child] = index, key
                children.append((key, child))
            if kind == "dict" and len({key for key, _ in children}) != len(children):
                raise CheckpointError(f"{path}: {paths(index)}: a key appears twice")
        links.append(children)
    return links, paths


def _decode(nodes: list[dict], archive: _Archive, device: str | None) -> tuple[Any, set[str]]:
    """Rebuild the nested state, children before parents; return it and the members used."""
    used: set[str] = set()
    links, paths = _child_links(nodes, archive.path)
    values: list = [None] * len(nodes)
    for index in range(len(nodes) - 1, -1, -1):
        node = nodes[index]
        children = links[index]
        kind = node.get("type")
        if kind == "dict":
            value: Any = {key: values[child] for key, child in children}
        elif kind in ("list", "tuple"):
            items = [values[child] for _, child in children]
            value = items if kind == "list" else tuple(items)
        elif kind in ("ndarray", "tensor"):
            where = _Where(archive.path, paths, index)
            value = _decode_array(node, where, archive, used)
            if kind == "tensor":
                value = _make_tensor(value, node, where, device)
        elif kind in ("none", "bool", "int", "float", "str"):
            value = _decode_scalar(node, kind, _Where(archive.path, paths, index))
        else:
            raise CheckpointError(f"{archive.path}: {paths(index)}: unknown manifest node "
                                  f"type {str(kind)[:40]!r}")
        for _, child in children:  # each child has one parent: drop the reference
            values[child] = None
        values[index] = value
    return values[0], used


def _make_tensor(array: np.ndarray, node: dict, where: str, device: str | None):
    import vecgrad  # the engine is only needed when a checkpoint holds tensors

    saved_device = _field(node, "device", str, where)
    requires_grad = _field(node, "requires_grad", bool, where)
    target = saved_device if device is None else device
    try:
        return vecgrad.tensor(array, dtype=array.dtype, requires_grad=requires_grad, device=target)
    except Exception as exc:  # e.g. the saved device does not exist on this machine
        raise CheckpointError(
            f"{where}: cannot restore the tensor on device {target[:40]!r}: {exc} "
            "(pass device='cpu' to load it elsewhere)"
        ) from None


def load(path: str | os.PathLike, device: str | None = None, *,
         map_location: str | None = None, weights_only: bool = True) -> Any:
    """Read a checkpoint written by :func:`save`, validating every entry.

    Tensors are restored on the device they were saved from, or on `device` when given
    (like PyTorch's map_location, which is accepted as another name for it: device="cpu"
    loads a checkpoint anywhere; weights_only is accepted and changes nothing).
    Raises :class:`CheckpointError` naming the file and the entry for a missing,
    truncated, modified, forged or pickled file, and for anything that is not a regular
    file (a FIFO never blocks). Memory stays bounded by the file's size: members are
    checked against the file and the manifest before their data is read.
    """
    path = _file_name(path, "load")
    # PyTorch's spellings, so that torch.load(path, map_location="cpu", weights_only=True)
    # ports: map_location is `device` (a device name only: no callables or dicts), and a
    # checkpoint here never runs code, so weights_only changes nothing.
    if map_location is not None:
        if not isinstance(map_location, str):
            raise TypeError(f"vecgrad.load: map_location must be a device name such as "
                            f"'cpu' (no callables, dicts or torch.device), got "
                            f"{type(map_location).__name__}")
        if device is not None and device != map_location:
            raise TypeError(f"vecgrad.load: give device or map_location, not both (got "
                            f"{device!r} and {map_location!r})")
        device = map_location
    if not isinstance(weights_only, (bool, np.bool_)):
        raise TypeError(f"vecgrad.load: weights_only must be a bool, got {weights_only!r}")
    if device is not None:  # a wrong name is the caller's, not the file's (it read as
        # "cannot restore the tensor on device 'foo'"; device=3 raised a TypeError)
        from vecgrad.backends import DeviceError, parse_device  # names only: opens nothing

        try:
            device = parse_device(device)
        except DeviceError as exc:
            raise DeviceError(f"vecgrad.load: {exc}") from None
    archive = _Archive(path)
    try:
        manifest = _read_manifest(archive)
        state, used = _decode(manifest["nodes"], archive, device)
        extra = sorted(set(archive.infos) - used - {MANIFEST_MEMBER, DIGEST_MEMBER})
        if extra:
            raise CheckpointError(f"{path}: archive entries not described by the manifest: "
                                  f"{extra[:10]}")
    finally:
        archive.close()
    return state
