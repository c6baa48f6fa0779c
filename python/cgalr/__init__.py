"""cgalr: the topology and the CG-ALR controller of libcgalr from Python (ctypes, no compiler).

The shared library is looked for, in order: next to this package (an installed copy), the file
named by the environment variable CGALR_LIBRARY, then the build tree of a source checkout
(<checkout>/build/libcgalr.so). Arrays go to the library by pointer (C-contiguous float64 or
float32; other arrays are converted once)."""
import ctypes
import math
import os

import numpy as np

__all__ = ["Error", "connectome", "barcode", "top_distance", "rips_diagram", "wasserstein",
           "sliced_wasserstein", "library_path"]


class Error(ValueError):
    """A failure reported by libcgalr; the message is the library's."""


def _candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, "libcgalr.so")]
    env = os.environ.get("CGALR_LIBRARY")
    if env:
        out.append(env)
    # a source checkout: python/cgalr/ -> <root>/build/
    out.append(os.path.join(os.path.dirname(os.path.dirname(here)), "build", "libcgalr.so"))
    return out


def _load():
    tried = []
    for path in _candidates():
        if os.path.exists(path):
            try:
                return ctypes.CDLL(path), path
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
        else:
            tried.append("%s (not found)" % path)
    raise ImportError("cgalr: cannot load libcgalr.so; looked for: " + "; ".join(tried) +
                      ". Install with cmake --install, or set CGALR_LIBRARY to the library's path.")


_lib, library_path = _load()

_dp = ctypes.POINTER(ctypes.c_double)
_fp = ctypes.POINTER(ctypes.c_float)
_sz = ctypes.c_size_t


class _Barcode(ctypes.Structure):
    _fields_ = [("p", _sz), ("n_births", _sz), ("n_deaths", _sz), ("births", _dp), ("deaths", _dp)]


class _Pair(ctypes.Structure):
    _fields_ = [("birth", ctypes.c_double), ("death", ctypes.c_double)]


class _Diagram(ctypes.Structure):
    _fields_ = [("n", _sz), ("pairs", ctypes.POINTER(_Pair))]


