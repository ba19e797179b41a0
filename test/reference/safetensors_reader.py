"""A safetensors file read by the format's definition (8-byte little-endian header length, JSON
header, raw little-endian bytes), independently of ebm-torch's writer: the tests' Python side."""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}


def read(path):
    """Returns ({name: (dtype name, tensor)}, metadata)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        tensors[name] = (e["dtype"], t)
    return tensors, meta
