"""A small CBOR (RFC 8949) codec: what Smithy's RPCv2-CBOR protocol uses, nothing more.

Decodes: integers, byte and text strings (definite and indefinite), arrays and maps (both),
tags (tag 1 = epoch timestamp -> ``Timestamp``), false/true/null/undefined, half/single/double
floats. Encodes: dict, list/tuple, str, bytes, bool, None, int, float (always 64-bit),
``Timestamp`` (tag 1 + double). Used by ``cloudwatch`` (the Rust SDK speaks RPCv2-CBOR to
CloudWatch, moto only JSON) and by ``faults`` (CBOR error bodies).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timestamp:
    """Epoch seconds, as CBOR tag 1."""

    seconds: float


class CborError(ValueError):
    pass


_BREAK = object()


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([major << 5 | 26]) + value.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + value.to_bytes(8, "big")


def encode(value: Any) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, Timestamp):
        return _head(6, 1) + encode(float(value.seconds))
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, (bytes, bytearray)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(encode(item) for item in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise CborError(f"cannot encode {type(value).__name__}")


def decode(data: bytes) -> Any:
    value, position = _decode(data, 0)
    if position != len(data):
        raise CborError(f"trailing bytes at {position}")
    return value


def _argument(data: bytes, position: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, position
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        size = sizes[info]
        if position + size > len(data):
            raise CborError("truncated")
        return int.from_bytes(data[position : position + size], "big"), position + size
    if info == 31:
        return None, position  # indefinite length
    raise CborError(f"bad additional info {info}")


def _half(bits: int) -> float:
    exponent = (bits >> 10) & 0x1F
    mantissa = bits & 0x3FF
    if exponent == 0:
        value = mantissa * 2.0**-24
    elif exponent == 31:
        value = float("inf") if mantissa == 0 else float("nan")
    else:
        value = (mantissa + 1024) * 2.0 ** (exponent - 25)
    return -value if bits & 0x8000 else value


def _decode(data: bytes, position: int) -> tuple[Any, int]:
    if position >= len(data):
        raise CborError("truncated")
    initial = data[position]
    position += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False, position
        if info == 21:
            return True, position
        if info in (22, 23):
            return None, position
        if info == 25:
            return _half(int.from_bytes(data[position : position + 2], "big")), position + 2
        if info == 26:
            return struct.unpack(">f", data[position : position + 4])[0], position + 4
        if info == 27:
            return struct.unpack(">d", data[position : position + 8])[0], position + 8
        if info == 31:
            return _BREAK, position
        if info < 24:
            return None, position
        raise CborError(f"unsupported simple value {info}")
    argument, position = _argument(data, position, info)
    if major == 0:
        return argument, position
    if major == 1:
        return -1 - argument, position
    if major in (2, 3):
        if argument is None:
            chunks = []
            while True:
                chunk, position = _decode(data, position)
                if chunk is _BREAK:
                    break
                chunks.append(chunk)
            return (b"" if major == 2 else "").join(chunks), position
        raw = data[position : position + argument]
        if len(raw) != argument:
            raise CborError("truncated")
        return (bytes(raw) if major == 2 else raw.decode("utf-8")), position + argument
    if major == 4:
        items = []
        while argument is None or len(items) < argument:
            item, position = _decode(data, position)
            if item is _BREAK:
                break
            items.append(item)
        return items, position
    if major == 5:
        result = {}
        count = 0
        while argument is None or count < argument:
            key, position = _decode(data, position)
            if key is _BREAK:
                break
            result[key], position = _decode(data, position)
            count += 1
        return result, position
    # major 6: tag
    value, position = _decode(data, position)
    if argument == 1 and isinstance(value, (int, float)):
        return Timestamp(float(value)), position
    return value, position
