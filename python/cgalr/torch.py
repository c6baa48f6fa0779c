"""cgalr.torch.ConnectomeLR: the CG-ALR controller (METHOD.md section 4) as a PyTorch
learning-rate scheduler, stepped once per iteration like OneCycleLR.

The connectome is that of a fixed probe, run in eval mode under no_grad, captured with forward
hooks on `layers`; outputs with spatial dimensions (conv maps) are averaged over them, one signal
per channel, as the C engine does. The controller itself (history, robust score, gate, multiplier,
envelope) is libcgalr's scheduler; this module only feeds it connectomes and applies its rate."""
import ctypes
import math

import numpy as np
import torch

from . import Error, _check, _lib, _ptr, connectome as _connectome

__all__ = ["ConnectomeLR"]


class _Trace(ctypes.Structure):
    # mirrors cgalr_sched_trace_t (include/cgalr/ctrl.h)
    _fields_ = [("t", ctypes.c_long), ("progress", ctypes.c_double), ("d", ctypes.c_double),
                ("median", ctypes.c_double), ("mad", ctypes.c_double), ("z", ctypes.c_double),
                ("state", ctypes.c_int), ("rho", ctypes.c_double), ("eta", ctypes.c_double),
                ("history", ctypes.c_size_t), ("flags", ctypes.c_uint)]


_vp = ctypes.c_void_p
_lib.cgalr_method_parse.restype = ctypes.c_int
_lib.cgalr_method_parse.argtypes = [ctypes.c_char_p]
_lib.cgalr_sched_config_default.restype = None
_lib.cgalr_sched_config_default.argtypes = [_vp, ctypes.c_int]
_lib.cgalr_sched_config_set.restype = ctypes.c_int
_lib.cgalr_sched_config_set.argtypes = [_vp, ctypes.c_char_p]
_lib.cgalr_sched_create.restype = ctypes.c_int
_lib.cgalr_sched_create.argtypes = [_vp, ctypes.POINTER(_vp)]
_lib.cgalr_sched_free.restype = None
_lib.cgalr_sched_free.argtypes = [_vp]
_lib.cgalr_sched_lr.restype = ctypes.c_double
_lib.cgalr_sched_lr.argtypes = [_vp, ctypes.c_long, ctypes.c_double]
_lib.cgalr_sched_observe_connectome.restype = ctypes.c_int
_lib.cgalr_sched_observe_connectome.argtypes = [_vp, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t,
                                                ctypes.c_double, ctypes.POINTER(_Trace)]
_lib.cgalr_sched_save.restype = ctypes.c_int
_lib.cgalr_sched_save.argtypes = [_vp, _vp, ctypes.POINTER(ctypes.c_size_t)]
_lib.cgalr_sched_load.restype = ctypes.c_int
_lib.cgalr_sched_load.argtypes = [_vp, ctypes.c_char_p, ctypes.c_size_t]

_GATES = ("HOLD", "DECEL", "ACCEL")
# cgalr_sched_config_t is filled and read only by the library (default + "name=value"), so
# Python never mirrors its layout; this is comfortably more than its size.
_CONFIG_BYTES = 4096