def _sig(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_lib.cgalr_last_error.restype = ctypes.c_char_p
_lib.cgalr_last_error.argtypes = []
_st = ctypes.c_int
_connectome_d = _sig("cgalr_topo_connectome_d", _st, _dp, _sz, _sz, _dp)
_connectome_f = _sig("cgalr_topo_connectome_f", _st, _fp, _sz, _sz, _dp)
_barcode = _sig("cgalr_topo_barcode", _st, _dp, _sz, ctypes.POINTER(_Barcode))
_barcode_free = _sig("cgalr_barcode_free", None, ctypes.POINTER(_Barcode))
_top = _sig("cgalr_topo_top", _st, ctypes.POINTER(_Barcode), ctypes.POINTER(_Barcode), _dp)
_rips = _sig("cgalr_topo_rips", _st, _dp, _sz, ctypes.c_int, ctypes.c_double,
             ctypes.POINTER(_Diagram), ctypes.POINTER(_Diagram))
_diagram_free = _sig("cgalr_diagram_free", None, ctypes.POINTER(_Diagram))
_w1 = _sig("cgalr_topo_wasserstein1", _st, ctypes.POINTER(_Diagram), ctypes.POINTER(_Diagram), _dp)
_sw = _sig("cgalr_topo_sliced_wasserstein", _st, ctypes.POINTER(_Diagram), ctypes.POINTER(_Diagram),
           ctypes.c_int, _dp)


def _check(status, what):
    if status != 0:
        msg = _lib.cgalr_last_error().decode("utf-8", "replace")
        raise Error("%s: %s" % (what, msg or "status %d" % status))


def _ptr(a, ctype):
    return a.ctypes.data_as(ctypes.POINTER(ctype))


def _matrix(a, name, dtype=np.float64):
    a = np.asarray(a)
    if a.ndim != 2:
        raise Error("%s: expected a 2-d array, got shape %s" % (name, a.shape))
    return np.ascontiguousarray(a, dtype=dtype)


def connectome(act):
    """N x P activations (rows = samples) -> P x P |Pearson| connectome, float64 (METHOD.md 2)."""
    a = np.asarray(act)
    dt = np.float32 if a.dtype == np.float32 else np.float64
    a = _matrix(a, "connectome", dt)
    n, p = a.shape
    out = np.empty((p, p), dtype=np.float64)
    if dt == np.float32:
        _check(_connectome_f(_ptr(a, ctypes.c_float), n, p, _ptr(out, ctypes.c_double)), "connectome")
    else:
        _check(_connectome_d(_ptr(a, ctypes.c_double), n, p, _ptr(out, ctypes.c_double)), "connectome")
    return out


def _square(m, name):
    m = _matrix(m, name)
    if m.shape[0] != m.shape[1]:
        raise Error("%s: expected a square matrix, got shape %s" % (name, m.shape))
    return m


def _barcode_of(m, name):
    m = _square(m, name)
    b = _Barcode()
    st = _barcode(_ptr(m, ctypes.c_double), m.shape[0], ctypes.byref(b))
    if st != 0:
        _barcode_free(ctypes.byref(b))
        _check(st, name)
    return b


def barcode(m):
    """Graph-filtration barcode of a connectome: (births (p-1,), deaths ((p-1)(p-2)/2,)), ascending."""
    b = _barcode_of(m, "barcode")
    try:
        births = np.ctypeslib.as_array(b.births, (b.n_births,)).copy() if b.n_births else np.empty(0)
        deaths = np.ctypeslib.as_array(b.deaths, (b.n_deaths,)).copy() if b.n_deaths else np.empty(0)
    finally:
        _barcode_free(ctypes.byref(b))
    return births, deaths


def top_distance(m1, m2):
    """TOP(M1, M2): summed squared differences of sorted births and of sorted deaths."""
    a = _barcode_of(m1, "top_distance (M1)")
    try:
        b = _barcode_of(m2, "top_distance (M2)")
        try:
            out = ctypes.c_double()
            _check(_top(ctypes.byref(a), ctypes.byref(b), ctypes.byref(out)), "top_distance")
            return out.value
        finally:
            _barcode_free(ctypes.byref(b))
    finally:
        _barcode_free(ctypes.byref(a))


def _to_numpy(d):
    if d.n == 0:
        return np.empty((0, 2))
    return np.array([(d.pairs[i].birth, d.pairs[i].death) for i in range(d.n)], dtype=np.float64)


def rips_diagram(dist, dim=1, threshold=None):
    """Vietoris-Rips persistence of a distance matrix: the diagram of dimension `dim` (0 or 1) as
    a k x 2 array of (birth, death), death = inf for essential classes."""
    if dim not in (0, 1):
        raise Error("rips_diagram: dim must be 0 or 1, got %r" % (dim,))
    d = _square(dist, "rips_diagram")
    thr = math.inf if threshold is None else float(threshold)
    g0, g1 = _Diagram(), _Diagram()
    try:
        _check(_rips(_ptr(d, ctypes.c_double), d.shape[0], dim, thr, ctypes.byref(g0),
                     ctypes.byref(g1) if dim == 1 else None), "rips_diagram")
        return _to_numpy(g1 if dim == 1 else g0)
    finally:
        _diagram_free(ctypes.byref(g0))
        if dim == 1:
            _diagram_free(ctypes.byref(g1))


def _diagram_view(x, name):
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1, 2) if np.size(x) else np.empty((0, 2)))
    if np.ndim(x) != 2 and np.size(x):
        raise Error("%s: a diagram is a k x 2 array of (birth, death)" % name)
    d = _Diagram(a.shape[0], a.ctypes.data_as(ctypes.POINTER(_Pair)) if a.shape[0] else None)
    return d, a  # keep `a` alive while `d` is used


def wasserstein(d1, d2):
    """Exact 1-Wasserstein distance between two diagrams (GUDHI order=1, internal_p=2)."""
    a, ka = _diagram_view(d1, "wasserstein (d1)")
    b, kb = _diagram_view(d2, "wasserstein (d2)")
    out = ctypes.c_double()
    _check(_w1(ctypes.byref(a), ctypes.byref(b), ctypes.byref(out)), "wasserstein")
    return out.value


def sliced_wasserstein(d1, d2, directions=50):
    """Sliced Wasserstein distance (Carriere et al. 2017) with `directions` directions."""
    a, ka = _diagram_view(d1, "sliced_wasserstein (d1)")
    b, kb = _diagram_view(d2, "sliced_wasserstein (d2)")
    if not isinstance(directions, int):
        raise Error("sliced_wasserstein: directions must be an int, got %r" % (directions,))
    out = ctypes.c_double()
    _check(_sw(ctypes.byref(a), ctypes.byref(b), directions, ctypes.byref(out)), "sliced_wasserstein")
    return out.value
