"""A toy trial with two objectives in conflict: loss = (x - 0.3)^2 + 1/epoch falls towards
x = 0.3, size = (1 - x) + 0.5/epoch towards x = 1; so every x in [0.3, 1] is on the front."""

from __future__ import annotations

import sys

from slurmhpo import trial


def main() -> int:
    context = trial.get_context()
    x = float(context.config["x"])
    state = trial.load_checkpoint()
    epoch = 0 if state is None else int(state[0]["epoch"])
    while epoch < context.target:
        epoch += 1
        trial.save_checkpoint({"epoch": epoch}, epoch)
        trial.report(epoch, loss=(x - 0.3) ** 2 + 1.0 / epoch, size=(1.0 - x) + 0.5 / epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
