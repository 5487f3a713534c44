"""A trial that misbehaves on purpose, one way per ``mode`` in its config (Slurm failure tests).

loss(epoch) = (x - 0.3)^2 + 1 / epoch, one report per epoch, checkpoint BEFORE each report
(the order the trial-side contract asks for). Modes:

* ``ok``: trains normally.
* ``fail_once``: exits 3 on reaching epoch 2 the first time (a marker file next to the
  checkpoints remembers it), so the retry resumes from the checkpoint at epoch 1.
* ``fail_always``: exits 3 at once, every time.
* ``timeout_once``: the first run reports epoch 1, then sleeps far past any time limit, so
  Slurm ends it with TIMEOUT; the retry resumes from epoch 1 and trains normally.
* ``requeue``: trains slowly (``sleep`` seconds per epoch) so the test can ``scontrol
  requeue`` it mid-run. The rerun (SLURM_RESTART_COUNT=1) gets its ``start`` moved up by
  ``slurmhpo.trial`` to the newest checkpoint the first run reported, and continues there.

Every start appends a line to ``runs.log`` next to the checkpoints (SLURM_RESTART_COUNT
included), so a test can tell how often Slurm ran the script.
"""

from __future__ import annotations

import os
import sys
import time

from slurmhpo import trial


def main() -> int:
    context = trial.get_context()
    mode = str(context.config.get("mode", "ok"))
    x = float(context.config["x"])
    pause = float(context.config.get("sleep", 0.05))
    trial_dir = context.checkpoint_dir.parent
    with open(trial_dir / "runs.log", "a") as runs:
        runs.write(f"start={context.start} restart={os.environ.get('SLURM_RESTART_COUNT', '')}\n")
    if mode == "fail_always":
        return 3
    state = trial.load_checkpoint()
    epoch = 0 if state is None else int(state[0]["epoch"])
    marker = trial_dir / f"{mode}-once"
    while epoch < context.target:
        epoch += 1
        time.sleep(pause)
        if mode == "fail_once" and epoch == 2 and not marker.exists():
            marker.write_text("failed here once\n")
            return 3
        trial.save_checkpoint({"epoch": epoch}, epoch)
        trial.report(epoch, loss=(x - 0.3) ** 2 + 1.0 / epoch)
        if mode == "timeout_once" and not marker.exists():
            marker.write_text("slept past the time limit once\n")
            time.sleep(3600)  # Slurm's time limit ends this (TIMEOUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
