"""Causal filtering of spike trains with a finite kernel, event-driven.

``out[b, t, n] = sum_{k=0..min(K-1, t)} kernel[k] * (spikes[b, t-k, n] != 0)``

Each spike scatters the ``K`` taps forward in time, so the cost is proportional to
``spikes x K`` rather than ``B x T x N x K``. A time step in which more than
``DENSE_FRACTION`` of the channels spike is instead added as whole rows
(``out[t + k, :] += kernel[k] * mask``), which vectorises. Every output element receives
its terms in order of increasing source time (decreasing ``k``) on both paths, and
``kernel[k] * 1`` is exact, so the two paths give identical results (the kernel taps are
validated finite, so ``kernel[k] * 0`` is 0).

Parallel loops: batch rows are independent (``prange`` over ``b``). With a single batch
row, a parallel compile (``PARALLEL``) splits the channels into blocks of ``BLOCK``
instead (channels are independent too, and each output element receives its terms in
the same order either way).
"""

import numpy as np

from .loop import ARRAY1, ARRAY3, Loop

prange = range  # rebound to numba.prange by the JIT backend

PARALLEL = False  # True in the JIT backend's parallel compile (with prange = numba.prange)
BLOCK = 2048  # channels per parallel work item when there is one batch row
DENSE_FRACTION = 0.125  # above this share of spiking channels a row add beats the scatter


def causal_convolution(spikes, taps, out):
    """Filter ``spikes[B, T, N]`` with ``taps[K]`` into ``out[B, T, N]``."""
    n_batch, n_steps, n_channels = spikes.shape
    n_taps = taps.shape[0]
    if PARALLEL and n_batch == 1:
        n_blocks = (n_channels + BLOCK - 1) // BLOCK
        for block in prange(n_blocks):
            lo = block * BLOCK
            hi = min(lo + BLOCK, n_channels)
            active = np.empty(hi - lo, dtype=np.int64)
            mask = np.empty_like(out[0, 0, lo:hi])
            for t in range(n_steps):
                row = out[0, t, lo:hi]
                for n in range(hi - lo):
                    row[n] = 0
            for t in range(n_steps):
                n_active = 0
                spiking = spikes[0, t, lo:hi]
                for n in range(hi - lo):
                    if spiking[n] != 0:
                        active[n_active] = n
                        n_active += 1
                if n_active > DENSE_FRACTION * (hi - lo):
                    for n in range(hi - lo):
                        mask[n] = 1 if spiking[n] != 0 else 0
                    for k in range(min(n_taps, n_steps - t)):
                        tap = taps[k]
                        row = out[0, t + k, lo:hi]
                        for n in range(hi - lo):
                            row[n] += tap * mask[n]
                    continue
                for k in range(min(n_taps, n_steps - t)):
                    tap = taps[k]
                    row = out[0, t + k, lo:hi]
                    for a in range(n_active):
                        row[active[a]] += tap
        return
    for b in prange(n_batch):
        active = np.empty(n_channels, dtype=np.int64)
        mask = np.empty_like(out[b, 0])
        for t in range(n_steps):
            for n in range(n_channels):
                out[b, t, n] = 0
        for t in range(n_steps):
            n_active = 0
            for n in range(n_channels):
                if spikes[b, t, n] != 0:
                    active[n_active] = n
                    n_active += 1
            if n_active > DENSE_FRACTION * n_channels:
                for n in range(n_channels):
                    mask[n] = 1 if spikes[b, t, n] != 0 else 0
                for k in range(min(n_taps, n_steps - t)):
                    tap = taps[k]
                    row = out[b, t + k]
                    for n in range(n_channels):
                        row[n] += tap * mask[n]
                continue
            for k in range(min(n_taps, n_steps - t)):
                tap = taps[k]
                for a in range(n_active):
                    out[b, t + k, active[a]] += tap


LOOPS = (
    Loop(causal_convolution, spikes=ARRAY3, taps=ARRAY1, out=ARRAY3, batch=("spikes", "out"), parallel=True, cost=(0.35, 0.3)),
)
