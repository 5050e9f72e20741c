"""``./run_all.sh``: the Jupyter kernel of the venv, ``lab``, the per-folder run lock and the CPU-kernel pins.

The kernel tests use a real virtual environment made here (no pip: a ``.pth`` file lends it the
test interpreter's site-packages folders) so that registration writes into a throw-away prefix. The lock
tests use a stand-in ``python`` that records its arguments (and the pinning variables it was started
with) and waits for a signal file, so a run of ``./run_all.sh`` can be held in the middle while a second
one is started; it hands ``-m slswin_lib.determinism`` to the test interpreter.
"""
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import jupyterlab
import pytest

from slswin_lib.determinism import PORTABLE_ENV

ROOT = Path(__file__).resolve().parent.parent
RUN_ALL = str(ROOT / "run_all.sh")
KERNEL = "slswin"
KERNEL_DISPLAY = "Python 3 (slswin)"
#: seconds to wait for a step that takes well under one
WAIT_S = 60


def _stamp(venv_dir: Path) -> None:
    """Mark the venv as installed for this pyproject.toml, as ``run_all.sh setup`` does."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    (venv_dir / ".slswin-installed").write_text(digest + "\n")


def _env(tmp: Path, venv_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SLSWIN_PROFILE", "JUPYTER_PATH", *PORTABLE_ENV)}
    env.update(SLSWIN_VENV=str(venv_dir), SLSWIN_WORK=str(tmp / "work"), JUPYTER_DATA_DIR=str(tmp / "jupyter"),
               REAL_PYTHON=sys.executable, **extra)
    return env


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([RUN_ALL, *args], env=env, capture_output=True, text=True, timeout=WAIT_S)


@pytest.fixture(scope="module")
def lent_venv(tmp_path_factory) -> Path:
    """A real venv (own prefix) that sees the test interpreter's installed packages."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(path, with_pip=False)
    site = next((path / "lib").glob("python3*/site-packages"))
    lent = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (site / "lent_packages.pth").write_text("".join(p + "\n" for p in lent))
    _stamp(path)
    return path


def test_setup_registers_the_kernel_in_the_venv(lent_venv, tmp_path):
    env = _env(tmp_path, lent_venv)
    spec_file = lent_venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    spec_file.unlink(missing_ok=True)
    first = _run("setup", env=env)
    assert first.returncode == 0, first.stderr
    assert f'[setup] Jupyter kernel "{KERNEL}" ({KERNEL_DISPLAY}) runs {lent_venv}/bin/python' in first.stdout
    spec = json.loads(spec_file.read_text())
    assert spec["argv"][0] == str(lent_venv / "bin" / "python")
    assert spec["argv"][-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["display_name"] == KERNEL_DISPLAY and spec["language"] == "python"
    # registered once: a second setup leaves it alone, `kernel` registers it again
    again = _run("setup", env=env)
    assert again.returncode == 0 and "Jupyter kernel" not in again.stdout
    forced = _run("kernel", env=env)
    assert forced.returncode == 0 and f'Jupyter kernel "{KERNEL}"' in forced.stdout
    # what JupyterLab started from this venv lists (user-level kernels isolated in JUPYTER_DATA_DIR)
    listed = subprocess.run(
        [str(lent_venv / "bin" / "python"), "-c",
         "import json; from jupyter_client.kernelspec import KernelSpecManager as M; "
         "print(json.dumps(M().find_kernel_specs()))"],
        env=env, capture_output=True, text=True, check=True, timeout=WAIT_S)
    assert json.loads(listed.stdout)[KERNEL] == str(spec_file.parent)


def test_lab_starts_jupyterlab_of_the_venv(lent_venv, tmp_path):
    # --version: JupyterLab of the venv answers and exits instead of serving
    r = _run("lab", "--profile", "smoke", "--version", env=_env(tmp_path, lent_venv))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == jupyterlab.__version__
    root = os.path.commonpath([ROOT, tmp_path / "work"])
    assert f"[lab] JupyterLab on {root}: {ROOT}/notebooks and the executed copies in {tmp_path / 'work'}/notebooks; " \
           f'pick the kernel "{KERNEL_DISPLAY}"; notebooks use profile smoke' in r.stdout


@pytest.fixture
def standin_venv(tmp_path) -> Path:
    """A venv whose ``python`` logs its arguments to $CALLS and returns once $RELEASE exists."""
    path = tmp_path / "standin"
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text('#!/bin/sh\n[ "$2" = slswin_lib.determinism ] && exec "$REAL_PYTHON" "$@"\n'
                      'echo "$@" >> "$CALLS"\n'
                      'echo "$ATEN_CPU_CAPABILITY|$ONEDNN_MAX_CPU_ISA|$MKL_CBWR" >> "$CALLS.env"\n'
                      'while [ ! -e "$RELEASE" ]; do sleep 0.05; done\n')
    python.chmod(0o755)
    _stamp(path)
    spec = path / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]}))
    return path


