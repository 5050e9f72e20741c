#!/usr/bin/env bash
# Regenerate every table and figure of SL-Swin (He, Chen & Zhong 2023), run the test suite, or
# step through the notebooks in JupyterLab.
#
#   ./run_all.sh                          all notebooks, quick profile, synthetic benchmark
#   ./run_all.sh --profile paper --dataset casme2 --data-root /data/CASME2
#   ./run_all.sh --only 09                notebooks whose name starts with 09
#   ./run_all.sh --from 06                notebooks 06 onwards (e.g. after fixing a failure)
#   ./run_all.sh --full                   also what the quick profile leaves out to keep within an hour
#                                         (config.AblationConfig: table6_types, fidelity); the README's
#                                         results block is then left as it is
#   ./run_all.sh --portable               quick on the pinned CPU kernels (slswin_lib/determinism.py): the
#                                         same bits on every x86-64 CPU, ~21 min longer; README left as is
#   ./run_all.sh test [PYTEST ARGS]       the test suite: pytest + nbval over every notebook
#   ./run_all.sh lab [--profile P] [ARGS] JupyterLab on the repository (notebooks/ and the executed
#                                         copies under runs/) with the kernel "slswin" (this .venv);
#                                         notebooks run by hand use profile P (default
#                                         $SLSWIN_PROFILE, else quick); ARGS go to jupyter lab
#   ./run_all.sh kernel                   only (re-)register the Jupyter kernel "slswin" in .venv
#   ./run_all.sh gpu-check [--device cuda|cpu] [--out DIR]
#                                         check every stage on the device and measure it (about 5 min
#                                         on one GPU; python -m slswin_lib gpu-check --help); no set-up:
#                                         it runs on .venv when there is one, else on $PYTHON (a GPU
#                                         machine's own Python with torch, timm and OpenCV)
#
# Options of a notebook run: --profile smoke|quick|paper, --dataset NAME --data-root DIR,
# --only PREFIX, --from PREFIX, --scheduler-address tcp://HOST:PORT (a Dask scheduler), --full, --portable.
# Each call sets itself up: a virtual environment in .venv (or $SLSWIN_VENV) is created on
# first use and re-synced whenever pyproject.toml changes, with the Jupyter kernel "slswin"
# registered in it; assets come from PyPI packages.
# A run writes into runs/<profile>/ ($SLSWIN_WORK if set; runs/test for `test`) and holds a lock
# there: a second run on the same folder stops at once and names the running one.
# Every command exports its profile's CPU-kernel pins (slswin_lib/determinism.py; smoke, and any run
# with --portable: the same bits on every x86-64 CPU) before any process loads torch.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=$(realpath -ms "${SLSWIN_VENV:-$ROOT/.venv}")
PY=${PYTHON:-python3}
KERNEL=slswin
KERNEL_DISPLAY="Python 3 (slswin)"
LOCK_NAME=.run_all.lock
CMDLINE="./run_all.sh${*:+ $*}"
LOCK_FILE=""
FORCE_KERNEL=""

usage() {
    awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"
}

need_value() {
    if [ $# -lt 2 ]; then
        echo "run_all.sh: $1 needs a value (see ./run_all.sh --help)" >&2
        exit 2
    fi
}

kernel_json() {
    echo "$VENV/share/jupyter/kernels/$KERNEL/kernel.json"
}

register_kernel() {
    # --sys-prefix: the kernel lives in the venv, where the venv's JupyterLab (and papermill, nbval) look
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name "$KERNEL" --display-name "$KERNEL_DISPLAY" >/dev/null
    echo "[setup] Jupyter kernel \"$KERNEL\" ($KERNEL_DISPLAY) runs $VENV/bin/python"
}

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "[setup] creating virtual environment $VENV"
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.slswin-installed"
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "[setup] installing slswin and its dependencies into $VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT"
        echo "$want" > "$stamp"
    fi
    if [ -n "$FORCE_KERNEL" ] || ! grep -qF "\"$VENV/bin/python\"" "$(kernel_json)" 2>/dev/null; then
        register_kernel
    fi
    "$VENV/bin/python" -m slswin_lib fetch-assets --quiet
}

