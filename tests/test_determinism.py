"""The portable CPU kernels of the smoke profile (slswin_lib.determinism), and the golden fit.

The golden values (``determinism_golden.json``) were made on an AMD EPYC (Zen 4, AVX-512) with
``python -m slswin_lib.determinism --golden``; under user-mode QEMU the same fit gave the same bits as
Intel CPUs (``-cpu Skylake-Client-v4``, ``Cascadelake-Server-v5``; AVX2, as QEMU has no AVX-512) and
as an AVX2-only AMD one (``EPYC-Rome``; the fit only), the whole file byte for byte on the emulated Intel
CPUs, and other bits on the emulated Intel and AMD CPUs without the pins
(``benchmarks/bench_determinism.py --emulate``). So a failure here on another CPU means the pins no
longer make the results portable there.
"""
import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from slswin_lib.config import TrainConfig, get_profile, run_digest
from slswin_lib.determinism import (GOLDEN_MODELS, NUMPY_VARIABLE, PORTABLE_ENV, PORTABLE_THREADS, NativeKernelsWarning,
                                    apply, enter, environment, fold_threads, kernel_env, numpy_avx512_targets)
from slswin_lib.experiment import FoldJob, VideoInfo, local_cluster, train_fold
from slswin_lib.experiment.folds import _kernels

GOLDEN = Path(__file__).resolve().parent / "determinism_golden.json"
PINS = sorted({*PORTABLE_ENV, NUMPY_VARIABLE})


@pytest.fixture
def no_pins(monkeypatch):
    """This test's environment without the pinning variables; afterwards each is as before (set or not)."""
    for key in PINS:
        monkeypatch.setenv(key, "recorded")   # so that monkeypatch restores the variable, even one set by the test
        monkeypatch.delenv(key)


def test_docstring_examples():
    import doctest

    import slswin_lib.determinism

    result = doctest.testmod(slswin_lib.determinism)
    assert result.failed == 0 and result.attempted == 5


def test_cpu_profiles_pin_the_kernels_without_changing_any_identity():
    for name, mode in (("smoke", "portable"), ("quick", "native"), ("quick-paper_text", "native"),
                       ("paper", "native")):
        p = get_profile(name)
        assert (p.train.cpu_kernels, p.softnet.cpu_kernels) == (mode, mode), name
    quick = get_profile("smoke").train
    # like the device: not part of a run's identity, so the paper profile's digests stay what they were
    assert run_digest(quick) == run_digest(dataclasses.replace(quick, cpu_kernels="native"))
    assert run_digest(quick) != run_digest(dataclasses.replace(quick, seed=1))
    with pytest.raises(ValueError, match=r"TrainConfig.cpu_kernels = 'avx2' is not a valid choice; choose one of "
                                         r"\['native', 'portable'\]"):
        TrainConfig(cpu_kernels="avx2")


def test_kernel_environments():
    targets = numpy_avx512_targets()
    assert targets and all(t.startswith(("AVX512", "X86_V4")) for t in targets)
    assert not {"X86_V3", "AVX2", "FMA3"} & set(targets)                   # numpy's AVX2 code stays on
    assert kernel_env("portable") == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                                      "MKL_CBWR": "COMPATIBLE", "NPY_DISABLE_CPU_FEATURES": " ".join(targets)}
    assert kernel_env("native") == {}
    base = {"HOME": "/home/x", "MKL_CBWR": "AUTO", "ATEN_CPU_CAPABILITY": "default", NUMPY_VARIABLE: "AVX2"}
    assert environment("native", base) == {"HOME": "/home/x"}
    assert environment("portable", base) == {"HOME": "/home/x", **kernel_env("portable")}
    assert (fold_threads("portable", None), fold_threads("portable", 8)) == (PORTABLE_THREADS, PORTABLE_THREADS) \
        == (1, 1)
    assert (fold_threads("native", None), fold_threads("native", 8)) == (None, 8)


def test_native_changes_nothing(no_pins, monkeypatch):
    monkeypatch.setenv("MKL_CBWR", "AUTO")
    before = dict(os.environ)
    apply("native")
    enter("native")
    assert dict(os.environ) == before


