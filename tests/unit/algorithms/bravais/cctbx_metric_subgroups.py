"""Run under cctbx (python of /work/main/.venv-cctbx): metric subgroups of cells as JSON.

stdin: JSON list of [a, b, c, alpha, beta, gamma]; stdout: one list per cell of
{bravais, max_angular_difference, cb_op, unit_cell} (cctbx.sgtbx.lattice_symmetry, bravais
types only, max_delta 5, best_monoclinic_beta). Not a pytest module (no test_ prefix).
"""

import json
import sys

from cctbx import crystal
from cctbx.sgtbx import bravais_types, lattice_symmetry

out = []
for cell in json.load(sys.stdin):
    cs = crystal.symmetry(unit_cell=cell, space_group_symbol="P1")
    groups = lattice_symmetry.metric_subgroups(cs, max_delta=5, bravais_types_only=True, best_monoclinic_beta=True)
    out.append([
        {
            "bravais": str(bravais_types.bravais_lattice(group=g["best_subsym"].space_group())),
            "max_angular_difference": g["max_angular_difference"],
            "cb_op": g["cb_op_inp_best"].as_abc(),
            "unit_cell": list(g["best_subsym"].unit_cell().parameters()),
        }
        for g in groups.result_groups
    ])
json.dump(out, sys.stdout)
