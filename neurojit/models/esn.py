"""Echo State Network on the compiled reservoir kernel, with a ridge readout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .readout import RidgeReadout
from .tasks import nrmse
from ._setup import boolean, dtype_and_compiler, integer, per_input, real, real_array

__all__ = ["EchoStateNetwork", "PRESETS", "sparse_random_matrix"]

#: Hyperparameters tuned (seeded random search) for the built-in tasks with a
#: 200 warm-up / 4000 train / 2000 test split; pass as ``EchoStateNetwork(n, **PRESETS[task])``.
PRESETS: dict[str, dict[str, float]] = {
    "narma10": dict(spectral_radius=0.95, input_scaling=0.1, bias_scaling=0.5, connectivity=0.2, ridge=1e-9),
    "mackey_glass": dict(
        spectral_radius=0.9, input_scaling=0.5, bias_scaling=0.1, input_offset=-0.9, connectivity=0.1, ridge=1e-10
    ),
}

#: A reservoir at most this dense goes to the bound step of :meth:`EchoStateNetwork.generate` as a
#: ``scipy.sparse`` matrix when scipy is installed: one step then costs in proportion to the
#: connections (about 7x less at 1000 units and 1 %), with the same numbers on the compiled
#: backends as the dense matrix (NumPy's backend: to rounding, scipy's products against BLAS).
SPARSE_STEP_DENSITY = 0.25


def sparse_random_matrix(
    rng: np.random.Generator, shape: tuple[int, int], connectivity: float, distribution: str = "normal"
) -> np.ndarray:
    """Dense array with a fraction ``connectivity`` of non-zero entries.

    Each entry is non-zero with probability ``connectivity``; non-zero values are
    standard normal (``"normal"``) or uniform in [-1, 1] (``"uniform"``).
    """
    connectivity = real("connectivity", connectivity, 0, 1, open_low=True)
    mask = rng.random(shape) < connectivity
    if distribution == "normal":
        values = rng.standard_normal(shape)
    elif distribution == "uniform":
        values = rng.uniform(-1.0, 1.0, shape)
    else:
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    return np.where(mask, values, 0.0)


def _as_sequence(name: str, values: Any, width: int | None = None) -> np.ndarray:
    """``values`` as a ``(T, width)`` float64 array of finite reals (a ``(T,)`` array is one column)."""
    array = real_array(name, values)
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

        x[t] = (1 - leak_rate) * x[t-1] + leak_rate * tanh(x[t-1] @ W + (u[t] + input_offset) @ W_in + bias)

    which is ReservoirPy's ``Reservoir`` with ``W = reservoir_weights.T``. The readout is
    ``y[t] = [x[t], u[t]] @ W_out + b`` (the input is included when ``include_input``,
    the usual ESN practice), fitted by ridge regression on centred features after
    discarding ``warmup`` steps.

    With output feedback (``feedback_scaling`` given) the previous output enters too::

        x[t] = (1 - leak_rate) * x[t-1] + leak_rate * tanh(x[t-1] @ W + (u[t] + input_offset) @ W_in
                                                            + y[t-1] @ W_fb + bias)

    :meth:`fit` trains it with teacher forcing (``y[t-1]`` is the target's previous value,
    optionally with noise) and :meth:`generate` then runs it free, feeding back its own
    output (Jaeger & Haas 2004). Teacher-forced runs are one ``reservoir_run`` call with the
    fed-back values as extra input columns (input weights ``[W_in; W_fb]``).

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
    n_outputs : int
        Output dimension ``O`` of a model with feedback (the rows of ``W_fb``; :meth:`fit`
        then requires targets of that width). Without feedback the readout takes the
        width of whatever targets it is fitted on.
    feedback_scaling : float, array of shape (O,) or None
        None (the default): no output feedback. Otherwise ``W_fb`` entries are uniform in
        [-1, 1] times this (per output row), drawn from the same generator after all
        other weights, so ``W``, ``W_in`` and ``bias`` are those of the same model
        without feedback.
    seed : int, numpy.random.Generator or None
        Source of all random weights (and, afterwards, of the teacher noise of :meth:`fit`).
    dtype : numpy dtype
        float64 (default) or float32 for the reservoir run.
    compiler : JITCompiler, optional
        Supplies the ``reservoir_run`` and ``reservoir_update`` kernels; the global compiler
        when omitted.

    Attributes
    ----------
    input_weights : numpy.ndarray, shape (I, N)
    reservoir_weights : numpy.ndarray, shape (N, N)
    bias : numpy.ndarray, shape (N,)
    feedback_weights : numpy.ndarray of shape (O, N), or None
        ``W_fb``; None without output feedback.
    state : numpy.ndarray, shape (N,)
        The reservoir state after the last run (runs continue from it).
    last_output : numpy.ndarray, shape (O,), float64
        With feedback: ``y[t-1]`` for the next step, i.e. the last teacher value of a
        teacher-forced run or the last output of :meth:`generate` (zero after :meth:`reset`).
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
        n_outputs: int = 1,
        feedback_scaling: float | np.ndarray | None = None,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float64,
        compiler: Any = None,
    ):
        self.n_units, self.n_inputs = integer("n_units", n_units, 1), integer("n_inputs", n_inputs, 1)
        self.leak_rate = real("leak_rate", leak_rate, 0, 1, open_low=True)
        self.spectral_radius = real("spectral_radius", spectral_radius, 0)
        scaling = per_input("input_scaling", input_scaling, self.n_inputs)
        bias_scaling = real("bias_scaling", bias_scaling)
        self.input_offset = per_input("input_offset", input_offset, self.n_inputs)
        connectivity = real("connectivity", connectivity, 0, 1, open_low=True)
        input_connectivity = real("input_connectivity", input_connectivity, 0, 1, open_low=True)
        self.readout = RidgeReadout(ridge)
        self.warmup = integer("warmup", warmup, 0)
        self.include_input = boolean("include_input", include_input)
        self.n_outputs = integer("n_outputs", n_outputs, 1)
        feedback = None if feedback_scaling is None else per_input("feedback_scaling", feedback_scaling, self.n_outputs)
        self.dtype, self.compiler = dtype_and_compiler(dtype, compiler)
        self._kernel = self.compiler.compile_reservoir_run_kernel()
        rng = np.random.default_rng(seed)
        w = sparse_random_matrix(rng, (self.n_units, self.n_units), connectivity)
        radius = np.abs(np.linalg.eigvals(w)).max() if w.any() else 0.0
        if radius > 0:
            w *= self.spectral_radius / radius
        w_in = sparse_random_matrix(rng, (self.n_inputs, self.n_units), input_connectivity, "uniform")
        self.reservoir_weights = w.astype(self.dtype)
        self.input_weights = (w_in * scaling[:, None]).astype(self.dtype)
        self.bias = (rng.uniform(-1.0, 1.0, self.n_units) * bias_scaling).astype(self.dtype)
        self.feedback_weights = None
        if feedback is not None:  # drawn last: the other weights are those of the model without feedback
            w_fb = rng.uniform(-1.0, 1.0, (self.n_outputs, self.n_units))
            self.feedback_weights = (w_fb * feedback[:, None]).astype(self.dtype)
        self._rng = rng  # teacher noise continues the stream after the weights
        self.state = np.zeros(self.n_units, self.dtype)
        self.last_output = np.zeros(self.n_outputs)

    @property
    def has_feedback(self) -> bool:
        """Whether the model feeds its output back into the reservoir (``feedback_scaling`` given)."""
        return self.feedback_weights is not None

    # -- the reservoir ------------------------------------------------------------------

    def reset(self) -> None:
        """Set the reservoir state (and the fed-back output, :attr:`last_output`) to zero."""
        self.state = np.zeros(self.n_units, self.dtype)
        self.last_output = np.zeros(self.n_outputs)

    def run(self, inputs: Any, *, reset: bool = False, teacher: Any = None) -> np.ndarray:
        """Drive the reservoir with ``inputs[T, I]`` (or ``[T]``) and return the states ``[T, N]``.

        Starts from :attr:`state` (zero after :meth:`reset` or ``reset=True``) and leaves
        :attr:`state` at the last step, so consecutive calls continue one sequence.
        The whole sequence runs in one call of the compiled kernel.

        Parameters
        ----------
        inputs : array_like, shape (T, I) or (T,)
        reset : bool
            Start from zero (state and fed-back output) instead of where the last run ended.
        teacher : array_like, shape (T, O) or (T,), optional
            Teacher forcing, required by (and only for) a model with output feedback: the
            output fed back at step ``t`` is ``teacher[t-1]`` (:attr:`last_output` at
            ``t = 0``), and :attr:`last_output` is left at ``teacher[-1]``.

        Returns
        -------
        numpy.ndarray, shape (T, N), the model's dtype
        """
        u = _as_sequence("inputs", inputs, self.n_inputs)
        fed = self._teacher_feedback(teacher, u.shape[0])
        if reset:
            self.reset()
        states = self._run(u, None if fed is None else self._shifted(fed))
        if fed is not None and fed.shape[0]:
            self.last_output = fed[-1].copy()
        return states

    def _teacher_feedback(self, teacher: Any, steps: int, name: str = "teacher") -> np.ndarray | None:
        """``teacher`` checked against the model: ``(steps, O)`` float64 with feedback, None without."""
        if not self.has_feedback:
            if teacher is not None:
                raise ValueError(f"{name} is only for a model with output feedback; this one has none "
                                 "(build it with feedback_scaling=...)")
            return None
        if teacher is None:
            raise ValueError(f"this model feeds its output back, so a teacher-forced run needs {name}= "
                             "(the known outputs, (T, O)); use generate() to run it free")
        fed = _as_sequence(name, teacher, self.n_outputs)
        if fed.shape[0] != steps:
            raise ValueError(f"{name} must have {steps} steps like inputs, got {fed.shape[0]}")
        return fed

    def _shifted(self, fed: np.ndarray, noise: float = 0.0) -> np.ndarray:
        """``y[t-1]`` for every step: :attr:`last_output`, then ``fed[:-1]``, plus uniform noise."""
        previous = np.vstack([self.last_output[None], fed[:-1]])
        if noise > 0:
            previous = previous + self._rng.uniform(-noise, noise, previous.shape)
        return previous

    def _drive_weights(self) -> np.ndarray:
        """The kernel's input weights: ``W_in``, or ``[W_in; W_fb]`` with feedback."""
        if not self.has_feedback:
            return self.input_weights
        return np.vstack([self.input_weights, self.feedback_weights])

    def _step_matrix(self) -> Any:
        """``W`` for the bound free-running step: compressed (scipy.sparse) where that pays, else dense."""
        w = self.reservoir_weights
        if np.count_nonzero(w) > SPARSE_STEP_DENSITY * w.size:
            return w
        try:
            from scipy import sparse
        except ImportError:  # scipy is optional: the dense matrix gives the same states
            return w
        return sparse.csr_matrix(w)

    def _run(self, u: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """One ``reservoir_run`` call over checked ``u[T, I]`` (and fed-back ``previous[T, O]``)."""
        drive = u + self.input_offset
        if previous is not None:
            drive = np.hstack([drive, previous])
        states = self._kernel(
            drive[None].astype(self.dtype),
            self._drive_weights(),
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

    def fit(self, inputs: Any, targets: Any, *, warmup: int | None = None, teacher_noise: float = 0.0
            ) -> "EchoStateNetwork":
        """Run from a zero state over ``inputs``, drop ``warmup`` steps, fit the readout.

        A model with output feedback is teacher-forced: the output fed back at step ``t`` is
        ``targets[t-1]`` (zero at ``t = 0``), in the same single kernel call.

        Parameters
        ----------
        inputs : array_like, shape (T, I) or (T,)
        targets : array_like, shape (T, O) or (T,)
        warmup : int, optional
            Steps to discard (default: the ``warmup`` given at construction).
        teacher_noise : float
            With feedback: uniform noise in ``[-teacher_noise, teacher_noise]`` added to the
            fed-back targets (not to those the readout is fitted to), drawn from the
            model's generator. A little noise makes the trained loop robust to its own
            small errors when it later runs free (Jaeger & Haas 2004 add noise to every
            unit's update instead; here it enters through ``W_fb``).

        Returns
        -------
        EchoStateNetwork
            ``self``; :attr:`state` (and :attr:`last_output`, the last target) is left at
            the end of ``inputs`` so that :meth:`predict` or :meth:`generate` on the
            continuation of the sequence needs no new warm-up.
        """
        u = _as_sequence("inputs", inputs, self.n_inputs)
        y = _as_sequence("targets", targets)
        if y.shape[0] != u.shape[0]:
            raise ValueError(f"targets must have {u.shape[0]} steps like inputs, got {y.shape[0]}")
        warmup = self.warmup if warmup is None else integer("warmup", warmup)
        if not 0 <= warmup < u.shape[0] - 1:
            raise ValueError(f"warmup must be in [0, T-1) = [0, {u.shape[0] - 1}), got {warmup}")
        teacher_noise = real("teacher_noise", teacher_noise, 0)
        if teacher_noise > 0 and not self.has_feedback:
            raise ValueError("teacher_noise is only for a model with output feedback (feedback_scaling=...)")
        if not self.has_feedback:
            states = self.run(u, reset=True)
        else:
            y = self._teacher_feedback(y, u.shape[0], "targets")
            self.reset()
            states = self._run(u, self._shifted(y, teacher_noise))
            self.last_output = y[-1].copy()
        self.readout.fit(self.features(u[warmup:], states[warmup:]), y[warmup:])
        return self

    def predict(self, inputs: Any, *, reset: bool = False, teacher: Any = None) -> np.ndarray:
        """Readout output ``[T, O]`` for ``inputs``, continuing from :attr:`state` unless ``reset``.

        A model with output feedback needs ``teacher`` (see :meth:`run`): each output is
        then the one-step prediction given the true previous outputs. To feed back the
        model's own outputs instead, use :meth:`generate`.
        """
        u = _as_sequence("inputs", inputs, self.n_inputs)
        return self.readout.predict(self.features(u, self.run(u, reset=reset, teacher=teacher)))

    def score(self, inputs: Any, targets: Any, *, reset: bool = False) -> float:
        """NRMSE (``sqrt(MSE / var(targets))``, lower is better) of :meth:`predict` on ``inputs``.

        With output feedback the prediction is teacher-forced with ``targets`` (one step ahead).
        """
        y = _as_sequence("targets", targets)
        return nrmse(y, self.predict(inputs, reset=reset, teacher=y if self.has_feedback else None))

    # -- free running -----------------------------------------------------------------------

    def generate(self, n_steps: int, inputs: Any = None) -> np.ndarray:
        """Run free for ``n_steps``, feeding back the model's own output; return the outputs.

        Continues from :attr:`state` and :attr:`last_output` (as left by :meth:`fit`,
        :meth:`run` with a teacher, or an earlier :meth:`generate`). Each step is one call
        of the bound ``reservoir_update`` kernel (input weights ``[W_in; W_fb]``, input
        ``[u[t] + input_offset, y[t-1]]``; ``W`` compressed as a ``scipy.sparse`` matrix
        when it is at most ``SPARSE_STEP_DENSITY`` dense and scipy is installed) followed
        by the readout::

            x[t] = (1 - a) x[t-1] + a tanh(x[t-1] @ W + (u[t] + input_offset) @ W_in + y[t-1] @ W_fb + bias)
            y[t] = [x[t], u[t]] @ W_out + b

        so the outputs equal a teacher-forced :meth:`predict` whose teacher is the
        generated sequence itself (to rounding). This is the only model loop over time in
        Python: each step needs the previous step's output.

        Parameters
        ----------
        n_steps : int
            Number of steps (>= 0).
        inputs : array_like, shape (n_steps, I) or (n_steps,), optional
            External inputs during generation; zeros when omitted (the reservoir still
            receives ``input_offset``).

        Returns
        -------
        numpy.ndarray, shape (n_steps, O), float64
            ``y[t]`` for the ``n_steps`` steps; :attr:`state` and :attr:`last_output` are
            left at the last one.

        Raises
        ------
        ValueError
            If the model has no output feedback, or for bad ``n_steps`` / ``inputs``.
        RuntimeError
            If the readout has not been fitted.
        """
        n_steps = integer("n_steps", n_steps, 0)
        if not self.has_feedback:
            raise ValueError("generate() needs a model with output feedback: build it with feedback_scaling=... "
                             "and fit it (teacher forcing); this one has no feedback weights")
        if self.readout.weights is None:
            raise RuntimeError("the readout is not fitted; call fit first")
        if inputs is None:
            u = np.zeros((n_steps, self.n_inputs))
        else:
            u = _as_sequence("inputs", inputs, self.n_inputs)
            if u.shape[0] != n_steps:
                raise ValueError(f"inputs must have n_steps = {n_steps} rows, got {u.shape[0]}")
        outputs = np.empty((n_steps, self.n_outputs))
        if n_steps == 0:
            return outputs
        weights = self.readout.weights
        state_weights = weights[: self.n_units]
        # the readout's part that does not depend on the state, for all steps at once
        constant = np.broadcast_to(self.readout.intercept, outputs.shape)
        if self.include_input:
            constant = u @ weights[self.n_units:] + self.readout.intercept
        drive = np.empty((n_steps, 1, self.n_inputs + self.n_outputs), self.dtype)
        drive[:, 0, : self.n_inputs] = u + self.input_offset
        step = self.compiler.compile_reservoir_update_kernel().bind(
            input_weights=self._drive_weights(), reservoir_weights=self._step_matrix(),
            leak_rate=self.leak_rate, bias=self.bias,
        )
        x, y = self.state[None], self.last_output
        for t in range(n_steps):
            drive[t, 0, self.n_inputs:] = y
            x = step(x, drive[t])
            y = outputs[t] = x[0] @ state_weights + constant[t]
        self.state, self.last_output = x[0].copy(), outputs[-1].copy()
        return outputs
