#!/usr/bin/env bash
# Regenerate every table and figure of SL-Swin (He, Chen & Zhong 2023), or run the test suite.
#
#   ./run_all.sh                          all notebooks, quick profile, synthetic benchmark
#   ./run_all.sh --profile paper --dataset casme2 --data-root /data/CASME2
#   ./run_all.sh --only 09                notebooks whose name starts with 09
#   ./run_all.sh --from 06                notebooks 06 onwards (e.g. after fixing a failure)
#   ./run_all.sh test [PYTEST ARGS]       the test suite: pytest + nbval over every notebook
#
# Each call sets itself up: a virtual environment in .venv (or $SLSWIN_VENV) is created on
# first use and re-synced whenever pyproject.toml changes; assets come from PyPI packages.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=${SLSWIN_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

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
    "$VENV/bin/python" -m slswin_lib fetch-assets --quiet
}

run_tests() {
    setup
    export SLSWIN_PROFILE=smoke
    export SLSWIN_WORK="${SLSWIN_WORK:-$ROOT/runs/test}"
    export SLSWIN_FIGURES="${SLSWIN_FIGURES:-$SLSWIN_WORK/figures}"
    export MPLBACKEND=Agg
    echo "[test] pytest + nbval (profile smoke, work dir $SLSWIN_WORK)"
    "$VENV/bin/python" -m pytest tests notebooks --nbval-lax -p no:cacheprovider "$@"
}

run_notebooks() {
    local profile=quick dataset=synthetic data_root="" only="" from="" scheduler=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --profile) profile=$2; shift 2 ;;
            --dataset) dataset=$2; shift 2 ;;
            --data-root) data_root=$2; shift 2 ;;
            --only) only=$2; shift 2 ;;
            --from) from=$2; shift 2 ;;
            --scheduler-address) scheduler=$2; shift 2 ;;
            -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
            *) echo "run_all.sh: unknown option $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
        esac
    done
    setup
    export MPLBACKEND=Agg
    local out="$ROOT/runs/$profile/notebooks"
    mkdir -p "$out" "$ROOT/figures"
    local times="$ROOT/runs/$profile/notebook_times.tsv"
    [ -z "$from" ] && : > "$times"
    local params=(-p profile "$profile" -p dataset "$dataset")
    [ -n "$data_root" ] && params+=(-p data_root "$(realpath "$data_root")")
    [ -n "$scheduler" ] && params+=(-p scheduler_address "$scheduler")
    local nb name start status
    for nb in notebooks/[0-9][0-9]_*.ipynb; do
        name=$(basename "$nb" .ipynb)
        [[ -n "$only" && "$name" != "$only"* ]] && continue
        [[ -n "$from" && "$name" < "$from" ]] && continue
        echo "[run_all] $name (profile $profile, dataset $dataset)"
        start=$(date +%s)
        status=0
        "$VENV/bin/python" -m papermill "$nb" "$out/$name.ipynb" --cwd notebooks \
            --progress-bar "${params[@]}" || status=$?
        printf '%s\t%s\n' "$name" "$(( $(date +%s) - start ))" >> "$times"
        if [ $status -ne 0 ]; then
            echo "[run_all] FAILED: $name (executed copy with the error: $out/$name.ipynb)" >&2
            exit $status
        fi
    done
    echo "[run_all] done; figures and tables in $ROOT/figures; seconds per notebook:"
    column -t "$times" 2>/dev/null || cat "$times"
}

case "${1:-}" in
    test) shift; run_tests "$@" ;;
    setup) setup ;;
    *) run_notebooks "$@" ;;
esac
