#!/usr/bin/env bash
# CUDA checks, run by hand on a machine with an NVIDIA GPU (never by the tests):
#   1. training-step throughput of every method, CPU default and paper preset, fp32 and bf16
#      autocast (benchmarks/pretrain.py --device cuda);
#   2. one pretraining epoch of each method through `dvc exp run --temp` (pretrain.device: auto
#      picks CUDA), then the evaluate stage (linear / kNN probes on the GPU), on the embedded
#      dataset; --temp leaves the workspace's params.yaml and outputs as they were (`dvc exp show`
#      lists the runs).
# Usage: benchmarks/cuda.sh [OUT_DIR]   (default: cuda-check/; a few files, so a part that fails or
# runs out of time leaves the others). Figures go to docs/benchmarks.md by hand.
# Environment: METHODS (space-separated ids), BENCH_ARGS (benchmarks/pretrain.py's arguments),
# BENCH_TIMEOUT / EXP_TIMEOUT (seconds per benchmark / per experiment).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-cuda-check}
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "error: $out exists and is not empty; give a new or empty folder" >&2
  exit 1
fi
mkdir -p "$out"
read -r -a methods <<< "${METHODS:-skeleton2vec skeletonmae_st skeletonmae_graph pstl mamp}"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python -c "import torch, numba, numpy; print('torch', torch.__version__, 'numba', numba.__version__, \
'numpy', numpy.__version__, torch.cuda.get_device_name())"
  nproc
} > "$out/machine.txt" 2>&1

timeout "${BENCH_TIMEOUT:-300}" python benchmarks/pretrain.py ${BENCH_ARGS:---device cuda --steps 10 --warmup 3} \
  > "$out/pretrain-bench.md" 2>&1
echo "benchmark rc=$?" >> "$out/pretrain-bench.md"

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
start=$EPOCHREALTIME
timeout "${EXP_TIMEOUT:-150}" dvc repro preprocess > "$out/exp.log" 2>&1
echo "data stages (synthesize, ingest, preprocess) rc=$? wall_s=$(elapsed "$start")" > "$out/exp-times.txt"
for m in "${methods[@]}"; do
  start=$EPOCHREALTIME
  echo "=== $m" >> "$out/exp.log"
  timeout "${EXP_TIMEOUT:-150}" dvc exp run --temp -n "cuda-1ep-$m" -S method="$m" \
    -S "methods.$m.optim.epochs=1" -S "methods.$m.optim.warmup_epochs=0" evaluate \
    >> "$out/exp.log" 2>&1
  echo "$m rc=$? wall_s=$(elapsed "$start")" >> "$out/exp-times.txt"
done
dvc exp show --csv > "$out/exp-show.csv" 2>&1
