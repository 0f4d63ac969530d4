"""How a task and its result cross between the app and a process of its own
(:mod:`bci_app.io.worker`): one frame of JSON with the arrays' and PNGs' bytes beside it, never a
pickle (nothing is unpickled in this app). Only plain data and the app's own dataclasses and
pydantic models cross; a reader builds nothing else, so a frame cannot make it run anything.

Frame: ``u64`` length + UTF-8 JSON, ``u64`` count, then per buffer ``u64`` length + bytes. In the
JSON an array is ``{"__array__": i, "dtype", "shape", "fortran"}`` (buffer ``i``, C order or, for an
array in Fortran order, that order: no copy), bytes
``{"__bytes__": i}``, a tuple ``{"__tuple__": [...]}``, a path ``{"__path__": str}``, a time
``{"__datetime__": iso}``, a dataclass of the app ``{"__type__": "module:Class", "fields": {...}}``
and a pydantic model of the app ``{"__model__": "module:Class", "fields": {...}}`` (built again with
``model_construct``: the values as the app used them).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import struct
from datetime import datetime
from pathlib import Path, PurePath
from typing import IO, Any

import numpy as np

from bci_app.errors import ProcessError

__all__ = ["PACKAGES", "app_attribute", "encode", "decode", "write_frame", "read_frame"]

#: the packages whose dataclasses and pydantic models may cross (the app's own)
PACKAGES = ("bci_app.",)
_LEN = struct.Struct("<Q")


def _crossing(cls: type) -> bool:
    """``cls`` is a dataclass or a pydantic model of the app (:data:`PACKAGES`)."""
    from pydantic import BaseModel

    return cls.__module__.startswith(PACKAGES) and (dataclasses.is_dataclass(cls) or issubclass(cls, BaseModel))


def app_attribute(name: str) -> Any:
    """The attribute ``"module:attribute"`` of one of the app's public modules (:data:`PACKAGES`, no
    part of the module's name private: importing ``bci_app.__main__`` would run the app), or None."""
    module, _, attribute = name.partition(":")
    if not (module.startswith(PACKAGES) and attribute.isidentifier()
            and all(part.isidentifier() and not part.startswith("_") for part in module.split("."))):
        return None
    try:
        return getattr(importlib.import_module(module), attribute, None)
    except ImportError:
        return None


def _type(name: str) -> type:
    found = app_attribute(name)
    if not (isinstance(found, type) and _crossing(found)):
        raise ProcessError(f"a frame names the type {name!r}, which may not cross; only the dataclasses and "
                           f"pydantic models of {', '.join(p.rstrip('.') for p in PACKAGES)} do")
    return found


def encode(obj: Any) -> tuple[bytes, list[memoryview]]:
    """``obj`` as the frame's JSON and its buffers (module doc); :class:`ProcessError` naming what
    cannot cross."""
    buffers: list[memoryview] = []

    def enc(x: Any) -> Any:
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise ProcessError(f"a frame cannot hold an array of Python objects (shape {x.shape})")
            fortran = x.ndim > 1 and x.flags.f_contiguous and not x.flags.c_contiguous  # sent as is, no copy
            flat = (x.T if fortran else np.ascontiguousarray(x)).reshape(-1)
            buffers.append(memoryview(flat.view(np.uint8)))
            return {"__array__": len(buffers) - 1, "dtype": x.dtype.str, "shape": list(x.shape), "fortran": fortran}
        if isinstance(x, (bytes, bytearray)):
            buffers.append(memoryview(x))
            return {"__bytes__": len(buffers) - 1}
        if isinstance(x, tuple):
            return {"__tuple__": [enc(v) for v in x]}
        if isinstance(x, list):
            return [enc(v) for v in x]
        if isinstance(x, dict):
            if not all(isinstance(k, str) for k in x):
                raise ProcessError(f"a frame holds a dict with keys other than text: {list(x)[:5]}")
            return {k: enc(v) for k, v in x.items()}
        if isinstance(x, PurePath):
            return {"__path__": str(x)}
        if isinstance(x, datetime):
            return {"__datetime__": x.isoformat()}
        cls = type(x)
        name = f"{cls.__module__}:{cls.__qualname__}"
        if _crossing(cls) and "." not in cls.__qualname__:
            if dataclasses.is_dataclass(x):
                return {"__type__": name, "fields": {f.name: enc(getattr(x, f.name)) for f in dataclasses.fields(x)}}
            return {"__model__": name, "fields": {k: enc(getattr(x, k)) for k in type(x).model_fields}}
        raise ProcessError(f"a frame cannot hold a {cls.__module__}.{cls.__qualname__}; plain data, arrays and "
                           "the app's own dataclasses and pydantic models only")

    head = json.dumps(enc(obj), allow_nan=True).encode("utf-8")
    return head, buffers


def decode(head: bytes, buffers: list[bytearray]) -> Any:
    """The object of a frame's JSON ``head`` and ``buffers`` (only plain data, arrays and the app's own types)."""

    def dec(x: Any) -> Any:
        if isinstance(x, list):
            return [dec(v) for v in x]
        if not isinstance(x, dict):
            return x
        if "__array__" in x:
            flat = np.frombuffer(buffers[x["__array__"]], dtype=np.dtype(x["dtype"]))
            return flat.reshape(x["shape"][::-1]).T if x.get("fortran") else flat.reshape(x["shape"])
        if "__bytes__" in x:
            return bytes(buffers[x["__bytes__"]])
        if "__tuple__" in x:
            return tuple(dec(v) for v in x["__tuple__"])
        if "__path__" in x:
            return Path(x["__path__"])
        if "__datetime__" in x:
            return datetime.fromisoformat(x["__datetime__"])
        if "__type__" in x:
            cls = _type(x["__type__"])
            try:
                return cls(**{k: dec(v) for k, v in x["fields"].items()})
            except TypeError as exc:
                raise ProcessError(f"a frame's {x['__type__']} cannot be built from its fields: {exc}") from exc
        if "__model__" in x:
            # the app's own values as it used them (a model_copy(update=...) is not validated either)
            return _type(x["__model__"]).model_construct(**{k: dec(v) for k, v in x["fields"].items()})
        return {k: dec(v) for k, v in x.items()}

    return dec(json.loads(head.decode("utf-8")))


def write_frame(stream: IO[bytes], obj: Any) -> None:
    """Write ``obj`` as one frame (each buffer from its own memory: no copy of the arrays)."""
    head, buffers = encode(obj)
    stream.write(_LEN.pack(len(head)))
    stream.write(head)
    stream.write(_LEN.pack(len(buffers)))
    for buf in buffers:
        stream.write(_LEN.pack(buf.nbytes))
        stream.write(buf)
    stream.flush()


def _read_exactly(stream: IO[bytes], n: int) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            raise EOFError(f"the frame ended after {got} of {n} bytes")
        got += k
    return buf


def read_frame(stream: IO[bytes]) -> Any:
    """The object of the next frame of ``stream`` (EOFError when it ends early)."""
    head = _read_exactly(stream, _LEN.unpack(_read_exactly(stream, _LEN.size))[0])
    count = _LEN.unpack(_read_exactly(stream, _LEN.size))[0]
    buffers = [_read_exactly(stream, _LEN.unpack(_read_exactly(stream, _LEN.size))[0]) for _ in range(count)]
    return decode(bytes(head), buffers)
