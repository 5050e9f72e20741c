"""One command that proves and measures the device path: ``python -m slswin_lib gpu-check``.

It runs where a lent GPU runs, a bare machine with torch, timm, numpy, scipy, pandas, matplotlib and
opencv-python-headless but no MediaPipe, OpenCV contrib, Dask or papermill, from the checkout
(``python3 -m slswin_lib gpu-check --device cuda --out DIR``), and in one run of about five minutes:

* checks every stage's device path end to end on a tiny synthetic set built without MediaPipe
  (:mod:`~slswin_lib.gpucheck.tinyset`): features with ``tvl1_torch`` on the device, a one-fold LOSO of
  SL-Swin-T and SOFTNet training and predicting on the device, spotting and evaluation of the
  held-out scores, a spotter exported, reloaded on the device and scoring a held-out video
  (:mod:`~slswin_lib.gpucheck.stages`);
* measures side by side the TV-L1 pairs/s (torch on the device in float32 and bfloat16 against
  OpenCV on every CPU core), the paper recipe's training samples/s (batch 48) of SL-Swin-T at 42 and
  84 and of SOFTNet, with and without bfloat16 autocast and ``torch.compile``, the prediction
  samples/s and the peak device memory (:mod:`~slswin_lib.gpucheck.speed`);
* projects the hours of a paper run on CAS(ME)^2 and SAMM-LV from ``benchmarks/bench_scale.py``'s units.

One table (:mod:`~slswin_lib.gpucheck.table`), printed and written as ``gpu_check.json`` and
``gpu_check.md``. ``--device cpu`` runs the same code at a tiny size (the CI test).
"""
from .run import EXIT_NO_CUDA, SIZES, CheckSize, run_gpu_check

__all__ = ["run_gpu_check", "CheckSize", "SIZES", "EXIT_NO_CUDA"]
