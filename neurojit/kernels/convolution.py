"""Causal filtering of spike trains with a finite kernel, event-driven.

``out[b, t, n] = sum_{k=0..min(K-1, t)} kernel[k] * (spikes[b, t-k, n] != 0)``

Each spike scatters the ``K`` taps forward in time, so the cost is proportional to
``spikes x K`` rather than ``B x T x N x K``. Every output element receives its terms in
order of increasing source time (decreasing ``k``).
"""

import numpy as np

prange = range  # rebound to numba.prange by the JIT backend


def causal_convolution(spikes, taps, out):
    """Filter ``spikes[B, T, N]`` with ``taps[K]`` into ``out[B, T, N]``."""
    n_batch, n_steps, n_channels = spikes.shape
    n_taps = taps.shape[0]
    for b in prange(n_batch):
        active = np.empty(n_channels, dtype=np.int64)
        for t in range(n_steps):
            for n in range(n_channels):
                out[b, t, n] = 0
        for t in range(n_steps):
            n_active = 0
            for n in range(n_channels):
                if spikes[b, t, n] != 0:
                    active[n_active] = n
                    n_active += 1
            for k in range(min(n_taps, n_steps - t)):
                tap = taps[k]
                for a in range(n_active):
                    out[b, t + k, active[a]] += tap
