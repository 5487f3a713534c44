"""A tiny, fast trial for controller tests: a deterministic learning curve with checkpoints.

loss(epoch) = (x - 0.3)^2 + 1 / epoch, so the ranking at every rung equals the final ranking
and tests can predict which trials deserve promotion. The checkpoint stores the last epoch;
a resumed segment must continue from it (the test checks the epochs in the metric files).
Knobs for failure tests, in the config: ``fail_once_at`` (exit 3 on reaching that epoch the
first time; a marker file next to the checkpoints remembers it), ``fail_always`` (exit 3 at
once); and TOY_SLEEP in the environment (seconds per epoch). Each checkpoint also names the
trial that took it (``trained_by``); with TOY_ORIGIN=1 every report says which trial's
checkpoint the job started from (``origin``, -1 for none), so a test can see a trial that
started from another's copied checkpoint (population-based training).
"""

from __future__ import annotations

import os
import sys
import time

from slurmhpo import trial


def main() -> int:
    context = trial.get_context()
    x = float(context.config["x"])
    state = trial.load_checkpoint()
    epoch = 0 if state is None else int(state[0]["epoch"])
    origin = -1 if state is None else int(state[0].get("trained_by", -1))
    extra = {"origin": origin} if os.environ.get("TOY_ORIGIN") == "1" else {}
    if state is not None and epoch != context.start:
        print(f"checkpoint at {epoch}, expected {context.start}", file=sys.stderr)
    if context.config.get("fail_always"):
        return 3
    fail_at = int(context.config.get("fail_once_at", 0))
    marker = context.checkpoint_dir.parent / "failed-once"
    pause = float(os.environ.get("TOY_SLEEP", "0.05"))
    while epoch < context.target:
        epoch += 1
        time.sleep(pause)
        if epoch == fail_at and not marker.exists():
            marker.write_text("failed here once\n")
            return 3
        trial.save_checkpoint({"epoch": epoch, "trained_by": context.trial}, epoch)
        trial.report(epoch, loss=(x - 0.3) ** 2 + 1.0 / epoch, **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
