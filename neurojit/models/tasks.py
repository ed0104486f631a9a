"""Benchmark tasks, generated locally (no downloads), all seeded.

* :func:`narma10` -- the NARMA-10 system identification task.
* :func:`mackey_glass` / :func:`mackey_glass_task` -- the Mackey-Glass delay equation
  (tau = 17), one-step-ahead prediction.
* :func:`spike_pattern_task` -- classify jittered Poisson spike patterns (K classes).
* :func:`nrmse` -- the error measure used for the regression tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "nrmse",
    "narma10",
    "mackey_glass",
    "mackey_glass_task",
    "SpikePatternTask",
    "spike_pattern_task",
]

SeedLike = "int | np.random.Generator | None"


def nrmse(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Normalised root-mean-square error, ``sqrt(mean((y - y_hat)**2) / var(y))``.

    Parameters
    ----------
    targets, predictions : array_like, same shape
        ``y`` and ``y_hat``. The variance is that of ``targets`` over all entries.

    Returns
    -------
    float
        0 for a perfect prediction, 1 for predicting the mean of the targets.
    """
    targets = np.asarray(targets, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if targets.shape != predictions.shape:
        raise ValueError(f"predictions must have the shape of targets {targets.shape}, got {predictions.shape}")
    variance = targets.var()
    if not variance > 0:
        raise ValueError("targets have zero variance; the NRMSE is undefined")
    return float(np.sqrt(np.mean((targets - predictions) ** 2) / variance))


def narma10(n_steps: int, seed: int | np.random.Generator | None = 0, discard: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The NARMA-10 task: input ``u[t] ~ U[0, 0.5]`` and target ``y[t+1]``.

    The system is the standard recurrence

    ``y[t+1] = 0.3 y[t] + 0.05 y[t] sum_{i=0..9} y[t-i] + 1.5 u[t-9] u[t] + 0.1``

    started from ``y = 0``; the first ``discard`` steps (the generator's transient) are
    dropped.

    Parameters
    ----------
    n_steps : int
        Length of the returned sequences.
    seed : int, numpy.random.Generator or None
        Source of the inputs.
    discard : int
        Transient steps generated and dropped before the returned ones.

    Returns
    -------
    inputs : numpy.ndarray, shape (n_steps, 1)
        ``u[t]``.
    targets : numpy.ndarray, shape (n_steps, 1)
        ``y[t+1]``: the output the system produces once it has seen ``u[t]``.
    """
    if n_steps < 1 or discard < 0:
        raise ValueError(f"n_steps must be >= 1 and discard >= 0, got {n_steps}, {discard}")
    rng = np.random.default_rng(seed)
    total = n_steps + discard
    u = rng.uniform(0.0, 0.5, total)
    y = np.zeros(total + 1)
    for t in range(total):
        history = y[max(0, t - 9) : t + 1].sum()
        delayed = u[t - 9] if t >= 9 else 0.0
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * history + 1.5 * delayed * u[t] + 0.1
    if not np.all(np.isfinite(y)) or np.abs(y).max() > 10:  # the recurrence can diverge for rare inputs
        raise RuntimeError("NARMA-10 diverged for this seed; use another seed")
    return u[discard:, None].copy(), y[discard + 1 :, None].copy()


def mackey_glass(
    n_steps: int,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    n: float = 10.0,
    sample_step: float = 1.0,
    substeps: int = 10,
    x0: float = 1.2,
    discard: int = 500,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """The Mackey-Glass series ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t)``.

    Integrated with classical Runge-Kutta (4th order) at ``sample_step / substeps``; the
    delayed value at half steps is the mean of its two grid neighbours. The history
    before ``t = 0`` is the constant ``x0`` (plus uniform noise of 0.01 when ``seed``
    is given, so that different seeds give different but equally chaotic series).

    Parameters
    ----------
    n_steps : int
        Number of samples returned, ``sample_step`` apart.
    tau, beta, gamma, n : float
        Equation parameters (``tau = 17`` gives the standard mildly chaotic regime).
    sample_step : float
        Time between returned samples.
    substeps : int
        Integration steps per sample; ``tau / (sample_step / substeps)`` should be an integer.
    x0 : float
        Initial history.
    discard : int
        Samples dropped from the start (the transient).
    seed : int, numpy.random.Generator or None
        Perturbs the initial history; ``None`` for the plain constant history.

    Returns
    -------
    numpy.ndarray, shape (n_steps,)
    """
    if n_steps < 1 or substeps < 1 or discard < 0:
        raise ValueError("n_steps and substeps must be >= 1 and discard >= 0")
    h = sample_step / substeps
    lag = int(round(tau / h))
    total = (n_steps + discard) * substeps
    history = np.full(lag + 1, x0, dtype=np.float64)
    if seed is not None:
        history += np.random.default_rng(seed).uniform(-0.01, 0.01, lag + 1)
    x = np.empty(lag + 1 + total)
    x[: lag + 1] = history

    def f(xt: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**n) - gamma * xt

    for k in range(lag, lag + total):
        xd0, xd1 = x[k - lag], x[k - lag + 1]
        xdm = 0.5 * (xd0 + xd1)
        xk = x[k]
        k1 = f(xk, xd0)
        k2 = f(xk + 0.5 * h * k1, xdm)
        k3 = f(xk + 0.5 * h * k2, xdm)
        k4 = f(xk + h * k3, xd1)
        x[k + 1] = xk + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    samples = x[lag::substeps][1:]
    return samples[discard : discard + n_steps].copy()


def mackey_glass_task(n_steps: int, seed: int | np.random.Generator | None = None, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """One-step-ahead prediction of Mackey-Glass: input ``x[t]``, target ``x[t+1]``.

    Parameters
    ----------
    n_steps : int
        Length of the returned sequences.
    seed : int, numpy.random.Generator or None
        Passed to :func:`mackey_glass`.
    **kwargs
        Other :func:`mackey_glass` parameters.

    Returns
    -------
    inputs, targets : numpy.ndarray, shape (n_steps, 1)
    """
    series = mackey_glass(n_steps + 1, seed=seed, **kwargs)
    return series[:-1, None].copy(), series[1:, None].copy()


@dataclass
class SpikePatternTask:
    """A spike-pattern classification data set.

    Attributes
    ----------
    spikes : numpy.ndarray, shape (n_samples, n_steps, n_channels), float64 0/1
    labels : numpy.ndarray, shape (n_samples,), int64 in ``[0, n_classes)``
    templates : numpy.ndarray, shape (n_classes, n_steps, n_channels)
        The class templates the samples are jittered from.
    dt : float
        Time step (seconds).
    """

    spikes: np.ndarray
    labels: np.ndarray
    templates: np.ndarray
    dt: float

    @property
    def n_classes(self) -> int:
        return self.templates.shape[0]

    @property
    def chance(self) -> float:
        """Accuracy of always guessing the most frequent class."""
        return float(np.bincount(self.labels, minlength=self.n_classes).max() / self.labels.size)


def spike_pattern_task(
    n_samples: int,
    n_classes: int = 4,
    n_channels: int = 40,
    n_steps: int = 100,
    rate: float = 20.0,
    dt: float = 1e-3,
    jitter: float = 3e-3,
    noise_rate: float = 0.0,
    seed: int | np.random.Generator | None = 0,
    template_seed: int | None = None,
) -> SpikePatternTask:
    """K classes of frozen Poisson templates; each sample is a jittered copy of one.

    Every template is a Poisson spike train of ``rate`` Hz on each of ``n_channels``
    channels over ``n_steps`` steps of ``dt``. A sample takes its class's template and
    moves every spike by a Gaussian jitter of standard deviation ``jitter`` seconds
    (rounded to steps, clipped to the window); spikes landing on the same step merge.
    Then independent Poisson noise spikes of ``noise_rate`` Hz are added on every channel.
    Labels are balanced (``i % n_classes``, shuffled).

    Parameters
    ----------
    n_samples, n_classes, n_channels, n_steps : int
    rate : float
        Template firing rate per channel (Hz).
    dt : float
        Time step (s).
    jitter : float
        Standard deviation of the spike-time jitter (s).
    noise_rate : float
        Rate (Hz) of extra random spikes per channel in every sample.
    seed : int, numpy.random.Generator or None
        Source of labels and jitter (and of the templates unless ``template_seed``).
    template_seed : int or None
        Separate seed for the templates, so that train and test sets drawn with
        different ``seed`` share the same classes.

    Returns
    -------
    SpikePatternTask
    """
    if min(n_samples, n_classes, n_channels, n_steps) < 1:
        raise ValueError("n_samples, n_classes, n_channels and n_steps must be >= 1")
    rng = np.random.default_rng(seed)
    template_rng = rng if template_seed is None else np.random.default_rng(template_seed)
    templates = (template_rng.random((n_classes, n_steps, n_channels)) < rate * dt).astype(np.float64)
    labels = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    spikes = np.zeros((n_samples, n_steps, n_channels))
    shift_sd = jitter / dt
    for s, label in enumerate(labels):
        times, channels = np.nonzero(templates[label])
        moved = np.clip(np.rint(times + rng.normal(0.0, shift_sd, times.size)), 0, n_steps - 1).astype(np.int64)
        spikes[s, moved, channels] = 1.0
    if noise_rate > 0:
        spikes[rng.random(spikes.shape) < noise_rate * dt] = 1.0
    return SpikePatternTask(spikes, labels, templates, dt)