def _fmt(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


class ConnectomeLR:
    """sched = ConnectomeLR(optimizer, model, probe, epochs, steps_per_epoch, layers=None,
    distance="top", ctrl_every=None, **options); call sched.step() after every optimizer.step().

    Every param group's rate is its own initial lr times a(s) * rho (envelope and multiplier of
    the controller). `options` are the controller options of METHOD.md section 4 under their C
    names (K, score, tau_enter, tau_exit, gamma_dec, gamma_inc, rho_min, rho_max, alpha, s0,
    max_retries, p_ph, topo_seed, sw_directions, warmup), validated by the library."""

    def __init__(self, optimizer, model, probe, epochs, steps_per_epoch, layers=None, distance="top",
                 ctrl_every=None, **options):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise Error("ConnectomeLR: optimizer must be a torch.optim.Optimizer, got %s" % type(optimizer).__name__)
        if not isinstance(model, torch.nn.Module):
            raise Error("ConnectomeLR: model must be a torch.nn.Module, got %s" % type(model).__name__)
        for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise Error("ConnectomeLR: %s must be a positive int, got %r" % (name, v))
        if ctrl_every is not None and (not isinstance(ctrl_every, int) or isinstance(ctrl_every, bool)
                                       or ctrl_every < 1):
            raise Error("ConnectomeLR: ctrl_every must be a positive int or None, got %r" % (ctrl_every,))
        if distance not in ("top", "wd", "swk"):
            raise Error("ConnectomeLR: distance must be 'top', 'wd' or 'swk', got %r" % (distance,))
        for reserved in ("lr", "epochs", "iters_per_epoch", "method", "distance", "ctrl_every"):
            if reserved in options:
                raise Error("ConnectomeLR: option %r is set by the scheduler itself, not as an option" % reserved)
        self.optimizer = optimizer
        self.model = model
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.ctrl_every = ctrl_every if ctrl_every is not None else steps_per_epoch
        self.distance = distance
        self._sched = _vp()
        self._create(distance, epochs, steps_per_epoch, options)
        self.layers = self._resolve_layers(layers)
        self._probe = self._probe_batches(probe)
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.iteration = 0
        self.trace = []
        self._observe(0.0)  # M_0
        self._apply()

    # ---- construction ------------------------------------------------------------------------
    def _create(self, distance, epochs, steps, options):
        method = _lib.cgalr_method_parse(("cgalr-" + distance).encode())
        cfg = ctypes.create_string_buffer(_CONFIG_BYTES)
        _lib.cgalr_sched_config_default(cfg, method)
        # eta0 = 1: the library's rate is then the factor a(s) rho applied to every group's own lr
        sets = [("lr", 1), ("epochs", epochs), ("iters_per_epoch", steps)]
        sets += sorted(options.items())
        for k, v in sets:
            _check(_lib.cgalr_sched_config_set(cfg, ("%s=%s" % (k, _fmt(v))).encode()), "ConnectomeLR option %s" % k)
        _check(_lib.cgalr_sched_create(cfg, ctypes.byref(self._sched)), "ConnectomeLR")

    def _resolve_layers(self, layers):
        mods = dict(self.model.named_modules())
        if layers is None:
            leaves = [n for n, m in self.model.named_modules() if n and not list(m.children())]
            if len(leaves) < 2:
                raise Error("ConnectomeLR: the model has no hidden module before its output; name layers=")
            layers = [leaves[-2]]
        elif isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise Error("ConnectomeLR: layers is empty")
        for n in layers:
            if n not in mods:
                raise Error("ConnectomeLR: unknown layer %r (model.named_modules() has: %s)" %
                            (n, ", ".join(k for k in mods if k)))
        return layers

    def _probe_batches(self, probe):
        if isinstance(probe, torch.Tensor):
            batches = [probe]
        else:
            batches = []
            for b in probe:
                if isinstance(b, (list, tuple)):
                    b = b[0]
                if not isinstance(b, torch.Tensor):
                    raise Error("ConnectomeLR: probe batches must be tensors, got %s" % type(b).__name__)
                batches.append(b)
        if not batches:
            raise Error("ConnectomeLR: the probe is empty")
        n = sum(int(b.shape[0]) for b in batches)
        if n < 2:
            raise Error("ConnectomeLR: the probe has %d sample(s); a connectome needs at least 2" % n)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # each rank runs its contiguous share of the probe's rows; the shares are gathered
            # in rank order, so every rank sees the rows of a one-process run in the same order
            allx = torch.cat(batches)
            w, r = torch.distributed.get_world_size(), torch.distributed.get_rank()
            lo, hi = r * n // w, (r + 1) * n // w
            return [allx[lo:hi]]
        return batches

    # ---- the connectome of the probe -----------------------------------------------------------
    def probe_activations(self):
        """The probe's signals (N x P float32 NumPy array: the hooked layers side by side)."""
        mods = dict(self.model.named_modules())
        caught = {n: [] for n in self.layers}

        def hook_for(name):
            def hook(_m, _inp, out):
                o = out[0] if isinstance(out, (tuple, list)) else out
                o = o.detach()
                if o.dim() > 2:  # conv maps: global average pool per channel
                    o = o.float().mean(dim=tuple(range(2, o.dim())))
                caught[name].append(o.reshape(o.shape[0], -1).float().cpu())
            return hook

        handles = [mods[n].register_forward_hook(hook_for(n)) for n in self.layers]
        was_training = self.model.training
        dev = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        try:
            self.model.eval()
            with torch.no_grad():
                for b in self._probe:
                    if b.shape[0]:
                        self.model(b.to(dev))
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        parts = [torch.cat(caught[n]) if caught[n] else torch.empty(0, 0) for n in self.layers]
        act = torch.cat(parts, dim=1).numpy() if len(parts) > 1 else parts[0].numpy()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, act)
            act = np.concatenate([g for g in gathered if g.size], axis=0)
        return np.ascontiguousarray(act, dtype=np.float32)

    def _observe(self, progress):
        m = _connectome(self.probe_activations())
        rec = _Trace()
        _check(_lib.cgalr_sched_observe_connectome(self._sched, _ptr(m, ctypes.c_double), m.shape[0], progress,
                                                   ctypes.byref(rec)), "ConnectomeLR controller step")
        self.trace.append({"epoch": progress, "t": rec.t, "d": rec.d, "median": rec.median, "mad": rec.mad,
                           "z": rec.z, "state": _GATES[rec.state], "rho": rec.rho, "lr": rec.eta,
                           "history": rec.history, "flags": rec.flags})

    # ---- the scheduler interface ---------------------------------------------------------------
    def _factor(self):
        return _lib.cgalr_sched_lr(self._sched, self.iteration, self.iteration / self.steps_per_epoch)

    def _apply(self):
        f = self._factor()
        if not math.isfinite(f):
            raise Error("ConnectomeLR: the controller's rate is not finite (%r)" % f)
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * f
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def step(self):
        """Once per iteration, after optimizer.step(): a controller step every ctrl_every
        iterations (default: once per epoch), then the rate of the next iteration."""
        self.iteration += 1
        if self.iteration % self.ctrl_every == 0:
            self._observe(self.iteration / self.steps_per_epoch)
        self._apply()

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        size = ctypes.c_size_t(0)
        _check(_lib.cgalr_sched_save(self._sched, None, ctypes.byref(size)), "ConnectomeLR state_dict")
        buf = ctypes.create_string_buffer(size.value)
        _check(_lib.cgalr_sched_save(self._sched, buf, ctypes.byref(size)), "ConnectomeLR state_dict")
        return {"iteration": self.iteration, "base_lrs": list(self.base_lrs), "controller": buf.raw[:size.value],
                "trace": [dict(r) for r in self.trace], "distance": self.distance,
                "steps_per_epoch": self.steps_per_epoch, "ctrl_every": self.ctrl_every}

    def load_state_dict(self, state):
        for k in ("distance", "steps_per_epoch", "ctrl_every"):
            if state.get(k) != getattr(self, k):
                raise Error("ConnectomeLR load_state_dict: saved %s = %r, this scheduler has %r" %
                            (k, state.get(k), getattr(self, k)))
        if len(state["base_lrs"]) != len(self.optimizer.param_groups):
            raise Error("ConnectomeLR load_state_dict: saved %d param groups, the optimizer has %d" %
                        (len(state["base_lrs"]), len(self.optimizer.param_groups)))
        blob = bytes(state["controller"])
        _check(_lib.cgalr_sched_load(self._sched, blob, len(blob)), "ConnectomeLR load_state_dict")
        self.iteration = int(state["iteration"])
        self.base_lrs = list(state["base_lrs"])
        self.trace = [dict(r) for r in state["trace"]]
        self._apply()

    def __del__(self):
        s = getattr(self, "_sched", None)
        if s:
            _lib.cgalr_sched_free(s)
            self._sched = _vp()