def _wait_for(predicate, proc: subprocess.Popen) -> None:
    """Poll ``predicate`` until true while ``proc`` keeps running."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_second_run_on_the_same_folder_is_refused_at_once(standin_venv, tmp_path):
    calls, release = tmp_path / "calls.txt", tmp_path / "release"
    env = _env(tmp_path, standin_venv, CALLS=str(calls), RELEASE=str(release))
    lock = tmp_path / "work" / ".run_all.lock"
    first = subprocess.Popen([RUN_ALL, "--profile", "smoke", "--only", "09"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the first run holds the lock and waits inside its setup (fetch-assets)
        _wait_for(lambda: calls.exists() and lock.exists() and lock.read_text().startswith(f"pid {first.pid},"),
                  first)
        holder = lock.read_text().strip()
        assert holder.endswith(" UTC: ./run_all.sh --profile smoke --only 09")
        second = _run("--profile", "smoke", "--only", "09", env=env)
        assert first.poll() is None          # refused while the first is still running
        assert second.returncode == 3
        assert f"another run is using {tmp_path / 'work'}: {holder}" in second.stderr
        assert f"stop it (kill {first.pid})" in second.stderr
        # `test` runs lock their folder the same way
        blocked = _run("test", env=env)
        assert blocked.returncode == 3 and f"pid {first.pid}," in blocked.stderr
        assert calls.read_text().splitlines() == ["-m slswin_lib fetch-assets --quiet"]
    finally:
        release.touch()
        out, err = first.communicate(timeout=WAIT_S)
    assert first.returncode == 0, err
    work = tmp_path / "work"
    papermill = calls.read_text().splitlines()[1].split()
    assert papermill[:5] == ["-m", "papermill", "notebooks/09_released_predictions.ipynb",
                             str(work / "notebooks" / "09_released_predictions.ipynb"), "--cwd"]
    times = [line.split("\t") for line in (work / "notebook_times.tsv").read_text().splitlines()]
    assert [t[0] for t in times] == ["09_released_predictions"] and len(times[0]) == 3   # name, seconds, start
    assert abs(float(times[0][2]) - time.time()) < WAIT_S and float(times[0][1]) >= 0
    # the run ends with where each notebook's time went
    assert calls.read_text().splitlines()[2:] == [f"-m slswin_lib time-split {work}"]
    assert json.loads((work / "run_all.json").read_text())["profile"] == "smoke"
    assert lock.read_text() == ""            # released: the next run starts without a stale-lock note
    after = _run("--profile", "smoke", "--only", "99", env=env)
    assert after.returncode == 2 and "stale" not in after.stderr


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_lock_of_a_killed_run_is_replaced(standin_venv, tmp_path):
    release = tmp_path / "release"
    release.touch()
    env = _env(tmp_path, standin_venv, CALLS=str(tmp_path / "calls.txt"), RELEASE=str(release))
    lock = tmp_path / "work" / ".run_all.lock"
    lock.parent.mkdir(parents=True)
    pid = _dead_pid()
    stale = f"pid {pid}, started 2026-01-01 00:00:00 UTC: ./run_all.sh --profile smoke"
    lock.write_text(stale + "\n")
    r = _run("--profile", "smoke", "--only", "09", env=env)
    assert r.returncode == 0, r.stderr
    assert f"[run_all] replacing the stale lock of a run that was killed ({stale})" in r.stderr
    assert "[run_all] done" in r.stdout and lock.read_text() == ""


def test_lock_held_by_another_process_is_refused(standin_venv, tmp_path):
    lock = tmp_path / "work" / ".run_all.lock"
    lock.parent.mkdir(parents=True)
    env = _env(tmp_path, standin_venv, CALLS=str(tmp_path / "calls.txt"), RELEASE=str(tmp_path / "release"))
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write(f"pid {os.getpid()}, started 2026-01-01 00:00:00 UTC: ./run_all.sh\n")
        fh.flush()
        r = _run("--profile", "smoke", "--only", "09", env=env)
    assert r.returncode == 3
    assert f"another run is using {lock.parent}: pid {os.getpid()}, started 2026-01-01 00:00:00 UTC" in r.stderr
    assert not (tmp_path / "calls.txt").exists()          # stopped before any setup
    assert lock.read_text().startswith(f"pid {os.getpid()},")   # the holder's line is left alone


def test_no_matching_notebook_is_an_error(standin_venv, tmp_path):
    env = _env(tmp_path, standin_venv, CALLS=str(tmp_path / "calls.txt"), RELEASE=str(tmp_path / "release"))
    r = _run("--only", "99", env=env)
    assert r.returncode == 2
    assert "no notebook in notebooks/ matches --only 99" in r.stderr
    assert not (tmp_path / "calls.txt").exists()


def test_help_lists_every_command_and_option():
    r = subprocess.run([RUN_ALL, "--help"], capture_output=True, text=True, timeout=WAIT_S)
    assert r.returncode == 0
    script = Path(RUN_ALL).read_text()
    options = [o for o in ("--profile", "--dataset", "--data-root", "--only", "--from", "--scheduler-address")
               if f"{o}) need_value" in script]
    assert len(options) == 6
    for word in [*options, "./run_all.sh test", "./run_all.sh lab", "./run_all.sh kernel", "lock"]:
        assert word in r.stdout, word
    assert r.stdout.startswith("Regenerate every table and figure") and "set -euo" not in r.stdout


def test_full_runs_what_the_quick_profile_leaves_out(standin_venv, tmp_path):
    calls, release = tmp_path / "calls.txt", tmp_path / "release"
    release.touch()
    env = _env(tmp_path, standin_venv, CALLS=str(calls), RELEASE=str(release))
    r = _run("--only", "08", "--full", env=env)
    assert r.returncode == 0, r.stderr
    papermill = next(line for line in calls.read_text().splitlines() if "papermill" in line)
    assert "-y settings: {ablation: {table6_types: [me, mae], fidelity: true}}" in papermill
    plain = tmp_path / "calls_plain.txt"
    r = _run("--only", "08", env={**env, "CALLS": str(plain)})
    assert r.returncode == 0 and "-y" not in next(line for line in plain.read_text().splitlines() if "papermill" in line)
    both = tmp_path / "calls_both.txt"
    r = _run("--only", "08", "--full", "--portable", env={**env, "CALLS": str(both)})
    assert r.returncode == 0, r.stderr
    papermill = next(line for line in both.read_text().splitlines() if "papermill" in line)
    # one settings mapping (papermill's -y mappings replace each other's top-level keys)
    assert papermill.count("-y ") == 1
    assert ("-y settings: {ablation: {table6_types: [me, mae], fidelity: true},train: {cpu_kernels: portable},"
            "softnet: {cpu_kernels: portable}}") in papermill


def test_each_command_exports_its_profiles_cpu_kernels(standin_venv, tmp_path):
    calls, release = tmp_path / "calls.txt", tmp_path / "release"
    release.touch()
    env = _env(tmp_path, standin_venv, CALLS=str(calls), RELEASE=str(release))
    for args in (["--profile", "smoke", "--only", "09"], ["--profile", "paper", "--only", "09"], ["test", "-x"],
                 ["--only", "09"], ["--only", "09", "--portable"]):
        r = _run(*args, env=env)
        assert r.returncode == 0, r.stderr
    pinned, native = "|".join(PORTABLE_ENV.values()), "||"
    assert list(PORTABLE_ENV) == ["ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR"]
    logged = list(zip([c.split()[1] for c in calls.read_text().splitlines()],
                      (tmp_path / "calls.txt.env").read_text().splitlines()))
    # set after the setup and before any process that loads torch: papermill's kernels, time-split, pytest
    assert logged == [("slswin_lib", native), ("papermill", pinned), ("slswin_lib", pinned),      # smoke
                      ("slswin_lib", native), ("papermill", native), ("slswin_lib", native),      # paper
                      ("slswin_lib", native), ("pytest", pinned),                                 # test (smoke)
                      ("slswin_lib", native), ("papermill", native), ("slswin_lib", native),      # quick
                      ("slswin_lib", native), ("papermill", pinned), ("slswin_lib", pinned)]      # --portable


def test_lab_roots_jupyterlab_where_notebooks_and_executed_copies_are(standin_venv, tmp_path):
    calls, release = tmp_path / "calls.txt", tmp_path / "release"
    release.touch()
    env = _env(tmp_path, standin_venv, CALLS=str(calls), RELEASE=str(release))
    outside = _run("lab", "--profile", "smoke", env=env)                      # SLSWIN_WORK outside the repository
    del env["SLSWIN_WORK"]
    inside = _run("lab", "--profile", "paper", env=env)                       # runs/<profile> in the repository
    assert outside.returncode == 0 and inside.returncode == 0, outside.stderr + inside.stderr
    labs = [c.split() for c in calls.read_text().splitlines() if c.startswith("-m jupyterlab")]
    roots = [next(a.split("=", 1)[1] for a in lab if a.startswith("--ServerApp.root_dir=")) for lab in labs]
    assert roots == [os.path.commonpath([ROOT, tmp_path / "work"]), str(ROOT)]
    for root, copies in zip(roots, (tmp_path / "work" / "notebooks", ROOT / "runs" / "quick" / "notebooks")):
        (ROOT / "notebooks").relative_to(root)
        copies.relative_to(root)
    assert f"[lab] JupyterLab on {ROOT}: {ROOT}/notebooks and the executed copies in {ROOT}/runs/<profile>/notebooks" \
        in inside.stdout
    env_lines = (tmp_path / "calls.txt.env").read_text().splitlines()
    assert env_lines[1::2] == ["|".join(PORTABLE_ENV.values()), "||"]      # lab's kernels: smoke pinned, paper not
