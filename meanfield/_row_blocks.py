"""Row blocks of the O(N₁N₂) exact pair sums: a progress bar and Ctrl-C between blocks.

The compiled pair kernels (:func:`meanfield._kernels.pair_sums.pair_sums`,
:mod:`meanfield._smooth_pair_series`) fill rows lo ≤ i < hi of

    rows[i] = Σ_j a2_j Σ_k π_k G_k(i, j)

per call. Between two calls Python sees a pending KeyboardInterrupt, which propagates (the exact
functionals are functions, not solvers: nothing partial is returned). A block holds ~PROGRESS_PAIRS/50
pair evaluations, so a sum large enough to show a bar (≥ PROGRESS_PAIRS evaluations: seconds for
ReLU, more for smooth σ) reports ~50 times.
"""
from __future__ import annotations

import sys

#: Pair evaluations from which a tqdm bar is shown (on stderr, when it is a terminal).
PROGRESS_PAIRS = 2e7


def row_blocks(n1, pairs_per_row, progress=None, desc="pair sums"):
    """Yield (lo, hi) row ranges covering 0..n1, with a tqdm bar over the rows.

    Parameters
    ----------
    n1 : int
        Number of rows N₁.
    pairs_per_row : int
        Pair evaluations per row (N₂ × the number of classes).
    progress : bool or None
        Show the bar; None: when stderr is a terminal and n1 · pairs_per_row ≥ PROGRESS_PAIRS.
    desc : str
        The bar's label.
    """
    if progress is None:
        progress = n1 * pairs_per_row >= PROGRESS_PAIRS and sys.stderr.isatty()
    block = max(1, min(n1, int(PROGRESS_PAIRS // (50 * max(1, pairs_per_row)))))
    if not progress:   # tqdm is imported only when a bar is shown (import time)
        for lo in range(0, n1, block):
            yield lo, min(n1, lo + block)
        return
    from tqdm.auto import tqdm
    with tqdm(total=n1, unit="row", desc=desc) as bar:
        for lo in range(0, n1, block):
            hi = min(n1, lo + block)
            yield lo, hi
            bar.update(hi - lo)
