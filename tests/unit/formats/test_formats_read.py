"""Pixel data: every real image reads; CBF data equal fabio's; gz/bz2 are transparent."""

from __future__ import annotations

import bz2
import gzip
import pickle
import shutil
from pathlib import Path

import fabio
import numpy as np
import pytest

from braggflow.errors import InputDataError
from braggflow.formats.base import find_format
from braggflow.formats.cbf import read_cbf_array
from braggflow.formats.imageset import open_imageset, rectangle_mask, trusted_mask
from braggflow.model import Experiment, ImageSetRef

LOCAL = ["phi_scan_001.cbf", "dlsnxs2cbf_therm_0001.cbf.gz", "DLS_I03_smargon_0001.cbf.gz", "TIMEPIX_SU_516-stdgoni_0001.img"]


def _all_shared_images(root: Path) -> list[Path]:
    return sorted(p for p in (root / "images").rglob("*") if p.is_file())


@pytest.mark.parametrize("name", [n for n in LOCAL if ".cbf" in n])
def test_cbf_pixels_equal_fabio(tests_data: Path, name: str) -> None:
    path = tests_data / "images" / name
    ours = read_cbf_array(str(path))
    assert ours.dtype == np.int32
    assert np.array_equal(ours, fabio.open(str(path)).data)


def test_every_shared_image_reads(shared_data: Path) -> None:
    paths = _all_shared_images(shared_data)
    assert len(paths) == 27
    for path in paths:
        fmt = find_format(path)
        models = fmt.experiment_models(str(path))
        panels = fmt.read(str(path), 0, models.detector)
        assert len(panels) == len(models.detector)
        for panel, data in zip(models.detector.panels, panels):
            assert data.shape == panel.image_shape and data.dtype == np.int32
        if ".cbf" in path.name:
            raw = fabio.open(str(path)).data
            assert np.array_equal(fmt.read_raw_array(str(path)), raw), path.name
        if "TIMEPIX_SU_512" in path.name:  # panel 1 starts at raw pixel (257, 1)
            raw = fmt.read_raw_array(str(path))
            assert np.array_equal(panels[1], raw[1:255, 257:511])


def test_smv_pixels_match_header_layout(tests_data: Path) -> None:
    path = tests_data / "images/TIMEPIX_SU_516-stdgoni_0001.img"
    raw = np.frombuffer(path.read_bytes()[512:], dtype="<u2").reshape(516, 516)
    (ours,) = find_format(path).read(str(path))
    assert np.array_equal(ours, raw.astype(np.int32)) and ours.sum() > 0


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2")], ids=["gzip", "bzip2"])
def test_compressed_copy_reads_identically(tests_data: Path, tmp_path: Path, opener, suffix: str) -> None:
    src = tests_data / "images/phi_scan_001.cbf"
    dst = tmp_path / ("phi_scan_001.cbf" + suffix)
    with opener(dst, "wb") as out:
        out.write(src.read_bytes())
    fmt = find_format(dst)
    assert fmt is find_format(src)
    assert np.array_equal(fmt.read_raw_array(str(dst)), fmt.read_raw_array(str(src)))
    a, b = fmt.experiment_models(str(dst)), fmt.experiment_models(str(src))
    assert np.allclose(a.detector[0].origin, b.detector[0].origin)


def test_truncated_cbf_names_the_file(tests_data: Path, tmp_path: Path) -> None:
    data = (tests_data / "images/phi_scan_001.cbf").read_bytes()
    bad = tmp_path / "cut_001.cbf"
    bad.write_bytes(data[: len(data) // 2])
    fmt = find_format(bad)  # the header is intact
    with pytest.raises(InputDataError, match="cut_001.cbf: truncated"):
        fmt.read_raw_array(str(bad))


def test_unknown_and_missing_files_raise_input_data_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes_001.txt"
    junk.write_text("hello")
    with pytest.raises(InputDataError, match="notes_001.txt: unknown image format"):
        find_format(junk)
    with pytest.raises(InputDataError, match="no such file"):
        find_format(tmp_path / "absent_001.cbf")


def _experiment_for(path: Path) -> Experiment:
    fmt = find_format(path)
    m = fmt.experiment_models(str(path))
    from braggflow.formats.template import template_from_path

    return Experiment(beam=m.beam, detector=m.detector, goniometer=m.goniometer, scan=m.scan,
                      imageset=ImageSetRef(template=template_from_path(path)[0]))


def test_imageset_read_masks_gaps_and_untrusted(tests_data: Path) -> None:
    path = tests_data / "images/DLS_I03_smargon_0001.cbf.gz"
    seq = open_imageset(_experiment_for(path))
    assert len(seq) == 1 and seq.image_range == (1, 1) and seq.format_name == "FormatCBFFullPilatus"
    (data,), (valid,) = seq.read(0)
    assert not valid[:, 487:494].any() and not valid[195:212, :].any()  # module gaps
    assert not valid[data < 0].any() and not valid[data > 91795].any()
    inside = (data >= 0) & (data <= 91795) & rectangle_mask(data.shape, seq.detector[0].mask)
    assert np.array_equal(valid, inside)
    clone = pickle.loads(pickle.dumps(seq))
    assert clone._static is None and np.array_equal(clone.read(0)[0][0], data)


def test_trusted_mask_reads_dials_minus_one_as_zero() -> None:
    data = np.array([[-2, -1, 0, 5, 10, 11]])
    assert trusted_mask(data, (-1.0, 10.0)).tolist() == [[False, False, True, True, True, False]]
    assert trusted_mask(data, (0.0, 10.0)).tolist() == [[False, False, True, True, True, False]]


def test_imageset_missing_image_is_input_error(tests_data: Path, tmp_path: Path) -> None:
    src = tests_data / "images/phi_scan_001.cbf"
    shutil.copy(src, tmp_path / "phi_scan_001.cbf")
    exp = _experiment_for(tmp_path / "phi_scan_001.cbf")
    exp = exp.replace(scan=exp.scan.replace(image_range=(1, 2)))
    seq = open_imageset(exp)
    assert len(seq) == 2
    with pytest.raises(InputDataError, match="phi_scan_002.cbf: image file is missing"):
        seq.read(1)
