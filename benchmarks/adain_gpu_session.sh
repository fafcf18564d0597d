#!/usr/bin/env bash
# One GPU session for AdaIN: the inference benchmark, then decoder trainings side by side on the
# same GPU (by default three encoder depths x two style weights, equal wall-clock time each), packed
# for the CPU comparison (benchmarks/compare_decoders.py) that picks the decoder brushwork ships.
# The second call of 2026-11-28 was:
#   RUNS=$'block5_sw3_cont --tap block5.expand --style-weight 3 --init .gpu/init/block5_sw3
#   block5_slim_sw3 --tap block5.expand --widths 64,32,16,16 --style-weight 3' \
#   bash benchmarks/adain_gpu_session.sh 4.2 0
# Next, to try decoders that also read deeper taps (started from the shipped decoder) beside a control:
#   RUNS=$'control --init shipped
#   deep8_11 --init shipped --deep-taps block8.expand,block11.expand
#   deep8_11_scratch --deep-taps block8.expand,block11.expand --widths 128,64,32,16' \
#   bash benchmarks/adain_gpu_session.sh 8 0
#
# Expects, in the repository root (prepared on a CPU machine, see docs/adain.md):
#   .gpu/data/content, .gpu/data/style   training images (brushwork data fetch ..., shrunk to JPEG)
#   .gpu/weights/efficientnet-lite0-57934424.pth
# Usage: OUT=results bash benchmarks/adain_gpu_session.sh [MINUTES] [BENCH_BUDGET_S]
set -u
MINUTES=${1:-5}
BENCH_BUDGET=${2:-90}
OUT=${OUT:-results}
mkdir -p "$OUT" runs
export PYTHONPATH=$PWD/src:$PWD/.gpu/site PYTHONUNBUFFERED=1
export BRUSHWORK_EFFICIENTNET_LITE0_WEIGHTS=$PWD/.gpu/weights/efficientnet-lite0-57934424.pth
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-256}
BATCH=${BATCH:-16}

{ date; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1; nproc
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"; } > "$OUT/env.txt" 2>&1

# 1. inference benchmark (alone on the GPU, so its timings are clean); BENCH_BUDGET=0 skips it
if [ "$BENCH_BUDGET" != 0 ]; then
  timeout $((BENCH_BUDGET + 120)) $PY benchmarks/adain_gpu.py --budget "$BENCH_BUDGET" > "$OUT/bench.log" 2>&1
  echo "bench rc=$?" >> "$OUT/env.txt"
fi

# 2. trainings side by side, equal wall-clock time each. RUNS: one "name extra-args..." per line;
#    the default is the first session's grid, three encoder depths x two style weights.
RUNS=${RUNS:-$(for tap in block5 block8 block11; do for sw in 3 10; do
  echo "${tap}_sw$sw --tap $tap.expand --style-weight $sw"; done; done)}
pids=()
while read -r name extra; do
  [ -z "$name" ] && continue
  # shellcheck disable=SC2086
  $PY -m brushwork adain train --content .gpu/data/content --style .gpu/data/style --out "runs/$name" \
    --size "$SIZE" --batch "$BATCH" --steps 1000000 --minutes "$MINUTES" --sample-every 2000 --max-side 768 \
    --device "$DEVICE" --precision fp32 --no-resume -q $extra > "runs/$name.log" 2>&1 &
  pids+=($!)
done <<< "$RUNS"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -l 30 > "runs/nvidia-smi.log" 2>&1 &
smi=$!
for p in "${pids[@]}"; do wait "$p"; done
kill "$smi" 2>/dev/null

# 3. pack: weights, configs, logs and the last sample grid of each run (no optimizer state)
for d in runs/*/; do
  last=$(ls "$d"samples/*.png 2>/dev/null | tail -1)
  [ -n "$last" ] && cp "$last" "$d/last_samples.png"
done
tar czf "$OUT/runs.tgz" runs/*.log runs/*/log.csv runs/*/last_samples.png runs/*/checkpoint/config.json \
  runs/*/checkpoint/model.safetensors 2>> "$OUT/env.txt"
tail -n 3 runs/*.log >> "$OUT/env.txt"
date >> "$OUT/env.txt"
