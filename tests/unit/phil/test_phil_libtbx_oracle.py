"""Differential test against libtbx.phil (cctbx-base) run in a subprocess.

Skips unless ``.venv-cctbx`` (``python3 -m venv .venv-cctbx && .venv-cctbx/bin/pip install
cctbx-base``) or ``$BF_CCTBX_PYTHON`` exists. braggflow never imports cctbx.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from braggflow import phil
from braggflow.errors import PhilError

REPO = Path(__file__).resolve().parents[3]
CCTBX_PYTHON = Path(os.environ.get("BF_CCTBX_PYTHON", REPO / ".venv-cctbx" / "bin" / "python"))

# Each case: (master, [user phils]); both sides print as_str at levels 0-3 of the parsed
# master, the working phil, and a normalised extract.
CASES = [
    ("a=1;b = 2  3\nx = abc #note\ns .help=\"x\";.expert_level=1 { a = 1;.type=int }", []),
    ('x = "a"\n   "b c"\ny = 1 \\\n  2\nz = \'it\\\'s\' """a"b"""', []),
    ("files = " + " ".join(f"image_{i:03d}.cbf" for i in range(1, 20)), []),
    (
        "d_min = None\n  .type = float(value_min=0)\n  .help = \"The high resolution limit in"
        ' Angstrom. Reflections beyond this limit are ignored, and so on and so forth."\n'
        "  .short_caption = High resolution\n  .expert_level = 1",
        ["d_min = 2.5"],
    ),
    (
        "m = fft1d *fft3d real_space_grid_search\n .type = choice\n"
        "i = *auto profile sum scale\n .type = choice(multi=True)\n"
        "v = 1 2\n .type = ints(size=2, value_min=0)\nf = 0.5\n .type = floats\n"
        "b = True\n .type = bool\ns = x\n .type = str\nq = None\n .type = strings",
        ["m = FFT1D\ni = profile+sum\nv = (3, 4)\nf = 1/3 2e-3\nb = no\ns = hello  world\nq = a 'b c'"],
    ),
    (
        "lattice .multiple = True { id = 0\n .type = int\n name = None\n .type = str }\n"
        "f = None\n .type = path\n .multiple = True\ng = x\n .multiple = True\ng = y",
        ["lattice { id = 1 }\nlattice.name = second\nf = a.cbf\nf = b.cbf\nf = a.cbf\ng = z"],
    ),
    ("s { a = 1; b = 2 }\nt { u { v = 3 } }", ["s { a = 10 }\ns.b = 20\ns { a = 30 }", "t.u{v=4}"]),
    ("a.b.c = 1\na { d = 2 }\nx.y { z = 3 }", ["a.b.c = 5\nx.y.z = 6"]),
    (
        "a = 1\nb = 2\n .expert_level = 1\ns .expert_level = 2 { c = 3 }\n"
        "t { d = 4\n .expert_level = 3\ne = 5 }",
        [],
    ),
]

_ORACLE = r"""
import json, sys
import iotbx.phil as P, libtbx.phil as L
def norm(v):
    if isinstance(v, L.scope_extract):
        return {k: norm(x) for k, x in sorted(vars(v).items()) if not k.startswith("__")}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if v is L.Auto:
        return "<Auto>"
    return v
out = []
for master, users in json.load(sys.stdin):
    m = P.parse(master)
    w = m.fetch(sources=[P.parse(u) for u in users])
    shown = [m.as_str(attributes_level=k) for k in range(4)] + [w.as_str(), w.as_str(expert_level=0)]
    out.append([shown, norm(w.extract()), m.fetch_diff(sources=[P.parse(u) for u in users]).as_str()])
print(json.dumps(out))
"""


def _norm(v):
    if isinstance(v, phil.ScopeExtract):
        return {k: _norm(x) for k, x in sorted(vars(v).items())}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if v is phil.Auto:
        return "<Auto>"
    return v


def _ours(master: str, users: list[str]):
    m = phil.parse(master)
    w = m.fetch(sources=[phil.parse(u) for u in users])
    shown = [m.as_str(attributes_level=k) for k in range(4)] + [w.as_str(), w.as_str(expert_level=0)]
    return [shown, _norm(w.extract()), m.fetch_diff(sources=[phil.parse(u) for u in users]).as_str()]


@pytest.fixture(scope="module")
def oracle() -> list:
    if not CCTBX_PYTHON.exists():
        pytest.skip(f"libtbx oracle not installed ({CCTBX_PYTHON})")
    proc = subprocess.run(
        [str(CCTBX_PYTHON), "-c", _ORACLE],
        input=json.dumps(CASES),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.skip(f"libtbx oracle failed: {proc.stderr[-300:]}")
    return json.loads(proc.stdout)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_matches_libtbx(oracle: list, index: int) -> None:
    master, users = CASES[index]
    assert json.loads(json.dumps(_ours(master, users))) == oracle[index]


def test_shipped_masters_match_libtbx() -> None:
    if not CCTBX_PYTHON.exists():
        pytest.skip("libtbx oracle not installed")
    import braggflow.params as params

    for name in params.available():
        text = params.phil_path(name).read_text()
        if "include " in text:
            continue
        code = (
            "import sys, json, iotbx.phil as P; m = P.parse(sys.stdin.read());"
            "print(json.dumps([m.as_str(attributes_level=k) for k in range(4)]))"
        )
        proc = subprocess.run([str(CCTBX_PYTHON), "-c", code], input=text, capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            continue  # e.g. a type libtbx lacks without iotbx converters
        try:
            ours = [phil.parse(text).as_str(attributes_level=k) for k in range(4)]
        except PhilError as exc:  # pragma: no cover - reported as failure
            pytest.fail(f"{name}.phil: {exc}")
        assert ours == json.loads(proc.stdout), name