export_kernels() {
    # $1: a profile; $2 (optional): kernels instead of its own. Its CPU kernels' variables (none for
    # native), read by torch's libraries when they first compute, so exported here for every process
    # this run starts (kernel, pytest, workers)
    local exports
    exports=$("$VENV/bin/python" -m slswin_lib.determinism --profile "$1" ${2:+--kernels "$2"})
    eval "$exports"
}

common_root() {
    # the deepest folder that holds both $1 and $2 (absolute paths)
    local a=$1 b=$2
    while [ "$a" != / ] && [[ "$b/" != "$a/"* ]]; do a=$(dirname "$a"); done
    echo "$a"
}

flock_fd9() {
    if command -v flock >/dev/null; then
        flock -n 9
    else
        "$PY" -c 'import fcntl; fcntl.flock(9, fcntl.LOCK_EX | fcntl.LOCK_NB)' 2>/dev/null
    fi
}

release_lock() {
    # an empty lock file marks a run that ended normally; a killed run leaves its line behind
    [ -n "$LOCK_FILE" ] && : > "$LOCK_FILE"
}

take_lock() {
    # $1: the folder this run writes into. The lock is an flock on fd 9 (kept by the processes
    # this run starts), so the kernel releases it when they all end, however they end.
    local dir=$1 holder pid
    mkdir -p "$dir"
    LOCK_FILE="$dir/$LOCK_NAME"
    exec 9>>"$LOCK_FILE"
    if ! flock_fd9; then
        holder=$(cat "$LOCK_FILE" 2>/dev/null || true)
        echo "run_all.sh: another run is using $dir: ${holder:-a run that is just starting}" >&2
        pid=${holder#pid }
        pid=${pid%%,*}
        if [ -z "$holder" ]; then
            pid=""
        elif ! kill -0 "$pid" 2>/dev/null; then
            echo "  pid $pid has ended, but processes it started (papermill, pytest) still hold the lock" >&2
            pid=""
        fi
        echo "  wait for it to finish, stop it${pid:+ (kill $pid)}, or run with another --profile or SLSWIN_WORK" >&2
        exit 3
    fi
    holder=$(cat "$LOCK_FILE")
    if [ -n "$holder" ]; then
        echo "[run_all] replacing the stale lock of a run that was killed ($holder)" >&2
    fi
    printf 'pid %s, started %s: %s\n' "$$" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$CMDLINE" > "$LOCK_FILE"
    trap release_lock EXIT
}

run_tests() {
    export SLSWIN_PROFILE=smoke
    export SLSWIN_WORK="${SLSWIN_WORK:-$ROOT/runs/test}"
    export SLSWIN_FIGURES="${SLSWIN_FIGURES:-$SLSWIN_WORK/figures}"
    export MPLBACKEND=Agg
    take_lock "$SLSWIN_WORK"
    setup
    export_kernels smoke
    echo "[test] pytest + nbval (profile smoke, work dir $SLSWIN_WORK)"
    "$VENV/bin/python" -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
}

run_lab() {
    local args=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --profile) need_value "$@"; export SLSWIN_PROFILE=$2; shift 2 ;;
            *) args+=("$1"); shift ;;
        esac
    done
    setup
    export_kernels "${SLSWIN_PROFILE:-quick}"
    # JupyterLab refuses root without --allow-root (containers commonly run as root)
    [ "$(id -u)" -eq 0 ] && args=(--allow-root ${args[@]+"${args[@]}"})
    # the root holds the notebooks and the runs' executed copies (runs/<profile>/notebooks, or $SLSWIN_WORK's)
    local runs root
    runs=$(realpath -ms "${SLSWIN_WORK:-$ROOT/runs}")
    root=$(common_root "$(realpath -ms "$ROOT")" "$runs")
    echo "[lab] JupyterLab on $root: $ROOT/notebooks and the executed copies in" \
         "${SLSWIN_WORK:-$ROOT/runs/<profile>}/notebooks; pick the kernel \"$KERNEL_DISPLAY\"; notebooks use profile" \
         "${SLSWIN_PROFILE:-quick} (./run_all.sh lab --profile smoke|quick|paper)"
    exec "$VENV/bin/python" -m jupyterlab --ServerApp.root_dir="$root" ${args[@]+"${args[@]}"}
}

