"""mini-CBF writer: byte-offset encoding (checked by decoding with fabio) and header lines."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re

import fabio
import numpy as np
import pytest

from braggflow.formats.cbf_write import BINARY_START, PilatusHeader, cbf_bytes, encode_byte_offset, write_cbf


def _edge_values() -> np.ndarray:
    i32 = np.iinfo(np.int32)
    return np.array(
        [0, 1, -1, 127, -127, 128, -128, 0, 32767, -32767, -32768, 32768, 0, i32.max, i32.min, i32.max, -1, -2,
         1048575, 70000, -70000, 5, i32.min, 0],
        dtype=np.int32,
    )


@pytest.mark.parametrize("gz", [False, True])
def test_random_int32_round_trips_through_fabio(tmp_path, gz):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    data = rng.integers(np.iinfo(np.int32).min, np.iinfo(np.int32).max, size=(37, 53), dtype=np.int64).astype(np.int32)
    data[0, : len(_edge_values())] = _edge_values()
    data[5:10] = rng.poisson(2.0, size=(5, 53))  # 1-byte deltas
    path = write_cbf(tmp_path / "a.cbf", data, PilatusHeader(), gz=gz)
    assert path.name.endswith(".cbf.gz" if gz else ".cbf")
    np.testing.assert_array_equal(fabio.open(str(path)).data, data)


def test_encoder_uses_shortest_delta_forms():  # type: ignore[no-untyped-def]
    data = np.array([[0, 127, 0, 128, 0, 40000]], dtype=np.int32)
    enc = encode_byte_offset(data)
    # 0 -> 00 ; +127 -> 7f ; -127 -> 81 ; +128 -> 80 8000 ; -128 -> 80 80ff ; +40000 -> 80 0080 409c0000
    assert enc.hex() == "007f81" + "808000" + "8080ff" + "800080409c0000"


def test_header_lines_mime_keys_and_md5(tmp_path):  # type: ignore[no-untyped-def]
    header = PilatusHeader(
        wavelength_A=0.97625, distance_mm=264.84, beam_xy_px=(1231.5, 1263.5), start_angle_deg=12.3,
        angle_increment_deg=0.15, exposure_time_s=0.08, exposure_period_s=0.08, count_cutoff=1048500,
        sensor_thickness_mm=0.32, pixel_size_mm=(0.172, 0.172),
    )
    data = np.arange(12 * 10, dtype=np.int32).reshape(12, 10)
    blob = cbf_bytes(data, header, name="x_0001")
    head, _, rest = blob.partition(BINARY_START)
    text = head.decode("ascii")
    for line in (
        "# Pixel_size 172e-6 m x 172e-6 m",
        "# Silicon sensor, thickness 0.000320 m",
        "# Exposure_time 0.0800000 s",
        "# Exposure_period 0.0800000 s",
        "# Count_cutoff 1048500 counts",
        "# Wavelength 0.97625 A",
        "# Detector_distance 0.264840 m",
        "# Beam_xy (1231.50, 1263.50) pixels",
        "# Start_angle 12.3000 deg.",
        "# Angle_increment 0.1500 deg.",
        '_array_data.header_convention "PILATUS_1.2"',
        "X-Binary-Size-Fastest-Dimension: 10",
        "X-Binary-Size-Second-Dimension: 12",
        "X-Binary-Number-of-Elements: 120",
        'X-Binary-Element-Type: "signed 32-bit integer"',
    ):
        assert line + "\r\n" in text, line
    size = int(re.search(r"X-Binary-Size: (\d+)", text).group(1))
    binary = rest[:size]
    md5 = re.search(r"Content-MD5: (\S+)", text).group(1)
    assert base64.b64encode(hashlib.md5(binary).digest()).decode() == md5
    assert binary == encode_byte_offset(data)
    path = tmp_path / "x_0001.cbf"
    path.write_bytes(blob)
    img = fabio.open(str(path))
    np.testing.assert_array_equal(img.data, data)


def test_gz_file_is_gzip_of_the_plain_file(tmp_path):  # type: ignore[no-untyped-def]
    data = np.ones((8, 9), dtype=np.int32)
    a = write_cbf(tmp_path / "p.cbf", data, PilatusHeader())
    b = write_cbf(tmp_path / "q.cbf", data, PilatusHeader(), gz=True)
    assert gzip.decompress(b.read_bytes()).replace(b"data_q", b"data_p") == a.read_bytes()
