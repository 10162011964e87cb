"""UnmergedData: the one data structure symmetry, scaling and merging work on.

Rows are individual observations. ``hkl`` holds the indices as measured (original indices,
M/ISYM already undone); ``asu_hkl``/``isym`` are derived from them with gemmi for the current
space group (ISYM odd: +h side, even: Friedel mate, algorithms.md 8.3). Everything
crystallographic comes from gemmi.

Readers: :func:`from_reflections` (our integrated/scaled ``.expt``+``.refl``) here, and
``unmerged_mtz.read_unmerged_mtz`` (any unmerged MTZ); writer ``unmerged_mtz.write_unmerged_mtz``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import gemmi
import numpy as np

from braggflow.errors import InputDataError

__all__ = [
    "BatchInfo",
    "UnmergedData",
    "from_reflections",
    "asu_and_isym",
    "check_cell_matches",
]


@dataclass(frozen=True)
class BatchInfo:
    """What a batch header tells the scaler: phi range (degrees) and the orientation."""

    phi_start: float
    phi_end: float
    U: np.ndarray | None = None  # Mosflm U (Cambridge frame: beam +x, axis +z), or None
    dataset: int = 0


def asu_and_isym(hkl: np.ndarray, space_group: gemmi.SpaceGroup) -> tuple[np.ndarray, np.ndarray]:
    """(ASU indices, ISYM) of original indices under ``space_group`` (gemmi's CCP4 ASU,
    computed in C++ through an in-memory MTZ: ``switch_to_asu_hkl``)."""
    hkl = np.ascontiguousarray(hkl, dtype=np.int32).reshape(-1, 3)
    if len(hkl) == 0:
        return hkl.copy(), np.zeros(0, dtype=np.int32)
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = space_group
    mtz.set_cell_for_all(gemmi.UnitCell(10, 10, 10, 90, 90, 90))
    mtz.add_dataset("asu")
    mtz.add_column("M/ISYM", "Y")
    mtz.switch_to_original_hkl()
    mtz.set_data(np.concatenate([hkl, np.zeros((len(hkl), 1), np.int32)], axis=1).astype(np.float32))
    if not mtz.switch_to_asu_hkl():
        raise RuntimeError("gemmi switch_to_asu_hkl failed")
    arr = np.array(mtz, copy=False)
    return arr[:, :3].astype(np.int32), (arr[:, 3].astype(np.int32) % 256)


def _col(n: int, value: float = np.nan) -> np.ndarray:
    return np.full(n, value, dtype=np.float64)


@dataclass(eq=False)
class UnmergedData:
    """Unmerged observations plus cell and space group (numpy arrays, one row each)."""

    hkl: np.ndarray  # (n, 3) int32 original indices
    intensity: np.ndarray  # float64 (already divided by any scale in `scale`)
    sigma: np.ndarray
    batch: np.ndarray  # int32
    cell: gemmi.UnitCell
    space_group: gemmi.SpaceGroup
    dataset: np.ndarray | None = None  # int32 sweep/experiment id
    rot_deg: np.ndarray | None = None  # phi of the observation (degrees), nan if unknown
    xdet: np.ndarray | None = None
    ydet: np.ndarray | None = None
    partiality: np.ndarray | None = None
    scale: np.ndarray | None = None  # inverse scale factor g already applied (1 if none)
    s0c: np.ndarray | None = None  # (n, 3) unit incident direction in the crystal frame
    s1c: np.ndarray | None = None  # (n, 3) unit diffracted direction in the crystal frame
    row_index: np.ndarray | None = None  # row in the source table (for writing back)
    wavelength: float = 0.0
    batches: dict[int, BatchInfo] = field(default_factory=dict)
    source: str = ""
    asu_hkl: np.ndarray = field(init=False, repr=False)
    isym: np.ndarray = field(init=False, repr=False)
    d: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.hkl)
        self.hkl = np.asarray(self.hkl, dtype=np.int32).reshape(-1, 3)
        self.intensity = np.asarray(self.intensity, dtype=np.float64)
        self.sigma = np.asarray(self.sigma, dtype=np.float64)
        self.batch = np.asarray(self.batch, dtype=np.int32)
        self.dataset = np.zeros(n, np.int32) if self.dataset is None else np.asarray(self.dataset, np.int32)
        for name, default in (("rot_deg", np.nan), ("xdet", np.nan), ("ydet", np.nan), ("partiality", 1.0), ("scale", 1.0)):
            value = getattr(self, name)
            setattr(self, name, _col(n, default) if value is None else np.asarray(value, dtype=np.float64))
        if self.row_index is None:
            self.row_index = np.arange(n, dtype=np.int64)
        for name in ("intensity", "sigma", "batch", "dataset", "rot_deg", "partiality", "scale"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"UnmergedData.{name} has {len(getattr(self, name))} rows, hkl has {n}")
        self._derive()

    def _derive(self) -> None:
        self.asu_hkl, self.isym = asu_and_isym(self.hkl, self.space_group)
        self.d = np.asarray(self.cell.calculate_d_array(self.hkl), dtype=np.float64) if len(self.hkl) else np.zeros(0)

    # --- properties ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.hkl)

    @property
    def plus(self) -> np.ndarray:
        """True where the observation is on the +h side (ISYM odd)."""
        return (self.isym % 2) == 1

    @property
    def has_geometry(self) -> bool:
        return self.s0c is not None and self.s1c is not None

    # --- transforms ---------------------------------------------------------------------
    def select(self, mask: np.ndarray) -> "UnmergedData":
        """A copy with the rows where ``mask`` (bool or integer index) selects."""
        kw = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == len(self.hkl):
                v = v[mask]
            kw[f.name] = v
        return UnmergedData(**kw)

    def replace(self, **changes: object) -> "UnmergedData":
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        kw.update(changes)
        return UnmergedData(**kw)  # type: ignore[arg-type]

    def with_space_group(self, space_group: gemmi.SpaceGroup) -> "UnmergedData":
        """Same observations and indices, a different space group (new ASU/ISYM)."""
        check_cell_matches(self.cell, space_group, self.source or "data")
        return self.replace(space_group=space_group)

    def reindexed(self, P: np.ndarray, space_group: gemmi.SpaceGroup) -> "UnmergedData":
        """Change of basis (a' b' c') = (a b c) P: indices h' = h P, cell from the new axes."""
        P = np.asarray(P, dtype=np.float64)
        new_hkl = np.rint(self.hkl @ P).astype(np.int32)
        orth = np.array(self.cell.orth.mat.tolist()) @ P
        lengths = np.linalg.norm(orth, axis=0)
        ang = lambda i, j: float(np.degrees(np.arccos(np.clip(orth[:, i] @ orth[:, j] / (lengths[i] * lengths[j]), -1, 1))))  # noqa: E731
        cell = gemmi.UnitCell(*lengths, ang(1, 2), ang(0, 2), ang(0, 1))
        s0c, s1c = self.s0c, self.s1c  # directions live in the orthogonal crystal frame
        return self.replace(hkl=new_hkl, cell=cell, space_group=space_group, s0c=s0c, s1c=s1c)


def check_cell_matches(cell: gemmi.UnitCell, space_group: gemmi.SpaceGroup, source: str, tol: float = 0.02) -> None:
    """Raise InputDataError when the cell contradicts the lattice of ``space_group``."""
    system = space_group.crystal_system_str()
    a, b, c, al, be, ga = cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma
    rel = lambda x, y: abs(x - y) / max(x, y)  # noqa: E731
    problems = []
    if system in ("orthorhombic", "tetragonal", "cubic") or (system == "monoclinic"):
        angles = [(al, "alpha"), (be, "beta"), (ga, "gamma")]
        if system == "monoclinic":
            # the unique axis is the one whose two angles are 90 in the tabulated setting
            ops = space_group.operations()
            unique = [i for i in range(3) if all(int(r.rot[i][i]) == r.DEN for r in ops.sym_ops)]
            keep = {0: ["beta", "gamma"], 1: ["alpha", "gamma"], 2: ["alpha", "beta"]}.get(unique[0] if unique else 1, [])
            angles = [x for x in angles if x[1] in keep]
        for value, name in angles:
            if abs(value - 90) > 1.0:
                problems.append(f"{name}={value:.2f} should be 90")
    if system in ("tetragonal", "cubic") and rel(a, b) > tol:
        problems.append(f"a={a:.3f} and b={b:.3f} should be equal")
    if system == "cubic" and rel(a, c) > tol:
        problems.append(f"a={a:.3f} and c={c:.3f} should be equal")
    if system in ("trigonal", "hexagonal") and space_group.ext != "R":
        if rel(a, b) > tol or abs(ga - 120) > 1.0 or abs(al - 90) > 1.0 or abs(be - 90) > 1.0:
            problems.append(f"cell {a:.2f} {b:.2f} {c:.2f} {al:.1f} {be:.1f} {ga:.1f} is not hexagonal (a=b, 90, 90, 120)")
    if system == "trigonal" and space_group.ext == "R":
        if not (rel(a, b) < tol and rel(b, c) < tol and abs(al - be) < 1 and abs(be - ga) < 1):
            problems.append(f"cell {a:.2f} {b:.2f} {c:.2f} {al:.1f} {be:.1f} {ga:.1f} is not rhombohedral (a=b=c, alpha=beta=gamma)")
    if problems:
        raise InputDataError(
            source,
            f"space group {space_group.hm} contradicts the unit cell ({'; '.join(problems)}); "
            "give a space group that fits the cell (or none, to let symmetry decide)",
        )


# --- our .expt/.refl ---------------------------------------------------------------------
def from_reflections(experiments, table, intensity: str = "auto", partiality_threshold: float = 0.4, min_isigi: float = -5.0) -> UnmergedData:  # type: ignore[no-untyped-def]
    """UnmergedData from an integrated (or scaled) reflection table, filtered and corrected
    as the MTZ export does (algorithms.md 8.1). ``row_index`` maps back to the table."""
    from braggflow.model.reflections import Flags

    src = "reflections"
    if len(experiments) == 0:
        raise InputDataError("experiments", "the experiment list is empty")
    crystals = [e.crystal for e in experiments]
    if any(c is None for c in crystals):
        raise InputDataError("experiments", "an experiment has no crystal model: index and integrate first")
    n = len(table)
    ids = np.asarray(table["id"]) if "id" in table else np.zeros(n, np.int32)
    flags = np.asarray(table["flags"]).astype(np.uint64) if "flags" in table else np.zeros(n, np.uint64)
    keep = ids >= 0
    if intensity == "auto":
        if "intensity.scale.value" in table:
            intensity = "scale"
        elif "intensity.prf.value" in table and np.any(flags & np.uint64(Flags.integrated_prf)):
            intensity = "profile"  # a prf column with no profile-fitted row (too few references) is unused
        else:
            intensity = "sum"
    if intensity == "scale":
        if "intensity.scale.value" not in table:
            raise InputDataError(src, "intensity=scale but the table has no intensity.scale.value: scale it first")
        inten = np.asarray(table["intensity.scale.value"], float).copy()
        var = np.asarray(table["intensity.scale.variance"], float).copy()
        g = np.asarray(table["inverse_scale_factor"], float) if "inverse_scale_factor" in table else np.ones(n)
        keep &= (flags & np.uint64(Flags.scaled)) != 0
        keep &= (flags & np.uint64(Flags.bad_for_scaling)) == 0
        keep &= g > 0
        inten = inten / np.where(g > 0, g, 1)
        var = var / np.where(g > 0, g, 1) ** 2
        scale_col = g
    else:
        kind = "prf" if intensity in ("profile", "prf") else "sum"
        vname, varname = f"intensity.{kind}.value", f"intensity.{kind}.variance"
        if vname not in table:
            raise InputDataError(src, f"the table has no {vname}: integrate first (or choose another intensity)")
        flag = Flags.integrated_prf if kind == "prf" else Flags.integrated_sum
        keep &= (flags & np.uint64(flag)) != 0
        inten = np.asarray(table[vname], float).copy()
        var = np.asarray(table[varname], float).copy()
        lp = np.asarray(table["lp"], float) if "lp" in table else np.ones(n)
        qe = np.asarray(table["qe"], float) if "qe" in table else np.ones(n)
        keep &= qe > 0
        conv = lp / np.where(qe > 0, qe, 1)
        part = np.asarray(table["partiality"], float) if "partiality" in table else np.ones(n)
        if kind == "sum":
            keep &= part > 0
            conv = conv / np.where(part > 0, part, 1)
        keep &= part >= partiality_threshold
        inten *= conv
        var *= conv**2
        scale_col = np.ones(n)
    keep &= var > 0
    sig = np.sqrt(np.where(var > 0, var, 1))
    keep &= inten / sig >= min_isigi
    if "miller_index" not in table:
        raise InputDataError(src, "the table has no miller_index column: index first")
    hkl = np.asarray(table["miller_index"], np.int32)
    keep &= np.any(hkl != 0, axis=1)
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise InputDataError(src, "no integrated reflections pass the export filters (partiality >= 0.4, variance > 0)")
    crystal0 = crystals[0]
    cells = np.array([[*c.unit_cell.parameters] for c in crystals])
    med = np.median(cells, axis=0)
    cell = gemmi.UnitCell(*med)
    sg = crystal0.space_group
    z = np.asarray(table["xyzcal.px"], float)[:, 2] if "xyzcal.px" in table else np.zeros(n)
    phi = np.full(n, np.nan)
    batch = np.zeros(n, np.int32)
    s0c = np.full((n, 3), np.nan)
    s1c = np.full((n, 3), np.nan)
    offset = 0
    s1 = np.asarray(table["s1"], float) if "s1" in table else None
    batches: dict[int, BatchInfo] = {}
    for eid, expt in enumerate(experiments):
        sel = np.flatnonzero(ids == eid)
        if expt.scan is not None:
            i0, i1 = expt.scan.image_range
            phi[sel] = expt.scan.angle_from_array_index(z[sel])
            shift = offset + (1 if i0 == 0 else 0)
            batch[sel] = np.floor(z[sel]).astype(np.int32) + 1 + shift
            for image in range(i0, i1 + 1):
                p0, width = expt.scan.image_oscillation_deg(image)
                batches[image + shift] = BatchInfo(float(p0), float(p0 + width), None, eid)
            top = i1 + shift
        else:
            batch[sel] = 1 + offset
            batches[1 + offset] = BatchInfo(0.0, 0.0, None, eid)
            top = 1 + offset
        offset = int((top // 100 + 1) * 100) if top % 100 != 0 else top + 100
        if s1 is not None and expt.goniometer is not None and expt.beam is not None and len(sel):
            rot = expt.goniometer.rotation(np.radians(phi[sel]))  # (n,3,3) S R F
            M = rot @ expt.crystal.U  # lab <- crystal
            s0 = np.broadcast_to(expt.beam.unit_s0, (len(sel), 3))
            s0c[sel] = np.einsum("nji,nj->ni", M, s0)
            v = s1[sel] / np.linalg.norm(s1[sel], axis=1, keepdims=True)
            s1c[sel] = np.einsum("nji,nj->ni", M, v)
    wavelength = float(experiments[0].beam.wavelength) if experiments[0].beam is not None else 0.0
    have_geom = s1 is not None and np.isfinite(s0c[rows]).all()
    xyz = np.asarray(table["xyzcal.px"], float) if "xyzcal.px" in table else np.full((n, 3), np.nan)
    part = np.asarray(table["partiality"], float) if "partiality" in table else np.ones(n)
    return UnmergedData(
        hkl=hkl[rows], intensity=inten[rows], sigma=sig[rows], batch=batch[rows], cell=cell, space_group=sg,
        dataset=ids[rows], rot_deg=phi[rows], xdet=xyz[rows, 0], ydet=xyz[rows, 1], partiality=part[rows],
        scale=scale_col[rows], s0c=s0c[rows] if have_geom else None, s1c=s1c[rows] if have_geom else None,
        row_index=rows, wavelength=wavelength, batches=batches, source=src,
    )
