"""Can a fold score only every s-th held-out frame? The authors' released scores say no.

Predicting the held-out videos is a fixed cost of every fold (a forward pass per frame pair), so
on the quick benchmark it is ~30 % of an ablation fold (issue 23). Scoring only every ``s``-th
frame pair and interpolating the rest linearly would cut it by ``s``; the spotter smooths the scores
over ``2k`` frames anyway. This script measures what that does to spotting on real scores: the
authors' released SL-Swin-T LOSO scores on CAS(ME)^2 (bundled, ``slswin_lib/reference/casme2``),
kept at every ``s``-th frame (and the last), interpolated back, spotted and evaluated as
published (t = 0.60, the authors' matching)::

    .venv/bin/python benchmarks/bench_predict_stride.py [--strides 1 2 3 4 6] [--t 0.6]
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def strided(scores: np.ndarray, stride: int) -> np.ndarray:
    """``scores`` known only at every ``stride``-th index (and the last), linearly interpolated."""
    n = len(scores)
    known = np.unique(np.append(np.arange(0, n, stride), n - 1))
    return np.interp(np.arange(n), known, scores[known])


def main(argv=None) -> None:
    from slswin_lib.scores import ScoreSet, released_score_set, spot_score_set

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strides", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--t", type=float, default=0.6)
    args = ap.parse_args(argv)
    rows = []
    for expression in ("me", "mae"):
        released = released_score_set(expression)
        for s in args.strides:
            scores = ScoreSet({v: strided(x, s) for v, x in released.scores.items()}, released.videos, released.gt)
            counts, _, _ = spot_score_set(scores, args.t)
            rows.append({"type": expression, "stride": s, "k": ",".join(map(str, sorted(set(released.videos["k"])))),
                         "TP": counts.tp, "FP": counts.fp, "FN": counts.fn, "F1": round(counts.f1, 4)})
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