def test_enter_sets_the_pins_and_warns_when_torch_ran_on_other_code(no_pins):
    torch.ones(2).sum()                      # torch has computed in this process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enter("portable")
    assert {k: os.environ[k] for k in PINS} == kernel_env("portable")
    ran_elsewhere = torch.backends.cpu.get_cpu_capability() != "AVX2"
    assert [w.category for w in caught] == ([NativeKernelsWarning] if ran_elsewhere else [])
    if ran_elsewhere:
        assert "results are this CPU's own" in str(caught[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enter("portable")                    # already set: nothing to do
    assert caught == []


def test_shell_exports_of_each_profile():
    def exported(profile: str, *extra: str) -> subprocess.CompletedProcess:
        script = (f'set -e; exports=$("{sys.executable}" -m slswin_lib.determinism --profile {profile} {" ".join(extra)}); '
                  'eval "$exports"; echo "$ATEN_CPU_CAPABILITY|$ONEDNN_MAX_CPU_ISA|$MKL_CBWR"')
        return subprocess.run(["bash", "-c", script], env=environment("native"), capture_output=True, text=True)

    assert exported("smoke").stdout == "avx2|AVX2|COMPATIBLE\n"
    assert exported("quick").stdout == "||\n"
    assert exported("quick", "--kernels", "portable").stdout == "avx2|AVX2|COMPATIBLE\n"   # ./run_all.sh --portable
    assert exported("paper").stdout == "||\n"
    bad = exported("fast")
    assert bad.returncode != 0 and "error: unknown profile 'fast'" in bad.stderr


def _job(tmp_path, cfg: TrainConfig, threads=None) -> FoldJob:
    rng = np.random.default_rng(0)
    k, n_frames = 3, 30
    infos = tuple(VideoInfo(f"s{i}_0101", f"s{i}", "0101", n_frames, ((10, 14),)) for i in range(2))
    inputs = {i.key: rng.random((n_frames - k, 42, 42, 3), dtype=np.float32) for i in infos}
    return FoldJob(str(tmp_path / cfg.cpu_kernels), "s0", infos[1:], infos[:1], inputs, k, "mae", cfg, "softnet",
                   threads)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_a_fold_trains_on_the_profiles_kernels(tmp_path, no_pins, two_threads):
    cfg = dataclasses.replace(get_profile("smoke").softnet, steps=2, batch_size=8, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NativeKernelsWarning)   # this process ran torch before (see above)
        train_fold(_job(tmp_path, dataclasses.replace(cfg, cpu_kernels="native")), progress=False)
        assert torch.get_num_threads() == 2 and not any(k in os.environ for k in PINS)
        result = train_fold(_job(tmp_path, cfg, threads=2), progress=False)
    assert torch.get_num_threads() == PORTABLE_THREADS
    assert {k: os.environ[k] for k in PINS} == kernel_env("portable")
    assert result.record["steps"] == 2 and len(result.scores["s0_0101"]) == 27


def test_jobs_of_different_kernels_do_not_share_workers(tmp_path):
    portable = _job(tmp_path, get_profile("smoke").train)
    native = _job(tmp_path, get_profile("paper").train)
    assert (_kernels([portable, portable]), _kernels([native]), _kernels([])) == ("portable", "native", "native")
    with pytest.raises(ValueError, match=r"different CPU kernels \['native', 'portable'\] cannot share workers"):
        _kernels([portable, native])


def _worker_facts():
    import os

    import torch

    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:   # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__

    from slswin_lib.determinism import numpy_avx512_targets

    pins = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES")
    numpy_on = [t for t in numpy_avx512_targets() if __cpu_features__.get(t)]
    return {k: os.environ.get(k) for k in pins}, (torch.backends.cpu.get_cpu_capability(), numpy_on)


@pytest.mark.slow
def test_fold_workers_start_with_the_pins(no_pins):
    from distributed import Client

    native = local_cluster(1, kernel_env("native"))
    try:
        with Client(native) as client:
            env, _ = client.submit(_worker_facts, pure=False).result()
        assert env == {k: None for k in PINS}                              # native: nothing added
    finally:
        native.close()
    pinned = local_cluster(1, kernel_env("portable"))
    try:
        with Client(pinned) as client:
            env, capability = client.submit(_worker_facts, pure=False).result()
        assert env == kernel_env("portable") and capability == ("AVX2", [])   # torch's and numpy's AVX-512 off
        assert local_cluster(1, kernel_env("portable")) is pinned          # kept for the next run
    finally:
        pinned.close()
    assert {k: os.environ[k] for k in PINS} == kernel_env("portable")      # set here before the workers spawned


@pytest.mark.slow
def test_golden_fit_gives_the_stored_bits():
    golden = json.loads(GOLDEN.read_text())
    if golden["torch"].split("+")[0] != torch.__version__.split("+")[0]:
        pytest.skip(f"the golden values are torch {golden['torch']}'s kernels, this is torch {torch.__version__}: "
                    f"regenerate them with `python -m slswin_lib.determinism --golden > {GOLDEN.name}` and check "
                    "them on another CPU (benchmarks/bench_determinism.py --emulate)")
    # a fresh process without the variables: the command sets them itself before torch loads
    out = subprocess.run([sys.executable, "-m", "slswin_lib.determinism", "--golden"], env=environment("native"),
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert (got["cpu_capability"], got["threads"]) == ("AVX2", 1)
    for model in GOLDEN_MODELS:
        for key in ("step_loss", "val_loss", "scores"):
            want, have = golden[model][key], got[model][key]
            assert len(have) == len(want), (model, key)
            first = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b), None)
            assert first is None, (f"{model} {key}[{first}] = {have[first]} ({float.fromhex(have[first])!r}), "
                                   f"stored {want[first]} ({float.fromhex(want[first])!r}): this CPU computes "
                                   "other bits under the portable kernels")
    assert len(got["softnet"]["scores"]) == 40 and len(got["softnet"]["step_loss"]) == 3
    # the data before the models: the rendered frames, their landmarks and features
    assert got["video"] == golden["video"], ("the golden video's frames, landmarks or features differ on this CPU "
                                             f"under the portable kernels: {got['video']} vs {golden['video']}")
    assert (got["video"]["n_frames"], got["video"]["shape"]) == (180, [174, 42, 42, 3])