run_notebooks() {
    local profile=quick dataset=synthetic data_root="" only="" from="" scheduler="" full="" kernels=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --profile) need_value "$@"; profile=$2; shift 2 ;;
            --dataset) need_value "$@"; dataset=$2; shift 2 ;;
            --data-root) need_value "$@"; data_root=$2; shift 2 ;;
            --only) need_value "$@"; only=$2; shift 2 ;;
            --from) need_value "$@"; from=$2; shift 2 ;;
            --scheduler-address) need_value "$@"; scheduler=$2; shift 2 ;;
            --full) full=1; shift ;;
            --portable) kernels=portable; shift ;;
            -h|--help) usage; exit 0 ;;
            *) echo "run_all.sh: unknown option $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
        esac
    done
    local run_dir="${SLSWIN_WORK:-$ROOT/runs/$profile}"
    take_lock "$run_dir"
    local nb name selected=()
    for nb in notebooks/[0-9][0-9]_*.ipynb; do
        name=$(basename "$nb" .ipynb)
        [[ -n "$only" && "$name" != "$only"* ]] && continue
        [[ -n "$from" && "$name" < "$from" ]] && continue
        selected+=("$nb")
    done
    if [ ${#selected[@]} -eq 0 ]; then
        echo "run_all.sh: no notebook in notebooks/ matches${only:+ --only $only}${from:+ --from $from}" >&2
        exit 2
    fi
    setup
    export_kernels "$profile" "$kernels"
    export MPLBACKEND=Agg
    local out="$run_dir/notebooks"
    mkdir -p "$out" "$ROOT/figures"
    # each notebook's name, wall seconds and start (epoch s); the stages the notebooks time
    # (slswin_lib.timing) go to the stage log; a --from run appends to both
    local times="$run_dir/notebook_times.tsv"
    export SLSWIN_STAGE_LOG="$run_dir/stage_times.jsonl"
    if [ -z "$from" ]; then
        : > "$times"
        : > "$SLSWIN_STAGE_LOG"
    fi
    printf '{"profile": "%s", "dataset": "%s", "command": "%s"}\n' "$profile" "$dataset" "$CMDLINE" \
        > "$run_dir/run_all.json"
    local params=(-p profile "$profile" -p dataset "$dataset")
    [ -n "$data_root" ] && params+=(-p data_root "$(realpath "$data_root")")
    [ -n "$scheduler" ] && params+=(-p scheduler_address "$scheduler")
    # every ablation the profile leaves out by default (AblationConfig.table6_types, .fidelity)
    local settings=()
    [ -n "$full" ] && settings+=("ablation: {table6_types: [me, mae], fidelity: true}")
    # the pinned kernels for every fold (TrainConfig.cpu_kernels of both recipes)
    [ -n "$kernels" ] && settings+=("train: {cpu_kernels: $kernels}" "softnet: {cpu_kernels: $kernels}")
    if [ ${#settings[@]} -gt 0 ]; then
        local joined
        joined=$(IFS=,; echo "${settings[*]}")
        params+=(-y "settings: {$joined}")
    fi
    local start status
    for nb in "${selected[@]}"; do
        name=$(basename "$nb" .ipynb)
        echo "[run_all] $name (profile $profile, dataset $dataset)"
        export SLSWIN_NOTEBOOK=$name
        start=$(date +%s.%N)
        status=0
        "$VENV/bin/python" -m papermill "$nb" "$out/$name.ipynb" --cwd notebooks \
            --progress-bar "${params[@]}" || status=$?
        printf '%s\t%s\t%s\n' "$name" "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')" \
            "$start" >> "$times"
        if [ $status -ne 0 ]; then
            echo "[run_all] FAILED: $name (executed copy with the error: $out/$name.ipynb)" >&2
            exit $status
        fi
    done
    echo "[run_all] done; figures and tables in $ROOT/figures; where each notebook's time went:"
    "$VENV/bin/python" -m slswin_lib time-split "$run_dir"
}

run_gpu_check() {
    local py="$PY"
    [ -x "$VENV/bin/python" ] && py="$VENV/bin/python"
    exec "$py" -m slswin_lib gpu-check "$@"
}

case "${1:-}" in
    test) shift; run_tests "$@" ;;
    gpu-check) shift; run_gpu_check "$@" ;;
    lab) shift; run_lab "$@" ;;
    kernel) FORCE_KERNEL=1; setup ;;
    setup) setup ;;
    *) run_notebooks "$@" ;;
esac
