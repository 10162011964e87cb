"""True intensities: one value per reflection of the asymmetric unit (or per Friedel half).

Symmetry equivalents share one value by construction (every index is looked up through its
canonical representative); systematic absences have I = 0 and are never simulated.

Wilson model: for an acentric reflection I = <I>(d) eps Exp(1), for a centric one
I = <I>(d) eps N(0, 1)^2, with <I>(d) = mean exp(-B / (2 d^2)) (that is exp(-2 B s^2),
s = 1/(2d)) and eps the gemmi epsilon factor. Random numbers come from
np.random.default_rng(seed) drawn in the order of gemmi's ASU list to d_min, so the same
(cell, space group, d_min, seed) always gives the same intensities.
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from braggflow.errors import InputDataError

__all__ = [
    "TrueIntensities",
    "canonical_keys",
    "systematically_absent",
    "wilson_intensities",
    "model_intensities",
]

_OFF = 1 << 10  # index offset for packing h, k, l into one int64


def _pack(hkl: np.ndarray) -> np.ndarray:
    h = np.asarray(hkl, dtype=np.int64) + _OFF
    return (h[..., 0] << 22) | (h[..., 1] << 11) | h[..., 2]


def _rotations(sg: gemmi.SpaceGroup) -> np.ndarray:
    """(n_ops, 3, 3) integer rotation parts acting on row vectors h -> h R."""
    ops = sg.operations()
    return np.array([np.array(op.rot) // op.DEN for op in ops.sym_ops], dtype=np.int64)


def canonical_keys(hkl: np.ndarray, sg: gemmi.SpaceGroup) -> tuple[np.ndarray, np.ndarray]:
    """(key_plus, key_all) per index: the largest packed equivalent under the proper ops,
    and the largest including Friedel mates. Equal key_all = symmetry-equivalent (Laue);
    equal key_plus = equivalent without inversion (same Friedel half)."""
    hkl = np.asarray(hkl, dtype=np.int64).reshape(-1, 3)
    eq = np.einsum("nj,kji->nki", hkl, _rotations(sg))  # (n, n_ops, 3)
    plus = _pack(eq).max(axis=1)
    minus = _pack(-eq).max(axis=1)
    return plus, np.maximum(plus, minus)


def systematically_absent(hkl: np.ndarray, sg: gemmi.SpaceGroup) -> np.ndarray:
    """(n,) bool: True for indices extinct by the space group's centring and screw/glide ops."""
    h = np.ascontiguousarray(np.asarray(hkl).reshape(-1, 3), dtype=np.int32)
    return np.asarray(sg.operations().systematic_absences(h), dtype=bool)


