"""The .akc codes container: round trips, compactness, and every kind of bad file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from audiokit.io.codes import (
    CodesError, CodesFile, MAGIC, bits_for, pack_codes, read_codes, read_header, read_npy_codes,
    unpack_codes, write_codes,
)


def _cf(n_q=2, frames=37, size=4096, seed=0) -> CodesFile:
    rng = np.random.default_rng(seed)
    return CodesFile(codes=rng.integers(0, size, (n_q, frames)), codec="wavtokenizer",
                     config_hash="abc123", sample_rate=24000, frame_rate=75.0, codebook_size=size,
                     original_length=frames * 320 - 17, extra={"bandwidth_id": 0})


@pytest.mark.parametrize("size", [2, 3, 1000, 1024, 4096, 65536])
def test_pack_unpack_roundtrip(size):
    rng = np.random.default_rng(size)
    codes = rng.integers(0, size, (3, 101))
    bits = bits_for(size)
    out = unpack_codes(pack_codes(codes, bits), 3, 101, bits)
    assert np.array_equal(out, codes)


def test_file_roundtrip_and_size(tmp_path):
    cf = _cf()
    path = write_codes(tmp_path / "x.akc", cf)
    back = read_codes(path)
    assert np.array_equal(back.codes, cf.codes)
    assert back.header() == cf.header()
    # 12 bits per code: payload is 2*37*12/8 = 111 bytes
    assert read_header(path)[0]["payload_bytes"] == 111


def test_empty_codes_roundtrip(tmp_path):
    cf = _cf(frames=0)
    back = read_codes(write_codes(tmp_path / "e.akc", cf))
    assert back.codes.shape == (2, 0)


def test_refuses_overwrite_without_force(tmp_path):
    path = write_codes(tmp_path / "x.akc", _cf())
    with pytest.raises(CodesError.__mro__[1], match="exists"):
        write_codes(path, _cf(seed=1))
    write_codes(path, _cf(seed=1), force=True)
    assert np.array_equal(read_codes(path).codes, _cf(seed=1).codes)


def test_npy_roundtrip_without_pickle(tmp_path):
    cf = _cf()
    write_codes(tmp_path / "x.npy", cf)
    assert np.array_equal(read_npy_codes(tmp_path / "x.npy"), cf.codes)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CodesError, match="obj.npy"):
        read_npy_codes(tmp_path / "obj.npy")


def test_out_of_range_refused_on_write(tmp_path):
    cf = _cf(size=1000)
    cf.codes[0, 3] = 1000
    with pytest.raises(CodesError, match="out of range"):
        write_codes(tmp_path / "x.akc", cf)
    assert not (tmp_path / "x.akc").exists()


def test_out_of_range_detected_on_read(tmp_path):
    # 1000 entries need 10 bits, so a crafted payload can hold 1023
    cf = _cf(size=1000)
    path = write_codes(tmp_path / "x.akc", cf)
    header, off = read_header(path)
    bad = cf.codes.copy()
    bad[1, 5] = 1023
    payload = pack_codes(bad, 10)
    import zlib

    path.write_bytes(path.read_bytes()[:off] + payload + struct.pack("<I", zlib.crc32(payload)))
    with pytest.raises(CodesError, match="1023 out of range"):
        read_codes(path)


def test_truncated(tmp_path):
    path = write_codes(tmp_path / "x.akc", _cf())
    data = path.read_bytes()
    for cut in (3, 12, len(data) - 10, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CodesError, match="x.akc"):
            read_codes(path)


def test_wrong_version_and_magic(tmp_path):
    path = write_codes(tmp_path / "x.akc", _cf())
    data = bytearray(path.read_bytes())
    data[4:6] = struct.pack("<H", 99)
    path.write_bytes(bytes(data))
    with pytest.raises(CodesError, match="version 99"):
        read_codes(path)
    (tmp_path / "t.akc").write_text("hello")
    with pytest.raises(CodesError, match="not an audiokit codes file"):
        read_codes(tmp_path / "t.akc")


def test_corrupt_payload_and_header(tmp_path):
    path = write_codes(tmp_path / "x.akc", _cf())
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CodesError, match="CRC"):
        read_codes(path)
    hdr = b"{not json"
    path.write_bytes(struct.pack("<4sHI", MAGIC, 1, len(hdr)) + hdr)
    with pytest.raises(CodesError, match="corrupt codes header"):
        read_codes(path)
    hdr = json.dumps({"codec": "x"}).encode()
    path.write_bytes(struct.pack("<4sHI", MAGIC, 1, len(hdr)) + hdr)
    with pytest.raises(CodesError, match="lacks"):
        read_codes(path)
