"""The NumPy reference connectome shared by the topology oracle tests (a module, not a test: only
tests/test_*.py are registered)."""
import numpy as np


def ref_connectome(a):
    """|corrcoef| with zero diagonal; a dead (exactly constant) signal correlates 0 with every
    other (METHOD.md section 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.abs(np.corrcoef(a, rowvar=False))
    dead = np.all(a == a[0], axis=0)
    c[dead, :] = 0.0
    c[:, dead] = 0.0
    c = np.nan_to_num(c, nan=0.0)
    np.fill_diagonal(c, 0.0)
    return np.minimum(c, 1.0)
