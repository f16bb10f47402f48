#!/usr/bin/env bash
# Tune a few benchmark cases with meta_schedule and benchmark tuned and untuned kernels, on one GPU machine that has
# TVM (on the lent H100: the two-call bundle of ../shared/device/README.md). From the project root:
#   bash benchmarks/tune_on_gpu.sh OUT UNTUNED_PREBUILT|- TRIALS CASE...
# OUT gets untuned/ and tuned/ results (markdown, JSON, PNG) and tuning-records.tgz (the records to keep: any CPU
# machine rebuilds the tuned sources from them, see tests/test_tuning_records.py). TUNE_SUITE=breadth tunes breadth
# cases (their symbolic builds get a tuned kernel set for the opt bucket; static twins stay untuned).
set -uo pipefail
out=${1:?usage: tune_on_gpu.sh OUT UNTUNED_PREBUILT TRIALS CASE...}
untuned=${2:?}
trials=${3:?}
shift 3
export TPAT_CACHE_DIR=${TPAT_CACHE_DIR:-/tmp/tpat-cache} PYTHONUNBUFFERED=1
suite=${TUNE_SUITE:-core}
tuned=/tmp/bench-tuned
mkdir -p "$out"
start=$(date +%s)
timeout "${TUNE_BUDGET_S:-420}" python3 benchmarks/prebuild.py "$tuned" --suite "$suite" --trials "$trials" --cases "$@"
echo "tuning + builds: $(( $(date +%s) - start ))s"
python3 benchmarks/run.py --prebuilt "$tuned" --suite "$suite" --cases "$@" --out "$out/tuned" | tail -25
if [ "$untuned" != "-" ]; then  # "-": skip the untuned side (already measured)
  python3 benchmarks/run.py --prebuilt "$untuned" --suite "$suite" --out "$out/untuned" | tail -30
fi
(cd "$tuned" && tar czf "$out/tuning-records.tgz" */trt_plugin/tuning */trt_plugin/meta prebuilt.json 2>/dev/null)
