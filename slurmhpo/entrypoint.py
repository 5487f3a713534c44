"""Run a trial given as a Python entry point ``module:function`` (trial side).

The controller runs ``python -m slurmhpo.entrypoint module:function`` inside the job, with the
trial's SLURMHPO_* environment. The function is called with the trial's config (a dict) and,
if it accepts a second argument, its :class:`~slurmhpo.trial.TrialContext` — everything it
needs to report, checkpoint and resume. Like :mod:`slurmhpo.trial`, this imports nothing of
the controller, so a compute node needs only the user's code and this module.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

from slurmhpo.trial import get_context


def resolve(spec: str) -> Callable[..., Any]:
    """The function named by ``module:function`` (dotted attributes allowed after the colon)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"slurmhpo.entrypoint: {spec!r} is not module:function")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise SystemExit(f"slurmhpo.entrypoint: {spec!r} is not callable")
    return target


def takes_context(function: Callable[..., Any]) -> bool:
    """True when ``function`` accepts a second positional argument (the context)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m slurmhpo.entrypoint module:function", file=sys.stderr)
        return 2
    function = resolve(args[0])
    context = get_context()
    if takes_context(function):
        function(dict(context.config), context)
    else:
        function(dict(context.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
