"""The SVG/PNG primitives: well-formed XML, ticks, embedded PNG heat maps."""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from braggflow.report.html.png import colourise, png_bytes
from braggflow.report.html.svg import Plot, nice_ticks, resolution_ticks

SVG = "{http://www.w3.org/2000/svg}"


def test_plot_is_well_formed_svg_with_every_layer():
    plot = Plot("T <&>", "x", "y")
    plot.line([0, 1, 2], [1, np.nan, 3], label="line")
    plot.scatter([0, 1], [2, 3], label="pts")
    plot.bars([0, 1, 2], [3, 4], label="bars")
    plot.vband(0.2, 0.4)
    plot.hline(1.0)
    plot.marker(1, 1)
    plot.polygon([0, 1, 1], [0, 0, 1])
    plot.text(0.5, 0.5, "a<b")
    root = ET.fromstring(plot.svg())
    assert root.tag == SVG + "svg"
    assert root.find(SVG + "title").text == "T <&>"
    assert len(root.findall(f".//{SVG}polyline")) == 1
    assert root.find(f".//{SVG}polyline").get("points").count(",") == 2  # NaN point dropped


def test_heatmap_embeds_a_decodable_png():
    plot = Plot("h").heatmap(np.arange(12.0).reshape(3, 4), (0, 4, 0, 3), label="counts")
    image = ET.fromstring(plot.svg()).find(f".//{SVG}image")
    uri = image.get("href")
    assert uri.startswith("data:image/png;base64,")
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (4, 3)


def test_png_pixels_round_trip():
    rgba = colourise(np.array([[0.0, 1.0], [np.nan, 0.5]]))
    assert rgba[1, 0, 3] == 0 and rgba[0, 0, 3] == 255  # NaN transparent
    data = png_bytes(rgba)
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    raw = np.frombuffer(zlib.decompress(data[idat + 4 : idat + 4 + length]), dtype=np.uint8).reshape(2, 1 + 8)
    assert np.array_equal(raw[:, 1:].reshape(2, 2, 4), rgba)


def test_nice_ticks_and_resolution_ticks():
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0.13, 0.91, 5) == [0.2, 0.4, 0.6, 0.8]
    pos, labels = resolution_ticks(1 / 50**2, 1 / 1.2**2)
    assert labels[-1] == "1.2" and len(labels) >= 4
    assert all(np.diff(pos) > 0)


def test_equal_aspect_keeps_unit_lengths_equal():
    plot = Plot("d", equal_aspect=True, width=460, height=300)
    plot.polygon([0, 100, 100, 0], [0, 0, 10, 10])
    pts = ET.fromstring(plot.svg()).find(f".//{SVG}polygon").get("points").split()
    xy = np.array([[float(v) for v in p.split(",")] for p in pts])
    width_px, height_px = np.ptp(xy[:, 0]), np.ptp(xy[:, 1])
    assert abs(width_px / height_px - 10.0) < 0.1
