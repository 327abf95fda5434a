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
import tempfile
import zipfile
from typing import Any

import numpy as np

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


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; the message names the entry and the problem."""


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
def _encode_leaf(value: Any, where: str, arrays: dict[str, np.ndarray]) -> dict | None:
    """The manifest node for a non-container value, or None if `value` is a container."""
    if value is None:
        return {"type": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, (int, np.integer)):
        return {"type": "int", "value": int(value)}
    if isinstance(value, (float, np.floating)):
        number = float(value)
        # JSON has no inf/nan: store those by name, every finite float exactly via repr.
        return {"type": "float", "value": number if math.isfinite(number) else repr(number)}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, np.ndarray) or _is_tensor(value):
        array = value if isinstance(value, np.ndarray) else value.numpy()
        _check_array_dtype(array, where)
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
        f"{where}: cannot store a value of type {type(value).__name__} "
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
    # Each stack entry: (value, path for messages, its index in `nodes`).
    stack = [(state, "state", 0)]
    seen_containers: set[int] = set()
    while stack:
        value, where, index = stack.pop()
        leaf = _encode_leaf(value, where, arrays)
        if leaf is not None:
            nodes[index] = leaf
            continue
        if id(value) in seen_containers:
            raise CheckpointError(
                f"{where}: the same container appears twice (shared or cyclic reference)"
            )
        seen_containers.add(id(value))
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        items = []
        for key, child in pairs:
            if isinstance(value, dict) and not isinstance(key, str):
                raise CheckpointError(
                    f"{where}: dict keys must be str, got {key!r} ({type(key).__name__})"
                )
            nodes.append(None)
            items.append([key, len(nodes) - 1] if isinstance(value, dict) else len(nodes) - 1)
            stack.append((child, f"{where}[{key!r}]", len(nodes) - 1))
        kind = "dict" if isinstance(value, dict) else type(value).__name__
        nodes[index] = {"type": kind, "items": items}
    return nodes, arrays


def save(state: Any, path: str | os.PathLike) -> None:
    """Write `state` to `path` atomically.

    `state` is a nested structure of dicts (str keys), lists and tuples whose leaves are
    vecgrad Tensors, numpy arrays (bool/int/float), int, float, bool, str or None, e.g.
    ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``.
    The file is an ``.npz`` archive readable with ``numpy.load(path, allow_pickle=False)``.
    """
    nodes, arrays = _encode(state)
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "nodes": nodes}
    manifest_bytes = json.dumps(manifest, allow_nan=False, sort_keys=True).encode("utf-8")
    members = dict(arrays)
    members[MANIFEST_MEMBER] = np.frombuffer(manifest_bytes, dtype=np.uint8)
    digest = hashlib.sha256(manifest_bytes).hexdigest().encode("ascii")
    members[DIGEST_MEMBER] = np.frombuffer(digest, dtype=np.uint8)

    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise CheckpointError(f"cannot save to {target}: directory {directory} does not exist")
    if os.path.isdir(target):
        raise CheckpointError(f"cannot save to {target}: it is a directory; give a file name")
    handle, temp_path = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **members)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(temp_path, _file_mode(target))
        os.replace(temp_path, target)
    except BaseException:
        # The old checkpoint (if any) is untouched; only the partial temp file goes away.
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def _file_mode(target: str) -> int:
    """The permission bits for `target`: the old file's, else 0666 minus the umask."""
    try:
        return os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# --------------------------------------------------------------------------------- load
