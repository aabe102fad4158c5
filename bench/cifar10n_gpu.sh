#!/usr/bin/env bash
# CIFAR-10N on one GPU: plain cross-entropy vs CAN, both with a CIFAR ResNet-18 trained from
# scratch on the `worst` labels (Wei et al., ICLR 2022; 40.2% wrong), a fixed small number of
# epochs. Prints images/s, seconds per epoch and test accuracy of both and CAN's time ratio.
# Sized to finish in under 8 minutes on one H200-class GPU (two runs of EPOCHS epochs each, plus
# decoding the 60,000 JPEGs once per run). Nothing is downloaded.
#
#   bash bench/cifar10n_gpu.sh                       # ROOT=../shared/data/cifar10n EPOCHS=8
#   ROOT=DIR EPOCHS=2 DEVICE=cpu bash bench/cifar10n_gpu.sh   # smoke test of the script itself
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-../shared/data/cifar10n}
EPOCHS=${EPOCHS:-8}
DEVICE=${DEVICE:-cuda}
ARCH=${ARCH:-cifar-resnet18}
OUT=${OUT:-${TMPDIR:-/tmp}/pyro-can-cifar10n-gpu}
AMP=$([ "$DEVICE" = cpu ] && echo "" || echo "--amp")
# the paper's Eq. 7 warm-up is 20 of 90 epochs; keep that share of the short run
WARMUP=$(python -c "print(max(1, round($EPOCHS * 20 / 90)))")
common=(--data cifar10n --root "$ROOT" --labels worst --arch "$ARCH" --device "$DEVICE" $AMP
        --epochs "$EPOCHS" --lr-step "$EPOCHS" --batch-size 128 --lr 0.02 --weight-decay 5e-4
        --hidden 256 --warmup-epochs "$WARMUP" --ramp-epochs 1 --workers 0 --overwrite)
for method in plain can; do
  echo "== $method: ${common[*]}" >&2
  python cli.py fit --method "$method" "${common[@]}" --out "$OUT/$method"
done
python - "$OUT" "$EPOCHS" <<'PY'
import json, sys
out, epochs = sys.argv[1], int(sys.argv[2])
rows = {m: json.load(open(f"{out}/{m}/metrics.json")) for m in ("plain", "can")}
print(f"| method | epochs | images/s | s/epoch | test accuracy |")
print(f"|---|---|---|---|---|")
for m, r in rows.items():
    per_epoch = r["seconds"] / r["epochs"]
    print(f"| {m} | {r['epochs']} | {r['train_items'] / per_epoch:,.0f} | {per_epoch:.1f} | "
          f"{r['test_accuracy']:.4f} |")
print(f"CAN / plain time per epoch: {rows['can']['seconds'] / rows['plain']['seconds']:.2f}x")
PY
