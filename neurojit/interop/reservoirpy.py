"""ReservoirPy's ``Reservoir`` node on neurojit's reservoir kernels (extra ``reservoirpy``).

:class:`Reservoir` is a subclass of :class:`reservoirpy.nodes.Reservoir` with the same
constructor: the same arguments and seed build the same matrices (ReservoirPy builds them),
and its states equal ReservoirPy's (to rounding: within 1e-12 in float64). Its ``run``,
``step`` and the steps a ``Model`` takes go to neurojit's ``reservoir_run`` and
``reservoir_update`` kernels, with ReservoirPy's matrices as they are: a sparse ``W`` or
``Win`` stays sparse, an ``lr`` array is one leak rate per unit. ReservoirPy's update::

    x[t+1] = (1 - lr) * x[t] + lr * tanh(W @ x[t] + Win @ u[t+1] + bias)

is the kernels' with ``reservoir_weights = W.T``, ``input_weights = Win.T``.

What the kernels cannot express runs ReservoirPy's own code, unchanged: an activation
other than ``tanh``, a leak rate of 0 (or outside (0, 1]), weights or bias of other shapes
or types. A 3-D input (several sequences of one length) runs as one batch.

The matrices are read (and converted) when first used after they are assigned: assign a
new matrix (``node.W = ...``) to change them; changing one in place is not seen.
"""

from __future__ import annotations

import inspect

import numpy as np
from reservoirpy.activationsfunc import tanh as _rpy_tanh
from reservoirpy.nodes import Reservoir as _RPyReservoir
from reservoirpy.utils.data_validation import check_node_input

from ..validate import is_sparse

__all__ = ["Reservoir"]


class Reservoir(_RPyReservoir):
    __doc__ = (_RPyReservoir.__doc__ or "") + """

    neurojit: ``run`` and ``step`` use the compiled reservoir kernels (see
    :mod:`neurojit.interop.reservoirpy`); ``compiler`` (a keyword after ReservoirPy's
    arguments) supplies them, the global compiler when omitted.
    """

    def __init__(self, *args, compiler=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._neurojit_compiler = compiler
        self._neurojit_cache = (None, None)

    # ReservoirPy reads the constructor's parameters from its signature (ESN(units=...)).
    _signature = inspect.signature(_RPyReservoir.__init__)
    __init__.__signature__ = _signature.replace(parameters=[
        *_signature.parameters.values(),
        inspect.Parameter("compiler", inspect.Parameter.KEYWORD_ONLY, default=None),
    ])
    del _signature

    # -- the kernels ------------------------------------------------------------------

    def _neurojit_kernels(self):
        """``(run, step)`` bound to the node's current matrices, or None where the kernels
        cannot express the node (then ReservoirPy's code runs)."""
        key = (id(self.W), id(self.Win), id(self.bias), id(self.lr), id(self.activation))
        if self._neurojit_cache[0] == key:
            return self._neurojit_cache[1]
        kernels = self._neurojit_bind()
        self._neurojit_cache = (key, kernels)
        return kernels

    def _neurojit_bind(self):
        if self.activation is not _rpy_tanh:
            return None
        units = self.units
        weights = []
        for matrix, shape in ((self.W, (units, units)), (self.Win, (units, self.input_dim))):
            if not (is_sparse(matrix) or isinstance(matrix, np.ndarray)) or matrix.shape != shape:
                return None
            if matrix.dtype.kind != "f":
                return None
            weights.append(matrix.T)
        bias = self.bias
        if np.ndim(bias) == 0:
            bias = float(bias)
        else:  # (a (units, 1) bias broadcasts ReservoirPy's states to a matrix: its own code)
            bias = np.asarray(bias)
            if bias.shape != (units,) or bias.dtype.kind not in "biuf":
                return None
        lr = self.lr
        lr = float(lr) if np.ndim(lr) == 0 else np.asarray(lr, dtype=np.float64)
        if np.ndim(lr) and lr.shape != (units,):
            return None
        if not np.all((np.asarray(lr) > 0) & (np.asarray(lr) <= 1)):
            return None
        compiler = self._neurojit_compiler
        if compiler is None:
            from ..compiler import get_global_compiler

            compiler = get_global_compiler()
        arguments = {"input_weights": weights[1], "reservoir_weights": weights[0], "leak_rate": lr, "bias": bias}
        try:
            run = compiler.compile_reservoir_run_kernel().bind(**arguments)
            step = compiler.compile_reservoir_update_kernel().bind(**arguments)
        except (TypeError, ValueError):  # e.g. non-finite bias: ReservoirPy's code decides
            return None
        return run, step

    # -- ReservoirPy's Node interface ---------------------------------------------------

    def initialize(self, x, y=None):
        super().initialize(x, y)
        self._neurojit_cache = (None, None)

    def _step(self, state, x):
        kernels = self._neurojit_kernels()
        if kernels is None:
            return super()._step(state, x)
        s = np.asarray(state["out"], dtype=np.float64)
        u = np.asarray(x, dtype=np.float64).reshape(1, -1)
        return {"out": kernels[1](s.reshape(1, -1), u)[0]}

    def _run(self, state, x):
        kernels = self._neurojit_kernels()
        if kernels is None:
            return super()._run(state, x)
        s = np.asarray(state["out"], dtype=np.float64).reshape(1, -1)
        u = np.asarray(x, dtype=np.float64)
        states = kernels[0](u.reshape(1, *u.shape), s)[0]
        final = states[-1].copy() if states.shape[0] else s[0].copy()
        return {"out": final}, states

    def run(self, x=None, iters=None, workers=1):
        if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[0] > 1:
            check_node_input(x, expected_dim=self.input_dim)
            if not self.initialized:
                self.initialize(x)
            kernels = self._neurojit_kernels() if x.shape[-1] == self.input_dim else None
            if kernels is not None:  # several sequences of one length: one batch, each from the state
                s = np.asarray(self.state["out"], dtype=np.float64)
                states = kernels[0](x.astype(np.float64, copy=False), np.repeat(s[None], x.shape[0], axis=0))
                if states.shape[1]:
                    self.state = {"out": states[-1, -1].copy()}
                return states
        return super().run(x, iters=iters, workers=workers)