@dataclass(frozen=True)
class TrueIntensities:
    """The ground truth: ASU indices (gemmi's ASU), I(+) and I(-) (equal unless anomalous).

    miller_index : (m, 3) int32 ; intensity_plus, intensity_minus : (m,) float64 ;
    centric : (m,) bool ; epsilon : (m,) int
    """

    space_group: gemmi.SpaceGroup
    cell: gemmi.UnitCell
    miller_index: np.ndarray
    intensity_plus: np.ndarray
    intensity_minus: np.ndarray
    centric: np.ndarray
    epsilon: np.ndarray
    anomalous: bool

    def __len__(self) -> int:
        return len(self.miller_index)

    def lookup(self, hkl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(I, found) for any indices: I of the equivalent in the table (0 where absent or
        beyond d_min; found False there). Friedel '-' members get I(-)."""
        hkl = np.asarray(hkl).reshape(-1, 3)
        t_plus, t_all = canonical_keys(self.miller_index, self.space_group)
        q_plus, q_all = canonical_keys(hkl, self.space_group)
        order = np.argsort(t_all)
        pos = np.clip(np.searchsorted(t_all, q_all, sorter=order), 0, len(order) - 1)
        row = order[pos]
        found = t_all[row] == q_all
        is_plus = q_plus == t_plus[row]
        value = np.where(is_plus, self.intensity_plus[row], self.intensity_minus[row])
        return np.where(found, value, 0.0), found

    def __repr__(self) -> str:
        return f"<TrueIntensities {len(self):,} unique reflections {self.space_group.hm}{' anomalous' if self.anomalous else ''}>"


def _asu_list(cell: gemmi.UnitCell, sg: gemmi.SpaceGroup, d_min: float) -> np.ndarray:
    hkl = np.asarray(gemmi.make_miller_array(cell, sg, d_min, 0.0, True), dtype=np.int32).reshape(-1, 3)
    return hkl[~systematically_absent(hkl, sg)]


def _table(cell, sg, hkl, i_plus, i_minus, anomalous) -> TrueIntensities:  # type: ignore[no-untyped-def]
    ops = sg.operations()
    h = np.ascontiguousarray(hkl, dtype=np.int32)
    return TrueIntensities(
        space_group=sg,
        cell=cell,
        miller_index=h,
        intensity_plus=np.asarray(i_plus, dtype=np.float64),
        intensity_minus=np.asarray(i_minus, dtype=np.float64),
        centric=np.asarray(ops.centric_flag_array(h), dtype=bool),
        epsilon=np.asarray(ops.epsilon_factor_array(h), dtype=np.int64),
        anomalous=anomalous,
    )


def _anomalous_split(i: np.ndarray, centric: np.ndarray, fraction: float, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    delta = np.clip(rng.normal(0.0, fraction, size=len(i)), -0.9, 0.9)
    delta[centric] = 0.0
    return i * (1 + delta), i * (1 - delta)


def wilson_intensities(
    cell: gemmi.UnitCell,
    sg: gemmi.SpaceGroup,
    d_min: float,
    *,
    mean: float,
    b_factor: float,
    seed: int,
    anomalous_fraction: float | None = None,
) -> TrueIntensities:
    """Random intensities with Wilson statistics for the whole ASU to d_min (A)."""
    hkl = _asu_list(cell, sg, d_min)
    ops = sg.operations()
    centric = np.asarray(ops.centric_flag_array(hkl), dtype=bool)
    eps = np.asarray(ops.epsilon_factor_array(hkl), dtype=np.float64)
    d = _d_spacing(cell, hkl)
    rng = np.random.default_rng(seed)
    expo = rng.exponential(1.0, size=len(hkl))
    gauss = rng.normal(0.0, 1.0, size=len(hkl))
    unit_i = np.where(centric, gauss**2, expo)
    i = mean * eps * np.exp(-b_factor / (2.0 * d**2)) * unit_i
    if anomalous_fraction is None:
        return _table(cell, sg, hkl, i, i, False)
    i_plus, i_minus = _anomalous_split(i, centric, anomalous_fraction, rng)
    return _table(cell, sg, hkl, i_plus, i_minus, True)


def _d_spacing(cell: gemmi.UnitCell, hkl: np.ndarray) -> np.ndarray:
    frac = np.array(cell.frac.mat.tolist(), dtype=np.float64)  # rows: a*, b*, c* components
    q = np.asarray(hkl, dtype=np.float64) @ frac
    return 1.0 / np.linalg.norm(q, axis=1)


def model_intensities(
    path: str,
    cell: gemmi.UnitCell,
    sg: gemmi.SpaceGroup,
    d_min: float,
    *,
    mean: float,
    seed: int,
    anomalous_fraction: float | None = None,
) -> TrueIntensities:
    """|F|^2 from an atomic model (PDB/mmCIF) via gemmi's density FFT, scaled so that
    <I / eps> = mean at low resolution. The model's own cell and space group are used when
    they match the simulation's; otherwise an InputDataError says so."""
    try:
        st = gemmi.read_structure(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputDataError(path, f"cannot read the model ({exc})") from None
    st.setup_entities()
    model_sg = gemmi.find_spacegroup_by_name(st.spacegroup_hm) if st.spacegroup_hm else None
    if model_sg is not None and model_sg.number != sg.number:
        raise InputDataError(path, f"model space group {model_sg.hm} differs from crystal.space_group {sg.hm}")
    if not st.cell.approx(cell, 0.01 * min(cell.a, cell.b, cell.c)):
        raise InputDataError(path, f"model cell {st.cell.parameters} differs from crystal.unit_cell {cell.parameters}")
    st.cell = cell
    st.spacegroup_hm = sg.xhm()
    dc = gemmi.DensityCalculatorX()
    dc.d_min = d_min
    dc.rate = 1.5
    dc.set_refmac_compatible_blur(st[0])
    dc.grid.setup_from(st)
    dc.put_model_density_on_grid(st[0])
    sf = gemmi.transform_map_to_f_phi(dc.grid)
    asu = sf.prepare_asu_data(dmin=d_min)
    hkl = np.asarray(asu.miller_array, dtype=np.int32)
    d = _d_spacing(cell, hkl)
    unblur = np.array([dc.reciprocal_space_multiplier(float(x)) for x in 1.0 / d**2])
    f = np.abs(np.asarray(asu.value_array)) * unblur
    keep = ~systematically_absent(hkl, sg) & (d >= d_min)
    hkl, i, d = hkl[keep], f[keep] ** 2, d[keep]
    ops = sg.operations()
    eps = np.asarray(ops.epsilon_factor_array(np.ascontiguousarray(hkl)), dtype=np.float64)
    low = d > np.percentile(d, 70) if len(d) > 10 else np.ones(len(d), dtype=bool)
    norm = float(np.mean(i[low] / eps[low])) or 1.0
    i = i * (mean / norm)
    if anomalous_fraction is None:
        return _table(cell, sg, hkl, i, i, False)
    centric = np.asarray(ops.centric_flag_array(np.ascontiguousarray(hkl)), dtype=bool)
    i_plus, i_minus = _anomalous_split(i, centric, anomalous_fraction, np.random.default_rng(seed))
    return _table(cell, sg, hkl, i_plus, i_minus, True)