def _read_archive(path: str) -> dict[str, np.ndarray]:
    """Every member of the archive as an array, read with allow_pickle=False."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(4)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if head[:1] == _PICKLE_MAGIC:
        raise CheckpointError(
            f"{path} holds a pickled payload; refusing to load it (pickles can run code)"
        )
    if head not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raise CheckpointError(
            f"{path} is not a vecgrad checkpoint (.npz archive): it starts with {head!r}"
        )
    members: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                try:
                    member = archive[name]
                except ValueError as exc:
                    if "pickle" in str(exc).lower():
                        raise CheckpointError(
                            f"{path}: entry {name!r} holds pickled objects; refusing to load it"
                        ) from None
                    raise CheckpointError(f"{path}: entry {name!r} is corrupt: {exc}") from None
                if not isinstance(member, np.ndarray):
                    raise CheckpointError(f"{path}: entry {name!r} is not a numpy array (.npy)")
                members[name] = member
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise CheckpointError(f"{path} is truncated or corrupt: {problem}") from None
    return members


def _read_manifest(path: str, members: dict[str, np.ndarray]) -> dict:
    for name in (MANIFEST_MEMBER, DIGEST_MEMBER):
        if name not in members:
            raise CheckpointError(f"{path}: no {name} entry; not a vecgrad checkpoint")
        if members[name].dtype != np.uint8 or members[name].ndim != 1:
            raise CheckpointError(
                f"{path}: entry {name} must be a 1-D uint8 array, "
                f"got {members[name].dtype} {members[name].shape}"
            )
    manifest_bytes = members[MANIFEST_MEMBER].tobytes()
    expected = members[DIGEST_MEMBER].tobytes().decode("ascii", errors="replace")
    if hashlib.sha256(manifest_bytes).hexdigest() != expected:
        raise CheckpointError(
            f"{path}: the manifest does not match its digest (the file was modified)"
        )
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: the manifest does not describe a {FORMAT_NAME} file")
    if manifest.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {manifest.get('version')!r} "
            f"is not supported (expected {FORMAT_VERSION})"
        )
    nodes = manifest.get("nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, dict) for n in nodes):
        raise CheckpointError(f"{path}: the manifest has no valid node list")
    return manifest


def _field(node: dict, name: str, kind: type | tuple, where: str) -> Any:
    value = node.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CheckpointError(
            f"{where}: manifest field {name!r} is missing or has the wrong type ({value!r})"
        )
    return value


def _decode_array(
    node: dict, where: str, members: dict[str, np.ndarray], used: set[str]
) -> np.ndarray:
    """The archive member `node` points at, after checking dtype, shape and digest."""
    member = _field(node, "member", str, where)
    if member in (MANIFEST_MEMBER, DIGEST_MEMBER) or member not in members:
        raise CheckpointError(f"{where}: archive entry {member!r} is missing")
    if member in used:
        raise CheckpointError(f"{where}: archive entry {member!r} is referenced twice")
    used.add(member)
    array = members[member]
    _check_array_dtype(array, where)
    expected_dtype = _field(node, "dtype", str, where)
    try:
        dtype_matches = np.dtype(expected_dtype) == array.dtype
    except TypeError:
        raise CheckpointError(
            f"{where}: manifest dtype {expected_dtype!r} is not a numpy dtype"
        ) from None
    if not dtype_matches:
        raise CheckpointError(
            f"{where}: dtype mismatch: manifest says {expected_dtype}, "
            f"entry {member!r} holds {array.dtype.str}"
        )
    shape = tuple(_field(node, "shape", list, where))
    if shape != array.shape:
        raise CheckpointError(
            f"{where}: shape mismatch: manifest says {shape}, entry {member!r} holds {array.shape}"
        )
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
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise CheckpointError(f"{where}: manifest float value {value!r} is not a number")


def _child_links(nodes: list[dict]) -> list[tuple[str, list]]:
    """Validate the tree shape top-down; return (path, [(key, child index)]) per node."""
    paths = ["state"] + [""] * (len(nodes) - 1)
    has_parent = [True] + [False] * (len(nodes) - 1)
    links = []
    for index, node in enumerate(nodes):
        where = paths[index]
        if not has_parent[index]:
            raise CheckpointError(f"manifest node {index} is not reachable from the root")
        children: list = []
        if node.get("type") in ("dict", "list", "tuple"):
            for item in _field(node, "items", list, where):
                if node["type"] == "dict":
                    ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    key, child = (item[0], item[1]) if ok else (None, None)
                else:
                    key, child = len(children), item
                if not isinstance(child, int) or isinstance(child, bool):
                    raise CheckpointError(f"{where}: malformed item {item!r} in the manifest")
                if not index < child < len(nodes) or has_parent[child]:
                    raise CheckpointError(f"{where}: item {item!r} points at an invalid node")
                has_parent[child] = True
                paths[child] = f"{where}[{key!r}]"
                children.append((key, child))
            if node["type"] == "dict" and len({key for key, _ in children}) != len(children):
                raise CheckpointError(f"{where}: a key appears twice")
        links.append((where, children))
    return links


def _decode(
    nodes: list[dict], members: dict[str, np.ndarray], device: str | None
) -> tuple[Any, set[str]]:
    """Rebuild the nested state, children before parents; return it and the members used."""
    used: set[str] = set()
    links = _child_links(nodes)
    values: list = [None] * len(nodes)
    for index in range(len(nodes) - 1, -1, -1):
        node = nodes[index]
        where, children = links[index]
        kind = node.get("type")
        if kind == "dict":
            value: Any = {key: values[child] for key, child in children}
        elif kind in ("list", "tuple"):
            items = [values[child] for _, child in children]
            value = items if kind == "list" else tuple(items)
        elif kind in ("ndarray", "tensor"):
            value = _decode_array(node, where, members, used)
            if kind == "tensor":
                value = _make_tensor(value, node, where, device)
        elif kind in ("none", "bool", "int", "float", "str"):
            value = _decode_scalar(node, kind, where)
        else:
            raise CheckpointError(f"{where}: unknown manifest node type {kind!r}")
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
            f"{where}: cannot restore the tensor on device {target!r}: {exc} "
            "(pass device='cpu' to load it elsewhere)"
        ) from None


def load(path: str | os.PathLike, device: str | None = None) -> Any:
    """Read a checkpoint written by :func:`save`, validating every entry.

    Tensors are restored on the device they were saved from, or on `device` when given.
    Raises :class:`CheckpointError` for a missing, truncated, modified or pickled file.
    """
    path = os.fspath(path)
    members = _read_archive(path)
    manifest = _read_manifest(path, members)
    state, used = _decode(manifest["nodes"], members, device)
    extra = sorted(set(members) - used - {MANIFEST_MEMBER, DIGEST_MEMBER})
    if extra:
        raise CheckpointError(f"{path}: archive entries not described by the manifest: {extra}")
    return state

