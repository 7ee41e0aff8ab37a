"""Two-sample test for a categorical feature: Fisher's exact test per category."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.special import xlogy
from scipy.stats import chi2, hypergeom, norm

from detector.drift.checks import Verdict

BELOW_ONE = float(np.nextafter(1.0, 0.0))
TABLE_MAX_WINDOW = 1_000  # windows up to this size score from a table of every possible count


class CategoricalCheck:
    """Flags a categorical feature whose window counts leave their null bounds.

    Each category (those expected fewer than ``min_expected`` times per window are pooled,
    with categories unseen in the reference unless ``unseen_cell``: then those have a cell
    of their own, whose reference count is Good–Turing's, the categories seen once) gets
    bounds [lo, hi] on its window count: the counts at which Fisher's exact test of that
    category against the rest (window vs reference: a two-sample test, conditional on the
    category's total, so the reference's own sampling noise is accounted for and no
    chi-square approximation is trusted in a far tail) reaches level a on either side.
    a = alpha / (2 × cells) bounds the false-alarm probability by alpha.

    The score puts every category and both sides on one scale: the count's likelihood-ratio
    deviance (G², ≈ −2 log of its p-value) over the deviance at the bound on its side, so it
    is 1 exactly at a bound, and a count far into a short lower tail does not outscore one as
    improbable in a long upper tail. An alarm also needs a total-variation distance of at
    least ``min_effect``.

    >>> ref = Counter({"UK": 9100, "DE": 500, "FR": 400})
    >>> check = CategoricalCheck("country", ref, 200, alpha=1e-6, min_effect=0.05)
    >>> check.evaluate(["UK"] * 182 + ["DE"] * 10 + ["FR"] * 8).drifted
    False
    >>> check.evaluate(["UK"] * 120 + ["DE"] * 50 + ["FR"] * 30).drifted
    True
    """

    test = "categorical"
    streaming = False
    threshold = 1.0

    def __init__(self, feature: str, reference: Counter, window_size: int, alpha: float,
                 min_effect: float, min_expected: float = 10.0, unseen_cell: bool = False) -> None:
        total = sum(reference.values())
        if total == 0:
            raise ValueError(f"reference for {feature} is empty")
        if not 0 <= min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1), not {min_effect}")
        self.feature = feature
        self.window_size = window_size
        self.min_effect = min_effect
        kept = sorted(c for c, n in reference.items() if n / total * window_size >= min_expected)
        self.index = {c: i for i, c in enumerate(kept)}
        counts = [reference[c] for c in kept] + [total - sum(reference[c] for c in kept)]
        self.seen = set(reference) if unseen_cell else None
        if unseen_cell:  # Good–Turing: a category the reference never saw comes with a chance of
            counts.append(sum(n == 1 for n in reference.values()))  # about (seen once) / N
        self.ref_counts = np.array(counts, dtype=np.float64)
        self.ref_total = total
        self.ref_share = self.ref_counts / total
        self.expected = window_size * self.ref_share
        a = alpha / (2 * len(counts))
        self.hi, self.lo = fisher_bounds(self.ref_counts, total, window_size, a)
        w, r, m = window_size, self.ref_counts, total + window_size
        self._rest = m - r  # less x: the values of the other cells, window and reference
        self._fixed = (xlogy(r, r) + xlogy(total - r, total - r) - xlogy(w, w) - xlogy(total, total)
                       + xlogy(m, m))
        # A side no count can reach (hi > w, lo < 0: a cell expected 14 times in 200 is not
        # significantly low even at 0) is anchored at its most extreme count, scaled so that
        # count scores ln p / ln a (< 1): its deviance alone overstates small counts' evidence.
        top, bottom = np.minimum(self.hi, w), np.maximum(self.lo, 0)
        self._at_hi = self._anchor(top, self.hi > w, hypergeom.sf(w - 1, m, r + w, w), a)
        self._at_lo = self._anchor(bottom, self.lo < 0, hypergeom.cdf(0, m, r, w), a)

    def _anchor(self, bound: np.ndarray, unreached: np.ndarray, p_extreme: np.ndarray,
                a: float) -> np.ndarray:
        """The deviance a cell's score is divided by on one side: the deviance at its bound, or
        for a side no count reaches, its extreme count's scaled by ln a / ln p of that count."""
        at = self._deviance(bound)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = at * np.log(a) / np.log(p_extreme)
        fallback = chi2.isf(2 * a, 1)  # the extreme count is no evidence at all (p = 1)
        return np.where(unreached, np.where((at > 0) & (p_extreme < 1), scaled, fallback), at)

    def cell(self, value) -> int:
        """The cell a value counts in: its own, the pooled one, or (``unseen_cell``) the one of
        values the reference never saw."""
        i = self.index.get(value)
        if i is None:
            pooled = len(self.index)
            return pooled if self.seen is None or value in self.seen else pooled + 1
        return i

    def counts(self, values) -> np.ndarray:
        out, cell = np.zeros(self.ref_counts.size), self.cell
        for value, n in Counter(values).items():
            out[cell(value)] += n
        return out

    def evaluate(self, values) -> Verdict:
        return self.evaluate_counts(self.counts(values))

    def evaluate_counts(self, current: np.ndarray, scores: np.ndarray | None = None) -> Verdict:
        """The verdict on a window given as its cell counts (``counts``), and its cells'
        ``cell_scores`` if the caller has them already."""
        if current.sum() != self.window_size:
            raise ValueError(f"{self.feature}: window has {current.sum():.0f} values, "
                             f"the bounds were built for {self.window_size}")
        # The decision is the exact bounds'; the score agrees with it to the last bit.
        score = float(np.max(self.cell_scores(current) if scores is None else scores))
        beyond = bool((current >= self.hi).any() or (current <= self.lo).any())
        score = max(score, 1.0) if beyond else min(score, BELOW_ONE)
        tv = 0.5 * float(np.abs(current / self.window_size - self.ref_share).sum())
        drifted = score >= 1.0 and tv >= self.min_effect
        return Verdict(self.feature, self.test, score, self.threshold, drifted)

    def cell_scores(self, current: np.ndarray) -> np.ndarray:
        """Per cell of a window's counts, its score: 1 at the bound on its side."""
        if self.window_size <= TABLE_MAX_WINDOW:
            return self._table()[self._cells, current.astype(np.intp)]
        return self._scores(current)

    def _scores(self, current: np.ndarray) -> np.ndarray:
        """Per cell, its count's deviance over the deviance at the bound on its side."""
        bound = np.where(current >= self.expected, self._at_hi, self._at_lo)
        return self._deviance(current) / bound

    def _table(self) -> np.ndarray:
        """Every cell's score at every count 0..W (cells × W+1): ``_scores`` of each count,
        built on first use and never pickled; evaluating from it is a lookup, not five xlogy
        passes (a window is evaluated every pane)."""
        table = self.__dict__.get("_score_table")
        if table is None:
            counts = np.arange(self.window_size + 1, dtype=np.float64)[:, None]  # against every cell
            table = self._scores(counts).T
            self._score_table, self._cells = table, np.arange(self.ref_counts.size)
        return table

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_score_table", None)
        state.pop("_cells", None)
        return state

    def _deviance(self, x: np.ndarray) -> np.ndarray:
        """G² of each cell's 2×2 table (the cell or not; window of w vs reference of n):
        2 (Σ cells O ln O − Σ margins m ln m + T ln T), the reference's terms precomputed."""
        r, w = self.ref_counts, self.window_size
        return 2 * np.maximum(xlogy(x, x) + xlogy(w - x, w - x) - xlogy(r + x, r + x)
                              - xlogy(self._rest - x, self._rest - x) + self._fixed, 0.0)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        return []


def fisher_bounds(ref_counts: np.ndarray, n: int, w: int, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Per cell with ``ref_counts`` of ``n`` reference values: hi, the smallest window count (of
    ``w``) whose one-sided Fisher p-value, P(X ≥ x) for X hypergeometric given the cell's total
    r + x, is at most ``a`` (w + 1: none); lo, the largest with P(X ≤ x) ≤ a (−1: none). Both
    p-values are monotone in x, so each bound is a bisection (scipy's hypergeometric tails cost
    ~50 µs each, more in large windows: a whole table per cell would take seconds). It starts
    from a bracket around the normal approximation's bound where the exact p-values confirm
    it (else from the whole range), and evaluates only the cells not yet settled: the result
    is the plain bisection's, in about half the tail evaluations."""
    r = np.asarray(ref_counts, dtype=np.float64)
    share = r / n
    centre = w * share
    spread = norm.isf(a) * np.sqrt(w * share * (1 - share) * (n + w) / n)

    def up(x: np.ndarray, cells: np.ndarray) -> np.ndarray:  # is P(X >= x) <= a, for these cells
        return (x > w) | (hypergeom.sf(np.minimum(x, w) - 1, n + w, r[cells] + x, w) <= a)

    def down(x: np.ndarray, cells: np.ndarray) -> np.ndarray:  # is P(X <= x) <= a
        return (x >= 0) & (hypergeom.cdf(np.maximum(x, 0), n + w, r[cells] + x, w) <= a)

    every = np.arange(r.size)
    # hi: the smallest x with up(x); invariant: up(right), and not up(x) for any x < left
    guess, width = centre + spread, 0.2 * spread + 3  # the normal approximation's bound, ± a fifth
    below = np.clip(np.floor(guess - width), 0, w).astype(np.int64)
    above = np.clip(np.ceil(guess + 2 * width), 0, w + 1).astype(np.int64)  # the exact tail is longer
    left = np.where(up(below, every), 0, below + 1)
    right = np.where(up(above, every), above, w + 1)
    hi = _bisect(left, right, up, lowest=True)
    # lo: the largest x with down(x); invariant: down(left) or left = -1, not down(x) for x > right
    guess = centre - spread
    below = np.clip(np.floor(guess - width), -1, w).astype(np.int64)
    above = np.clip(np.ceil(guess + width), 0, w).astype(np.int64)  # a count: its test is real
    left = np.where(down(below, every), below, -1)
    right = np.where(down(above, every), w, above - 1)
    lo = _bisect(left, right, down, lowest=False)
    return hi.astype(np.float64), lo.astype(np.float64)


def _bisect(left: np.ndarray, right: np.ndarray, test, lowest: bool) -> np.ndarray:
    """Per cell, the bound between ``left`` and ``right`` where ``test`` turns (the lowest x
    passing it, or the highest), evaluating only the cells not yet settled."""
    left, right = left.copy(), right.copy()
    while (open_ := np.flatnonzero(left < right)).size:
        lo, hi = left[open_], right[open_]
        mid = (lo + hi) // 2 if lowest else (lo + hi + 1) // 2
        ok = test(mid, open_)
        if lowest:
            right[open_], left[open_] = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
        else:
            left[open_], right[open_] = np.where(ok, mid, lo), np.where(ok, hi, mid - 1)
    return right if lowest else left


class ValueMixCheck(CategoricalCheck):
    """The categorical test on a numeric feature's exact values: its mix of price points.

    Quantities and prices sit on a few points (1, 2, 12; 1.25, 0.85, 2.08): a price rise of
    1 % or quantities × 1.05 move most rows off them and barely move the distribution
    function, so KS misses what this sees at once. Values expected at least ``min_expected``
    times per window are categories; every other value (unseen ones too) is pooled.

    >>> check = ValueMixCheck("price", np.repeat([1.25, 2.08, 4.95], [5000, 3000, 2000]), 200,
    ...                       alpha=1e-6, min_effect=0.1)
    >>> check.evaluate(np.repeat([1.25, 2.08, 4.95], [100, 60, 40])).drifted
    False
    >>> check.evaluate(np.repeat([1.26, 2.10, 5.00], [100, 60, 40])).drifted
    True
    """

    test = "values"

    def __init__(self, feature: str, reference_sorted: np.ndarray, window_size: int, alpha: float,
                 min_effect: float, min_expected: float = 10.0) -> None:
        values, counts = np.unique(reference_sorted, return_counts=True)
        super().__init__(feature, Counter(dict(zip(values.tolist(), counts.tolist(), strict=True))),
                         window_size, alpha, min_effect, min_expected)
        self.kept = np.array(sorted(self.index), dtype=np.float64)

    def buckets(self, values: np.ndarray) -> np.ndarray:
        """Each value's bucket: its index among the kept values, or the pooled last one."""
        pos = np.minimum(np.searchsorted(self.kept, values), max(self.kept.size - 1, 0))
        matched = (self.kept[pos] == values) if self.kept.size else np.zeros(values.size, bool)
        return np.where(matched, pos, self.kept.size)

    def counts(self, values) -> np.ndarray:
        return np.bincount(self.buckets(np.asarray(values, dtype=np.float64)),
                           minlength=self.ref_counts.size).astype(np.float64)
