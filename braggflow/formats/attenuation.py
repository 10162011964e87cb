"""Linear X-ray attenuation coefficient mu of detector sensor materials (Si, CdTe).

dxtbx sets each photon-counting panel's `mu` from the NIST mass attenuation tables
(J. H. Hubbell and S. M. Seltzer, NIST Standard Reference Database 126: total mu/rho with
coherent scattering), as tabulated in cctbx `eltbx/attenuation_coefficient`: log-log linear
interpolation of mu/rho between the tabulated energies, times the density. The numbers below
are those tables for Si (density 2.33 g/cm^3) and the CdTe compound (6.2 g/cm^3) from 5 keV
to 150 keV, which covers every macromolecular beamline; the energy conversion uses
hc = 12398.419843320026 eV*A (CODATA 2018), which reproduces DIALS 3.12's stored mu to 1e-12.
"""

from __future__ import annotations

import bisect
import math

EV_ANGSTROM = 12398.419843320026

# energy (MeV), mu/rho (cm^2/g); absorption edges appear as repeated energies
_SI = (
    2.33,
    (0.001, 0.0015, 0.0018389, 0.0018389, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.015, 0.02,
     0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2),
    (1570.0, 535.5, 309.2, 3192.0, 2777.0, 978.4, 452.9, 245.0, 147.0, 64.68, 33.89, 10.34, 4.464,
     1.436, 0.7012, 0.4385, 0.3207, 0.2228, 0.1835, 0.1448, 0.1275),
)
_CDTE = (
    6.2,
    (0.0010, 0.001003, 0.001006, 0.001006, 0.00150, 0.0020, 0.0030, 0.003537, 0.003537, 0.003631,
     0.003727, 0.003727, 0.0040, 0.004018, 0.004018, 0.004177, 0.004341, 0.004341, 0.004475,
     0.004612, 0.004612, 0.004773, 0.004939, 0.004939, 0.0050, 0.0060, 0.0080, 0.010, 0.0150,
     0.020, 0.026711, 0.026711, 0.030, 0.031814, 0.031814, 0.040, 0.050, 0.060, 0.080, 0.10,
     0.150, 0.20),
    (7927.0, 7875.0, 7824.0, 8014.0, 3291.0, 1664.0, 614.60, 406.40, 778.70, 730.0, 684.0, 860.10,
     723.0, 715.10, 793.40, 722.10, 656.20, 932.80, 873.90, 813.50, 943.80, 870.20, 799.90, 865.30,
     839.20, 528.60, 249.20, 138.10, 46.570, 21.440, 9.8340, 29.430, 21.820, 18.730, 34.920, 19.30,
     10.670, 6.5420, 3.0190, 1.6710, 0.60710, 0.32460),
)
_TABLES = {"Si": _SI, "CdTe": _CDTE}


def mu_per_mm(material: str, wavelength_A: float) -> float:
    """Linear attenuation coefficient (1/mm) of `material` ("Si" or "CdTe") at `wavelength_A`.

    Returns 0.0 for an unknown material or an energy outside the table (e.g. electrons),
    which switches the parallax correction off for that panel.
    """
    table = _TABLES.get(material)
    if table is None or wavelength_A <= 0:
        return 0.0
    density, energies, mu_rho = table
    energy_mev = EV_ANGSTROM / wavelength_A / 1.0e6
    index = bisect.bisect_right(energies, energy_mev) - 1
    if index < 0 or index >= len(energies) - 1:
        return 0.0
    x0, x1 = math.log(energies[index]), math.log(energies[index + 1])
    y0, y1 = math.log(mu_rho[index]), math.log(mu_rho[index + 1])
    value = math.exp(y0 + (y1 - y0) * (math.log(energy_mev) - x0) / (x1 - x0))
    return value * density / 10.0


__all__ = ["EV_ANGSTROM", "mu_per_mm"]
