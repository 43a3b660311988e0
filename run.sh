#!/usr/bin/env bash
# One-stop set-up: installs system libraries (apt, when missing), a virtual environment in .venv
# with dexterity and its dependencies, then runs what you asked for.
#   bash run.sh train [train.py flags]   a short default training (CartPole-v1), local files, no MPI
#   bash run.sh test  [pytest flags]     the test suite
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
what=${1:-train}; shift || true

apt_need=()
for pkg in libegl1 libgl1 libosmesa6 libglfw3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || apt_need+=("$pkg")
done
if [ "$what" = test ]; then
  for pkg in chromium chromium-driver xvfb; do dpkg -s "$pkg" >/dev/null 2>&1 || apt_need+=("$pkg"); done
fi
if [ ${#apt_need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  echo "[run.sh] installing system packages: ${apt_need[*]}"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_need[@]}" >/dev/null \
    || echo "[run.sh] warning: could not install ${apt_need[*]} (rendering or browser tests may be skipped)"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.dexterity-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
case "$what" in
  train)
    # the embedded default: CartPole-v1 until solved; seeds 1-5 stopped after 35-66k steps (34-64
    # cycles, about 20 s on 2 cores, 2026-12-01). The learning rate decays over the 200 cycles allowed:
    # over 100, seeds 1 and 2 did not solve it.
    [ $# -eq 0 ] && set -- CartPole-v1 --iterations 200 --stop-early
    exec .venv/bin/python train.py "$@" ;;
  test)
    # one pytest worker per core, at most 4 (each holds TensorFlow, ~1 GB): on 2 cores the suite
    # takes 11-16 minutes instead of 19 (2026-12-01). Later flags win: `bash run.sh test -n 0` runs serially.
    cores=$(nproc 2>/dev/null || echo 1); [ "$cores" -gt 4 ] && cores=4
    exec .venv/bin/python -m pytest -q -n "$cores" "$@" ;;
  *) echo "usage: bash run.sh {train|test} [args]" >&2; exit 2 ;;
esac
