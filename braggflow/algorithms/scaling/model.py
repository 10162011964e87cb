"""The physical scaling model (dials.scale ``physical``, algorithms.md 9.2).

Inverse scale of observation l: g = C(φ) · exp(B(φ)/(2d²)) · A(ŝ0c, ŝ1c).

* C and B are Gaussian-smoothed over nodes spaced ``scale_interval`` / ``decay_interval``
  degrees across each sweep (auto intervals by sweep width as DIALS).
* A = 1 + Σ_{l=1..lmax} Σ_m c_lm · ½[Y_lm(ŝ0c) + Y_lm(ŝ1c)] with real spherical harmonics of
  the beam directions in the crystal frame (only where the data carry orientations).

Every component is linear in its parameters, so g and ∂g/∂p are cheap closed forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import sph_harm_y

__all__ = ["auto_intervals", "Smoother", "real_sph_harm", "PhysicalModel", "build_model"]


def auto_intervals(width_deg: float) -> tuple[float, float]:
    """(scale_interval, decay_interval) in degrees from the sweep width, as dials.scale."""
    for limit, s, d in ((5, 1.0, 1.5), (10, 2.0, 3.0), (25, 4.0, 5.0), (90, 8.0, 10.0)):
        if width_deg < limit:
            return s, d
    return 15.0, 20.0


@dataclass
class Smoother:
    """Gaussian smoother over evenly spaced nodes covering [lo, hi]."""

    lo: float
    hi: float
    n_nodes: int

    @classmethod
    def for_range(cls, lo: float, hi: float, interval: float) -> "Smoother":
        width = max(hi - lo, 1e-6)
        n = max(2, int(np.ceil(width / interval)) + 1) if width > interval else 2 if width > 0.5 * interval else 1
        return cls(lo, hi, n)

    def weights(self, x: np.ndarray) -> np.ndarray:
        """(len(x), n_nodes) normalised kernel weights."""
        if self.n_nodes == 1:
            return np.ones((len(x), 1))
        nodes = np.linspace(self.lo, self.hi, self.n_nodes)
        spacing = nodes[1] - nodes[0]
        k = np.exp(-0.5 * ((x[:, None] - nodes[None, :]) / (0.65 * spacing)) ** 2)
        return k / np.maximum(k.sum(axis=1, keepdims=True), 1e-300)


def real_sph_harm(lmax: int, v: np.ndarray) -> np.ndarray:
    """(n, lmax(lmax+2)) real spherical harmonics, l = 1..lmax, m = −l..l, of unit vectors."""
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    theta = np.arccos(np.clip(z, -1, 1))
    phi = np.arctan2(y, x)
    cols = []
    for ell in range(1, lmax + 1):
        for m in range(-ell, ell + 1):
            Y = sph_harm_y(ell, abs(m), theta, phi)
            if m > 0:
                cols.append(np.sqrt(2) * (-1) ** m * Y.real)
            elif m < 0:
                cols.append(np.sqrt(2) * (-1) ** m * Y.imag)
            else:
                cols.append(Y.real)
    return np.stack(cols, axis=1)


@dataclass
class PhysicalModel:
    """Design matrices per component and the parameter vector layout."""

    K_scale: np.ndarray  # (n, ns) smoother weights, block-diagonal over datasets
    K_decay: np.ndarray  # (n, nd)
    Y_abs: np.ndarray  # (n, na) harmonics (½[Y(s0)+Y(s1)]); na may be 0
    inv_2d2: np.ndarray  # 1/(2 d²)
    ns: int
    nd: int
    na: int
    decay_on: bool
    scale_datasets: np.ndarray  # dataset of each scale parameter
    decay_datasets: np.ndarray
    abs_datasets: np.ndarray

    @property
    def n_params(self) -> int:
        return self.ns + self.nd + self.na

    def initial(self) -> np.ndarray:
        return np.concatenate([np.ones(self.ns), np.zeros(self.nd), np.zeros(self.na)])

    def split(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return p[: self.ns], p[self.ns : self.ns + self.nd], p[self.ns + self.nd :]

    def components(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c, b, a = self.split(p)
        C = self.K_scale @ c
        D = np.exp(np.clip((self.K_decay @ b) * self.inv_2d2, -50, 50)) if self.nd else np.ones(len(C))
        A = 1.0 + (self.Y_abs @ a if self.na else 0.0)
        return C, D, A

    def g(self, p: np.ndarray) -> np.ndarray:
        C, D, A = self.components(p)
        return C * D * A

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        """(n, n_params) ∂g/∂p."""
        C, D, A = self.components(p)
        cols = [self.K_scale * (D * A)[:, None]]
        if self.nd:
            cols.append(self.K_decay * (C * D * A * self.inv_2d2)[:, None])
        if self.na:
            cols.append(self.Y_abs * (C * D)[:, None])
        return np.concatenate(cols, axis=1)

    def normalise(self, p: np.ndarray) -> np.ndarray:
        """Remove the degeneracies with the merged intensities: mean scale 1 and mean B 0
        per dataset (a global factor and a global B are absorbed by Ĩ)."""
        c, b, a = (x.copy() for x in self.split(p))
        for ds in np.unique(self.scale_datasets):
            sel = self.scale_datasets == ds
            m = c[sel].mean()
            if m > 0:
                c[sel] /= m
        if self.nd:
            b -= b.mean()
        return np.concatenate([c, b, a])


def build_model(phi_deg: np.ndarray, dataset: np.ndarray, d: np.ndarray, s0c: np.ndarray | None, s1c: np.ndarray | None, *,
                scale_interval: float | None = None, decay_interval: float | None = None, decay: bool = True,
                absorption: bool | None = None, lmax: int = 4) -> PhysicalModel:
    """Model for observations at φ (degrees) in datasets (sweeps); absorption on when the
    geometry is known and (auto) a sweep is wider than 60°."""
    n = len(phi_deg)
    ks, kd, sd, dd = [], [], [], []
    widths = {}
    for ds in np.unique(dataset):
        sel = dataset == ds
        lo, hi = float(np.min(phi_deg[sel])), float(np.max(phi_deg[sel]))
        widths[ds] = hi - lo
        si, di = auto_intervals(hi - lo)
        s = Smoother.for_range(lo, hi, scale_interval or si)
        ks.append((sel, s))
        sd += [ds] * s.n_nodes
        if decay:
            t = Smoother.for_range(lo, hi, decay_interval or di)
            kd.append((sel, t))
            dd += [ds] * t.n_nodes
    ns = sum(s.n_nodes for _, s in ks)
    K_scale = np.zeros((n, ns))
    col = 0
    for sel, s in ks:
        K_scale[np.ix_(sel, np.arange(col, col + s.n_nodes))] = s.weights(phi_deg[sel])
        col += s.n_nodes
    nd = sum(t.n_nodes for _, t in kd)
    K_decay = np.zeros((n, nd))
    col = 0
    for sel, t in kd:
        K_decay[np.ix_(sel, np.arange(col, col + t.n_nodes))] = t.weights(phi_deg[sel])
        col += t.n_nodes
    have_geom = s0c is not None and s1c is not None and np.isfinite(s0c).all() and np.isfinite(s1c).all()
    if absorption is None:
        absorption = have_geom and max(widths.values()) > 60.0
    absorption = bool(absorption and have_geom)
    Y = np.zeros((n, 0))
    ad: list = []
    if absorption:
        blocks = []
        base = 0.5 * (real_sph_harm(lmax, s0c) + real_sph_harm(lmax, s1c))
        for ds in np.unique(dataset):
            sel = (dataset == ds)[:, None]
            blocks.append(base * sel)
            ad += [ds] * base.shape[1]
        Y = np.concatenate(blocks, axis=1)
    return PhysicalModel(
        K_scale=K_scale, K_decay=K_decay, Y_abs=Y, inv_2d2=1.0 / (2 * d**2), ns=ns, nd=nd, na=Y.shape[1],
        decay_on=bool(decay), scale_datasets=np.array(sd), decay_datasets=np.array(dd), abs_datasets=np.array(ad),
    )
