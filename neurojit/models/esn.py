"""Echo State Network on the compiled reservoir kernel, with a ridge readout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .readout import RidgeReadout
from .tasks import nrmse
from ._setup import dtype_and_compiler

__all__ = ["EchoStateNetwork", "PRESETS", "sparse_random_matrix"]

#: Hyperparameters tuned (seeded random search) for the built-in tasks with a
#: 200 warm-up / 4000 train / 2000 test split; pass as ``EchoStateNetwork(n, **PRESETS[task])``.
PRESETS: dict[str, dict[str, float]] = {
    "narma10": dict(spectral_radius=0.95, input_scaling=0.1, bias_scaling=0.5, connectivity=0.2, ridge=1e-9),
    "mackey_glass": dict(
        spectral_radius=0.9, input_scaling=0.5, bias_scaling=0.1, input_offset=-0.9, connectivity=0.1, ridge=1e-10
    ),
}


def sparse_random_matrix(
    rng: np.random.Generator, shape: tuple[int, int], connectivity: float, distribution: str = "normal"
) -> np.ndarray:
    """Dense array with a fraction ``connectivity`` of non-zero entries.

    Each entry is non-zero with probability ``connectivity``; non-zero values are
    standard normal (``"normal"``) or uniform in [-1, 1] (``"uniform"``).
    """
    if not 0 < connectivity <= 1:
        raise ValueError(f"connectivity must be in (0, 1], got {connectivity}")
    mask = rng.random(shape) < connectivity
    if distribution == "normal":
        values = rng.standard_normal(shape)
    elif distribution == "uniform":
        values = rng.uniform(-1.0, 1.0, shape)
    else:
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    return np.where(mask, values, 0.0)


def _as_sequence(name: str, values: Any, width: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be (T,) or (T, {width or 'I'}), got shape {array.shape}")
    if width is not None and array.shape[1] != width:
        raise ValueError(f"{name} must be (T, {width}), got shape {array.shape}")
    return array


class EchoStateNetwork:
    """Leaky tanh reservoir (the ``reservoir_run`` kernel) with a trained linear readout.

    The reservoir follows (row-vector convention, ``W[j, i]`` connects unit ``j`` to ``i``)::

        x[t] = (1 - leak_rate) * x[t-1] + leak_rate * tanh(x[t-1] @ W + u[t] @ W_in + bias)

    which is ReservoirPy's ``Reservoir`` with ``W = reservoir_weights.T``. The readout is
    ``y[t] = [x[t], u[t]] @ W_out + b`` (the input is included when ``include_input``,
    the usual ESN practice), fitted by ridge regression on centred features after
    discarding ``warmup`` steps.

    Parameters
    ----------
    n_units : int
        Reservoir size ``N``.
    n_inputs : int
        Input dimension ``I``.
    spectral_radius : float
        ``W`` is rescaled to this largest absolute eigenvalue.
    leak_rate : float in (0, 1]
    input_scaling : float or array of shape (I,)
        ``W_in`` entries are uniform in [-1, 1] times this (per input row).
    bias_scaling : float
        ``bias`` entries are uniform in [-1, 1] times this.
    input_offset : float or array of shape (I,)
        Added to the inputs before they enter the reservoir (not the readout), to move
        the operating point of the tanh.
    connectivity : float in (0, 1]
        Fraction of non-zero entries in ``W``.
    input_connectivity : float in (0, 1]
        Fraction of non-zero entries in ``W_in``.
    ridge : float
        Readout regularisation.
    warmup : int
        Steps discarded at the start of every :meth:`fit` sequence.
    include_input : bool
        Feed the input to the readout next to the reservoir state.
    seed : int, numpy.random.Generator or None
        Source of all random weights.
    dtype : numpy dtype
        float64 (default) or float32 for the reservoir run.
    compiler : JITCompiler, optional
        Supplies the ``reservoir_run`` kernel; the global compiler when omitted.

    Attributes
    ----------
    input_weights : numpy.ndarray, shape (I, N)
    reservoir_weights : numpy.ndarray, shape (N, N)
    bias : numpy.ndarray, shape (N,)
    state : numpy.ndarray, shape (N,)
        The reservoir state after the last run (runs continue from it).
    readout : RidgeReadout
    """

    def __init__(
        self,
        n_units: int = 100,
        n_inputs: int = 1,
        *,
        spectral_radius: float = 0.9,
        leak_rate: float = 1.0,
        input_scaling: float | np.ndarray = 1.0,
        bias_scaling: float = 0.0,
        input_offset: float | np.ndarray = 0.0,
        connectivity: float = 0.1,
        input_connectivity: float = 1.0,
        ridge: float = 1e-6,
        warmup: int = 200,
        include_input: bool = True,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float64,
        compiler: Any = None,
    ):
        for name, value in (("n_units", n_units), ("n_inputs", n_inputs)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0 < leak_rate <= 1:
            raise ValueError(f"leak_rate must be in (0, 1], got {leak_rate}")
        if not spectral_radius >= 0 or spectral_radius == float("inf"):  # (NaN fails the first test)
            raise ValueError(f"spectral_radius must be a finite number >= 0, got {spectral_radius}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.dtype, self.compiler = dtype_and_compiler(dtype, compiler)
        self._kernel = self.compiler.compile_reservoir_run_kernel()
        self.n_units, self.n_inputs = int(n_units), int(n_inputs)
        self.leak_rate = float(leak_rate)
        self.spectral_radius = float(spectral_radius)
        self.warmup = int(warmup)
        self.include_input = bool(include_input)
        self.input_offset = np.broadcast_to(np.asarray(input_offset, dtype=np.float64), (self.n_inputs,)).copy()
        rng = np.random.default_rng(seed)
        w = sparse_random_matrix(rng, (self.n_units, self.n_units), connectivity)
        radius = np.abs(np.linalg.eigvals(w)).max() if w.any() else 0.0
        if radius > 0:
            w *= self.spectral_radius / radius
        scaling = np.broadcast_to(np.asarray(input_scaling, dtype=np.float64), (self.n_inputs,))
        w_in = sparse_random_matrix(rng, (self.n_inputs, self.n_units), input_connectivity, "uniform")
        self.reservoir_weights = w.astype(self.dtype)
        self.input_weights = (w_in * scaling[:, None]).astype(self.dtype)
        self.bias = (rng.uniform(-1.0, 1.0, self.n_units) * bias_scaling).astype(self.dtype)
        self.readout = RidgeReadout(ridge)
        self.state = np.zeros(self.n_units, self.dtype)

    # -- the reservoir ------------------------------------------------------------------

    def reset(self) -> None:
        """Set the reservoir state to zero."""
        self.state = np.zeros(self.n_units, self.dtype)

    def run(self, inputs: Any, *, reset: bool = False) -> np.ndarray:
        """Drive the reservoir with ``inputs[T, I]`` (or ``[T]``) and return the states ``[T, N]``.

        Starts from :attr:`state` (zero after :meth:`reset` or ``reset=True``) and leaves
        :attr:`state` at the last step, so consecutive calls continue one sequence.
        The whole sequence runs in one call of the compiled kernel.
        """
        u = _as_sequence("inputs", inputs, self.n_inputs)
        if reset:
            self.reset()
        states = self._kernel(
            (u + self.input_offset)[None].astype(self.dtype),
            self.input_weights,
            self.reservoir_weights,
            self.state[None],
            self.leak_rate,
            self.bias,
        )[0]
        if states.shape[0]:
            self.state = states[-1].copy()
        return states

    def features(self, inputs: Any, states: np.ndarray) -> np.ndarray:
        """Readout features ``[states, inputs]`` (or ``states`` if not ``include_input``)."""
        if not self.include_input:
            return np.asarray(states, dtype=np.float64)
        return np.hstack([np.asarray(states, dtype=np.float64), _as_sequence("inputs", inputs, self.n_inputs)])

    # -- training and prediction ----------------------------------------------------------

    def fit(self, inputs: Any, targets: Any, *, warmup: int | None = None) -> "EchoStateNetwork":
        """Run from a zero state over ``inputs``, drop ``warmup`` steps, fit the readout.

        Parameters
        ----------
        inputs : array_like, shape (T, I) or (T,)
        targets : array_like, shape (T, O) or (T,)
        warmup : int, optional
            Steps to discard (default: the ``warmup`` given at construction).

        Returns
        -------
        EchoStateNetwork
            ``self``; :attr:`state` is left at the end of ``inputs`` so that
            :meth:`predict` on the continuation of the sequence needs no new warm-up.
        """
        u = _as_sequence("inputs", inputs, self.n_inputs)
        y = _as_sequence("targets", targets)
        if y.shape[0] != u.shape[0]:
            raise ValueError(f"targets must have {u.shape[0]} steps like inputs, got {y.shape[0]}")
        warmup = self.warmup if warmup is None else int(warmup)
        if not 0 <= warmup < u.shape[0] - 1:
            raise ValueError(f"warmup must be in [0, T-1) = [0, {u.shape[0] - 1}), got {warmup}")
        states = self.run(u, reset=True)
        self.readout.fit(self.features(u[warmup:], states[warmup:]), y[warmup:])
        return self

    def predict(self, inputs: Any, *, reset: bool = False) -> np.ndarray:
        """Readout output ``[T, O]`` for ``inputs``, continuing from :attr:`state` unless ``reset``."""
        u = _as_sequence("inputs", inputs, self.n_inputs)
        return self.readout.predict(self.features(u, self.run(u, reset=reset)))

    def score(self, inputs: Any, targets: Any, *, reset: bool = False) -> float:
        """NRMSE (``sqrt(MSE / var(targets))``, lower is better) of :meth:`predict` on ``inputs``."""
        y = _as_sequence("targets", targets)
        return nrmse(y, self.predict(inputs, reset=reset))
