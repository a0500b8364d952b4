#!/usr/bin/env bash
# tools/make_default_policy.sh [WORK_DIR]: reproduces the embedded default policy from nothing, with
# the suite's own pipeline, on a CPU:
#   1. scripted-expert demonstrations of the simulated UR5e block task, recorded through the ROS stack
#      (python -m pi0_bringup.collect_demos: one rosbag2 bag per episode);
#   2. conversion to a LeRobot v2.1 dataset with openpi norm stats (python -m pi0_policy.data.convert);
#   3. training a small π₀ from scratch (python -m pi0_policy.train, model tools/default_policy/model_config.json);
#   4. installing the last checkpoint as pi0_policy/pi0_policy/checkpoints/default;
#   5. closed-loop evaluation through the ROS stack (python -m pi0_bringup.evaluate).
# Knobs (environment): EPISODES (240), SEED (3), STEPS (2000), BATCH (32), LR (6e-4), EVAL_EPISODES (20).
# The simulation runs on its own DDS domain (ROS_DOMAIN_ID, default 150) so that nothing else on the
# host talks into the recording.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(realpath -m "${1:-$ROOT/out/default_policy}")"
EPISODES=${EPISODES:-240}
SEED=${SEED:-3}
STEPS=${STEPS:-2000}
BATCH=${BATCH:-32}
LR=${LR:-6e-4}
EVAL_EPISODES=${EVAL_EPISODES:-20}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-150}

bash "$ROOT/tools/setup.sh"
set +u                          # colcon's setup scripts read unset variables
# shellcheck disable=SC1091
source "$ROOT/tools/env.sh"
set -u
cd "$ROOT"
mkdir -p "$WORK"
t0=$(date +%s)

if [[ ! -f "$WORK/bags.done" ]]; then
  rm -rf "$WORK/bags"
  python -m pi0_bringup.collect_demos --episodes "$EPISODES" --out "$WORK/bags" --seed "$SEED"
  touch "$WORK/bags.done"
fi
if [[ ! -f "$WORK/dataset.done" ]]; then
  rm -rf "$WORK/dataset"
  # The scene camera only: the wrist view adds little to this task and a third of the training cost.
  python -m pi0_policy.data.convert "$WORK/bags" "$WORK/dataset" --embodiment ur5e --cameras base
  touch "$WORK/dataset.done"
fi
t_train=$(date +%s)
resume=()
[[ -f "$WORK/train/checkpoints/latest" ]] && resume=(--resume)   # an interrupted run continues
python -m pi0_policy.train --data "$WORK/dataset" --config "$ROOT/tools/default_policy/model_config.json" \
  --out "$WORK/train" --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --save-every 400 --keep-last 2 \
  --log-every 50 --seed "$SEED" "${resume[@]}"
train_seconds=$(( $(date +%s) - t_train ))

latest="$WORK/train/checkpoints/$(cat "$WORK/train/checkpoints/latest")"
dest="$ROOT/pi0_policy/pi0_policy/checkpoints/default"
rm -rf "$dest"
mkdir -p "$dest"
# The loadable part only: weights, config, tokenizer and norm stats (not the optimizer state).
(cd "$latest" && find . -type f ! -name 'train_state.pt' -exec cp --parents {} "$dest" \;)
cp "$WORK/train/loss_curve.png" "$dest/loss_curve.png"
echo "make_default_policy: installed $latest as $dest (training took ${train_seconds} s)"

python -m pi0_bringup.evaluate --checkpoint default --episodes "$EVAL_EPISODES" --json "$WORK/eval.json"
cp "$WORK/eval.json" "$dest/eval.json"
echo "make_default_policy: done in $(( $(date +%s) - t0 )) s"
