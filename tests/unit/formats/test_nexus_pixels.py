"""NeXus pixel reading: an NXmx master whose virtual dataset points at a bitshuffle/LZ4
data file, checked pixel for pixel and spot for spot against the mini-CBF conversion of the
same image (row 4 / row 18 of the shared data README; DIALS finds 110 spots on the CBF)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from braggflow.formats.base import find_format
from braggflow.formats.refl_io import read_refl
from braggflow.pipeline.programs import find_spots, import_

h5py = pytest.importorskip("h5py")
hdf5plugin = pytest.importorskip("hdf5plugin")

CBF = "images/dlsnxs2cbf_therm_0001.cbf.gz"


@pytest.fixture
def nexus_sweep(tests_data: Path, tmp_path: Path) -> Path:
    """Therm_6_2.nxs beside a Therm_6_2_000001.h5 holding image 1 (the other 487 chunks unwritten)."""
    cbf = tests_data / CBF
    raw = find_format(cbf).read_raw_array(str(cbf), 0)
    counts = raw.astype(np.int64)
    counts[counts < 0] = 2**32 - 1  # Eiger HDF5 flags gaps and bad pixels with 2^32 - 1
    shutil.copy(tests_data / "images/Therm_6_2.nxs", tmp_path)
    with h5py.File(tmp_path / "Therm_6_2_000001.h5", "w") as f:
        ds = f.create_dataset("data", shape=(488, *raw.shape), dtype="uint32", chunks=(1, *raw.shape),
                              **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
        ds[0] = counts.astype(np.uint32)
    return tmp_path / "Therm_6_2.nxs"


def test_virtual_dataset_pixels_equal_the_cbf(nexus_sweep: Path, tests_data: Path) -> None:
    cbf = tests_data / CBF
    expected = find_format(cbf).read_raw_array(str(cbf), 0)
    fmt = find_format(nexus_sweep)
    got = fmt.read_raw_array(str(nexus_sweep), 0)
    assert got.shape == expected.shape == (4362, 4148) and got.dtype == np.int32
    assert np.array_equal(got[expected >= 0], expected[expected >= 0])
    assert np.all(got[expected < 0] == -1)
    assert not fmt.read_raw_array(str(nexus_sweep), 487).any()  # unwritten chunk: HDF5 fill value


def test_find_spots_on_nexus_equals_cbf(nexus_sweep: Path, tests_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert import_.main([str(nexus_sweep), "output.experiments=nxs.expt"]) == 0
    assert find_spots.main(["nxs.expt", "spotfinder.scan_range=1,1", "output.reflections=nxs.refl"]) == 0
    assert import_.main([str(tests_data / CBF), "output.experiments=cbf.expt"]) == 0
    assert find_spots.main(["cbf.expt", "output.reflections=cbf.refl"]) == 0
    nxs, cbf = read_refl("nxs.refl"), read_refl("cbf.refl")
    assert len(nxs) == len(cbf) == 110  # DIALS 3.12 on the CBF: 110
    a = nxs["xyzobs.px.value"][:, :2]
    b = cbf["xyzobs.px.value"][:, :2]
    order_a, order_b = np.lexsort(a.T), np.lexsort(b.T)
    assert np.allclose(a[order_a], b[order_b], atol=1e-6)
