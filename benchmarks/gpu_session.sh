#!/usr/bin/env bash
# All the GPU work still open, in one call on a lent GPU machine (one device call of at most 10 minutes):
#   1. P5: the GAN's GPU throughput against the reference DCGAN (gan_vs_dcgan.py --gpu-only, ~3 minutes with
#      compilation), which rewrites its table in BENCHMARKS.md and writes benchmarks/gpu/gan_gpu_DATE.json;
#   2. P2: AdaIN decoder trainings side by side for what the budget leaves (adain_gpu_session.sh, no inference benchmark: it
#      was measured on 2026-11-28): a control from the shipped decoder and the deep-tap decoder, packed for
#      `python benchmarks/compare_decoders.py` on the CPU;
#   3. P8: the GPU summary table (gpu_summary.py) from both.
# Everything that comes back is under $OUT: BENCHMARKS.md, gan_gpu_DATE.json, runs.tgz, logs. Back on the CPU
# machine: copy gan_gpu_*.json into benchmarks/gpu/, run gpu_summary.py, copy the "gan-gpu" block from
# $OUT/BENCHMARKS.md (benchmarks/common.update_benchmarks_md), unpack runs.tgz and judge the decoders.
# Carry .gpu/data, .gpu/site and .gpu/weights (docs/adain.md, "On a GPU machine without internet").
# Usage: OUT=$OUT bash benchmarks/gpu_session.sh [BUDGET_S]   (CPU check: DRY=1 bash benchmarks/gpu_session.sh)
# BUDGET_S (default 540) is the whole script's wall time: call it with the device's timeout_s 600. The
# trainings get what the GAN step leaves, less 100 s for loading, checkpoints and packing.
set -u
BUDGET=${1:-540}
OUT=${OUT:-results}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src:$PWD/.gpu/site PYTHONUNBUFFERED=1
export BRUSHWORK_EFFICIENTNET_LITE0_WEIGHTS=$PWD/.gpu/weights/efficientnet-lite0-57934424.pth
PY=${PYTHON:-python3}
start=$(date +%s)

if [ "${DRY:-0}" = 1 ]; then  # the same steps, tiny, on the CPU
  $PY benchmarks/gan_vs_dcgan.py --gpu-smoke > "$OUT/gan_gpu.log" 2>&1; echo "gan rc=$?" | tee "$OUT/steps.txt"
  RUNS=$'control --init shipped --steps 2\ndeep8_11 --init shipped --deep-taps block8.expand,block11.expand --steps 2' \
    DEVICE=cpu SIZE=64 BATCH=2 OUT="$OUT" bash benchmarks/adain_gpu_session.sh 0.1 0
  echo "adain rc=$?" | tee -a "$OUT/steps.txt"
  $PY benchmarks/gpu_summary.py --no-write > "$OUT/gpu_summary.md" 2>&1; echo "summary rc=$?" | tee -a "$OUT/steps.txt"
  exit 0
fi

# 1. GAN throughput, alone on the GPU so that its timings are clean
timeout 240 $PY benchmarks/gan_vs_dcgan.py --gpu-only > "$OUT/gan_gpu.log" 2>&1
echo "gan rc=$? after $(( $(date +%s) - start )) s" | tee "$OUT/steps.txt"
cp "$(ls benchmarks/gpu/gan_gpu_*.json 2>/dev/null | tail -1)" BENCHMARKS.md "$OUT/" 2>/dev/null  # $OUT: 8 files at most
left=$(( BUDGET - ($(date +%s) - start) - 100 ))
MINUTES=$(awk -v s="$left" 'BEGIN { m = s / 60; if (m < 1) m = 1; printf "%.1f", m }')
echo "training for $MINUTES minutes" | tee -a "$OUT/steps.txt"

# 2. AdaIN trainings side by side (the GPU is shared by both, as on 2026-11-28)
RUNS=${RUNS:-$'control --init shipped\ndeep8_11 --init shipped --deep-taps block8.expand,block11.expand'} \
  OUT="$OUT" bash benchmarks/adain_gpu_session.sh "$MINUTES" 0
echo "adain rc=$? after $(( $(date +%s) - start )) s" | tee -a "$OUT/steps.txt"

# 3. the summary table, then everything that changed in BENCHMARKS.md
$PY benchmarks/gpu_summary.py > "$OUT/gpu_summary.md" 2>&1
echo "summary rc=$? after $(( $(date +%s) - start )) s" | tee -a "$OUT/steps.txt"
cp BENCHMARKS.md "$OUT/"
