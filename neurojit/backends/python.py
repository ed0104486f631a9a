"""NumPy implementations of the loops in :mod:`neurojit.kernels`, same names and arguments.

Vectorised over neurons (and over batch rows or taps where the maths allows); only the
time recursion stays a Python loop. Sums are taken over the same rows in the same
order as the compiled loops (``numpy.add.reduce`` along the leading axis adds rows one
after another), so the spiking kernels agree bit for bit with them.
"""

import numpy as np

from ..kernels import signatures

NAME = "python"
name = NAME  # backends are identified by `.name` (as JITBackend and AOTBackend)
native = False  # NumPy code: the event-driven forms (compressed reservoir, 0/1 scan) do not pay here


def lif_run(spikes, input_weights, recurrent_weights, recurrent, thresholds, decay, v_reset, v, fired, out):
    n_batch, n_steps, _ = spikes.shape
    current = np.empty_like(v)
    active = spikes != 0
    for t in range(n_steps):
        for b in range(n_batch):
            rows = input_weights[active[b, t]]
            if recurrent:
                previous = fired[b] if t == 0 else out[b, t - 1]
                rows = np.concatenate((rows, recurrent_weights[previous != 0]))
            if rows.shape[1] == 1:
                # One column: numpy would sum it pairwise; the loops add rows in order.
                current[b] = np.cumsum(rows[:, 0])[-1] if rows.shape[0] else 0
            else:
                current[b] = rows.sum(axis=0)  # adds whole rows one after another
        v *= decay
        v += current
        spiking = v > thresholds
        out[:, t] = spiking
        v[spiking] = v_reset
    if n_steps:
        fired[...] = out[:, -1]


def reservoir_run(
    inputs, input_weights, in_ptr, in_idx, in_val, reservoir_weights, w_ptr, w_idx, w_val, bias, leak_rate,
    initial_states, skip_inputs, out
):
    # The input drive does not depend on the state: one matrix product for all steps.
    # The CSR form of a dense reservoir (w_ptr, ... next to a full reservoir_weights) is not
    # used: BLAS on the dense matrix is the fastest product NumPy has. A scipy.sparse matrix
    # (an empty dense array next to its CSR arrays; scipy is installed, it made them) runs
    # as scipy's sparse product.
    # Non-finite values propagate as in the compiled loops, which do not warn (inf * 0 = NaN).
    n_batch, n_steps, n_inputs = inputs.shape
    n_units = bias.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):
        if in_ptr.shape[0] and input_weights.shape[0] != n_inputs:
            drive = (_csr(in_val, in_idx, in_ptr, (n_inputs, n_units)).T @ inputs.reshape(-1, n_inputs).T).T
            drive = drive.reshape(n_batch, n_steps, n_units) + bias
        else:
            drive = inputs @ input_weights + bias
        if w_ptr.shape[0] and reservoir_weights.shape[0] != n_units:
            w_t = _csr(w_val, w_idx, w_ptr, (n_units, n_units))  # reservoir_weights.T
            product = lambda x: (w_t @ x.T).T  # noqa: E731
        else:
            product = lambda x: x @ reservoir_weights  # noqa: E731
        x = initial_states
        for t in range(n_steps):
            x = (1 - leak_rate) * x + leak_rate * np.tanh(drive[:, t] + product(x))
            out[:, t] = x


def _csr(values, indices, pointers, shape):
    import scipy.sparse  # only reached with a scipy.sparse argument

    return scipy.sparse.csr_matrix((values, indices, pointers), shape=shape)


def causal_convolution(spikes, taps, out):
    n_steps = spikes.shape[1]
    events = (spikes != 0).astype(out.dtype)
    out[...] = 0
    # Taps in decreasing order: each output receives its terms by increasing source time.
    for k in range(min(taps.shape[0], n_steps) - 1, -1, -1):
        out[:, k:] += taps[k] * events[:, : n_steps - k]


def binary_nonzeros(a):
    nonzero = a != 0
    if not np.all(a[nonzero] == 1):
        return -1
    return int(np.count_nonzero(nonzero))


def binary_matmul(a, b, out):
    # BLAS is the fastest NumPy has, sparse or not.
    np.matmul(a, b, out=out)


#: loop name -> its NumPy twin; every declared loop has one (``tests/test_declarations.py``)
TWINS = {name: globals()[name] for name in signatures.LOOPS if name in globals()}


def loop(name: str, dtype: str):
    """The NumPy implementation of loop ``name`` (one implementation serves both dtypes)."""
    return TWINS[name]
