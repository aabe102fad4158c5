#!/usr/bin/env bash
# CIFAR-10N on one GPU: plain cross-entropy vs CAN (and any other METHODS), each a CIFAR
# ResNet-18 trained from scratch on the `worst` labels (Wei et al., ICLR 2022; 40.2% wrong) for
# a fixed small number of epochs, with bfloat16 autocast (--amp) and, on CUDA, channels-last
# weights and images (the Trainer's own layout there). Prints, per method, images/s and seconds
# per training epoch (metrics.json's training seconds: evaluation excluded), the test accuracy
# and the whole run's wall time, then CAN's ratios to plain. Only the last epoch is scored
# (--eval-every EPOCHS), so the run's wall time is training plus one evaluation and decoding
# the 60,000 JPEGs once per run: sized for under 8 minutes on one H100 (two methods, EPOCHS 6).
# Nothing is downloaded.
#
#   bash bench/cifar10n_gpu.sh                     # ROOT: shared/data/cifar10n or ../../shared/...
#   METHODS="plain can learnq" bash bench/cifar10n_gpu.sh
#   ROOT=DIR EPOCHS=1 DEVICE=cpu bash bench/cifar10n_gpu.sh   # smoke test of the script itself
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ROOT:-}" ]; then
  for d in shared/data/cifar10n ../shared/data/cifar10n ../../shared/data/cifar10n; do
    [ -d "$d" ] && ROOT=$d && break
  done
fi
: "${ROOT:?set ROOT to the CIFAR-10N folder (none of the usual places has it)}"
EPOCHS=${EPOCHS:-6}
DEVICE=${DEVICE:-cuda}
ARCH=${ARCH:-cifar-resnet18}
METHODS=${METHODS:-plain can}
OUT=${OUT:-${TMPDIR:-/tmp}/pyro-can-cifar10n-gpu}
AMP=$([ "$DEVICE" = cpu ] && echo "" || echo "--amp")
WORKERS=${WORKERS:-$([ "$DEVICE" = cpu ] && echo 0 || echo 8)}
# the paper's Eq. 7 warm-up is 20 of 90 epochs; keep that share of the short run
WARMUP=$(python -c "print(max(1, round($EPOCHS * 20 / 90)))")
common=(--data cifar10n --root "$ROOT" --labels worst --arch "$ARCH" --device "$DEVICE" $AMP
        --epochs "$EPOCHS" --lr-step "$EPOCHS" --batch-size 128 --lr 0.02 --weight-decay 5e-4
        --hidden 256 --warmup-epochs "$WARMUP" --ramp-epochs 1 --workers "$WORKERS"
        --eval-every "$EPOCHS" --overwrite)
python -c "import torch; print('device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
for method in $METHODS; do
  echo "== $method: ${common[*]}" >&2
  start=$(date +%s.%N)
  python cli.py fit --method "$method" "${common[@]}" --out "$OUT/$method"
  python -c "print(round($(date +%s.%N) - $start, 1))" > "$OUT/$method/wall_s.txt"
done
python - "$OUT" "$METHODS" <<'PY'
import json, sys
out, methods = sys.argv[1], sys.argv[2].split()
rows = {m: json.load(open(f"{out}/{m}/metrics.json")) for m in methods}
wall = {m: float(open(f"{out}/{m}/wall_s.txt").read()) for m in methods}
print("| method | epochs | images/s | s/epoch (training) | test accuracy | run wall s |")
print("|---|---|---|---|---|---|")
for m, r in rows.items():
    per_epoch = r["seconds"] / r["epochs"]
    print(f"| {m} | {r['epochs']} | {r['train_items'] / per_epoch:,.0f} | {per_epoch:.1f} | "
          f"{r['test_accuracy']:.4f} | {wall[m]:.0f} |")
if "plain" in rows:
    for m in rows:
        if m != "plain":
            ratio = rows[m]["seconds"] / rows["plain"]["seconds"]
            print(f"{m} / plain time per epoch: {ratio:.2f}x (images/s: {1 / ratio:.2f}x of "
                  f"plain; the goal for CAN is within 10%, >= 0.90x)")
PY
