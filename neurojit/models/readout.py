"""Linear readout trained by ridge regression with centering (shared by the ESN and the LSM)."""

from __future__ import annotations

import numpy as np

from ._setup import real

__all__ = ["RidgeReadout"]


class RidgeReadout:
    """``y = (x - mean_x) @ weights + mean_y``, fitted by ridge regression on centred data.

    Centering means the intercept is not penalised: ``weights`` minimises
    ``||Yc - Xc W||^2 + ridge ||W||^2`` with ``Xc = X - mean_x``, ``Yc = Y - mean_y``, i.e.
    ``W = (Xc^T Xc + ridge I)^{-1} Xc^T Yc``, and the intercept is
    ``mean_y - mean_x @ W``. Computed in float64 whatever the feature dtype.

    Parameters
    ----------
    ridge : float
        Regularisation strength (>= 0).

    Attributes
    ----------
    weights : numpy.ndarray, shape (F, O)
    intercept : numpy.ndarray, shape (O,)
    """

    def __init__(self, ridge: float = 1e-6):
        self.ridge = real("ridge", ridge, 0)
        self.weights: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    def fit(self, features: np.ndarray, targets: np.ndarray) -> "RidgeReadout":
        """Fit on ``features[n, F]`` and ``targets[n, O]`` (or ``targets[n]``).

        Returns
        -------
        RidgeReadout
            ``self``.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"features must be (n, F) and targets (n, O) with the same n, got {x.shape} and {y.shape}")
        if x.shape[0] < 2:
            raise ValueError("need at least 2 samples to fit a readout")
        for name, array in (("features", x), ("targets", y)):
            if not np.isfinite(array).all():
                raise ValueError(f"{name} must hold finite numbers (it has NaN or infinite entries)")
        mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
        xc = x - mean_x
        gram = xc.T @ xc
        gram[np.diag_indices_from(gram)] += self.ridge
        rhs = xc.T @ (y - mean_y)
        try:
            weights = np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:  # singular without ridge: minimum-norm least squares
            weights = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        self.weights = weights
        self.intercept = mean_y - mean_x @ weights
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``features[n, F] @ weights + intercept`` -> ``[n, O]``."""
        if self.weights is None:
            raise RuntimeError("the readout is not fitted; call fit first")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.weights.shape[0]:
            raise ValueError(f"features must be (n, {self.weights.shape[0]}), got {x.shape}")
        return x @ self.weights + self.intercept
