"""A trial that writes every kind of bad metric data around valid reports (one per epoch 1-8).

In file order: epoch 1; epoch 2 written in two halves with a pause (a reader sees half a line
first, then the whole valid line); a broken half line ended by a newline (not JSON); epoch 3;
a line of prose (not JSON); epoch 4 with loss NaN (a valid report: NaN is how a diverged
metric is written); epoch 5 with the loss as a string (a bad metric); a 2 MB line written in
two halves (too long, seen while still growing); epoch 6. Then the file is truncated to its
first two lines, and epoch 7 appended; then the file is deleted, and epoch 8 written to a new
file. Pauses of ``PAUSE`` seconds let a controller polling every 0.1 s see each state.
"""

from __future__ import annotations

import json
import os
import sys
import time

from slurmhpo import trial

PAUSE = 1.0  # ten polls of the test controller: margin for a loaded CI machine


def line(epoch: int, loss: object) -> bytes:
    """One metric line, built by hand so that it may be wrong on purpose."""
    text = json.dumps({"epoch": epoch, "loss": loss, "time": time.time()}, allow_nan=True)
    return (text + "\n").encode()


def append(path: str, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)
        out.flush()


def loss(epoch: int) -> float:
    return 1.0 / epoch


def main() -> int:
    path = str(trial.get_context().metric_file)
    append(path, line(1, loss(1)))
    second = line(2, loss(2))
    append(path, second[:10])  # half a line: not to be read until it is whole
    time.sleep(PAUSE)
    append(path, second[10:])
    append(path, b'{"epoch": 3, "lo\n')  # half a line that ends: not JSON
    append(path, line(3, loss(3)))
    append(path, b"this is not json\n")
    append(path, line(4, float("nan")))  # NaN: valid, ranked worst
    append(path, line(5, "0.2"))  # a string metric
    huge = b'{"epoch": 6, "pad": "' + b"x" * 2_000_000 + b'"}\n'
    append(path, huge[:1_200_000])  # longer than the 1 MB line limit while still growing
    time.sleep(PAUSE)
    append(path, huge[1_200_000:])
    append(path, line(6, loss(6)))
    time.sleep(PAUSE)
    with open(path, "rb") as current:
        first_two = len(current.readline()) + len(current.readline())
    os.truncate(path, first_two)  # truncated at a line boundary
    time.sleep(PAUSE)
    append(path, line(7, loss(7)))
    time.sleep(PAUSE)
    os.unlink(path)  # deleted; the next report starts a new, shorter file
    time.sleep(PAUSE)
    append(path, line(8, loss(8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
