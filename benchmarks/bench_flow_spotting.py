"""Spotting accuracy of each optical-flow setting: the accuracy cost of a faster flow.

For every flow setting, features of the profile's synthetic set are extracted (cached as usual)
and scored by the training-free baseline (mean ROI flow magnitude), then spotted and evaluated
exactly like the trained models (t = 0.60 and a nested-LOSO t). Extraction time per setting is
reported beside the F1, so speed and accuracy are read side by side; OpenCV's TV-L1 and the
batched torch TV-L1 (``tvl1_torch``, on ``--flow-device``) are two rows. Run::

    .venv/bin/python benchmarks/bench_flow_spotting.py --profile smoke
    .venv/bin/python benchmarks/bench_flow_spotting.py --profile smoke \
        --settings "tvl1 (paper: OpenCV defaults),tvl1_torch (the same; batched torch)"
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

SETTINGS = {
    "tvl1 (paper: OpenCV defaults)": ("tvl1", ()),
    "tvl1_torch (the same; batched torch)": ("tvl1_torch", ()),
    "tvl1 fast (3 scales; 3 warps; eps 0.05)": ("tvl1", (("scales", 3), ("warps", 3), ("epsilon", 0.05))),
    "dis (quick profile)": ("dis", ()),
    "farneback": ("farneback", ()),
}


def main(argv=None) -> None:
    from slswin_lib.config import resolve_profile
    from slswin_lib.experiment import baseline, expression_set, open_dataset
    from slswin_lib.report import megc2021_table, table2_notes

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    p.add_argument("--t", type=float, default=None, help="threshold factor (default: the profile's)")
    p.add_argument("--flow-device", default="cpu", help="torch device of tvl1_torch")
    p.add_argument("--flow-batch", type=int, default=64, help="pairs per tvl1_torch call")
    args = p.parse_args(argv)
    base = resolve_profile(args.profile, {"spot": {"t": args.t}} if args.t is not None else None)
    ds = open_dataset(base)
    rows, methods = [], {}
    names = args.settings.split(",")
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        p.error(f"unknown --settings {unknown}; choose from {list(SETTINGS)}")
    for name in names:
        flow, params = SETTINGS[name]
        prof = base.replace(features={"flow": flow, "flow_params": params, "flow_device": args.flow_device,
                                      "flow_batch": args.flow_batch})
        start = time.perf_counter()
        sets = {e: expression_set(ds, e, prof, progress=False) for e in ("me", "mae")}
        seconds = time.perf_counter() - start
        scores = methods[name] = {e: baseline(es, prof) for e, es in sets.items()}
        table = megc2021_table({name: scores}, prof.spot, modes=(prof.spot.mode,), fps=float(ds.videos[0].fps)).table
        pairs = sum(len(f) for es in sets.values() for f in es.features.values())
        row = {"flow": name, "pairs": pairs, "extract s": round(seconds, 1), "pairs/s": round(pairs / seconds, 1)}
        for (_, threshold, _, e), r in table.iterrows():
            row[f"F1 {e} ({threshold})"] = f"{r['F1']:.4f} [{r['F1 low']:.3f}, {r['F1 high']:.3f}]"
        rows.append(row)
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(f"\n{ds}, profile {args.profile}, baseline scorer (mean ROI flow magnitude); extraction times "
          "include landmarks and are from the cache when a setting was extracted before")
    print(pd.DataFrame(rows).to_string(index=False))
    print("F1 [low, high]: 95% bootstrap interval (authors' matching unless the profile says otherwise)")
    if len(methods) > 1:   # every setting against the first, paired over the same held-out units
        comparison = megc2021_table(methods, base.spot, modes=(base.spot.mode,), fps=float(ds.videos[0].fps))
        print(*table2_notes(comparison), sep="\n")


if __name__ == "__main__":
    main()
