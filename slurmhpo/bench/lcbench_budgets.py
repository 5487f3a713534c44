"""Median time(x, 52) over PROTOCOL.md's 200 reference configurations, per lcbench instance.

PROTOCOL.md's budget B needs the median cumulative training time of 200 reference
configurations: YAHPO's ConfigSpace seeded with 0 (``cs.seed(0); cs.sample_configuration(200)``).
Drawing them needs yahpo_gym, which pins numpy<2 and is not part of the ``bench`` extra; so the
medians of every lcbench instance were computed once, with
:func:`slurmhpo.bench.budget.reference_budget` (``sampler="yahpo"``) on the surrogate this
package evaluates, and are stored here: ``slurmhpo bench`` on lcbench then needs only the
``bench`` extra. They give PEERS.md's budgets on the six development tasks (a test checks).

Regenerate where yahpo_gym is installed (``pip install "slurmhpo[yahpo]"``):
``python -m slurmhpo.bench.lcbench_budgets --data-dir DIR`` prints this table.
"""

from __future__ import annotations

import argparse

# instance (OpenML task id) -> median over the 200 reference configurations of time(x, 52), s
REFERENCE_MEDIAN_FULL_TIME: dict[str, float] = {
    "3945": 185.09449005126953,
    "7593": 949.2315673828125,
    "34539": 90.23633575439453,
    "126025": 99.21951293945312,
    "126026": 117.05758285522461,
    "126029": 96.75409317016602,
    "146212": 115.50693130493164,
    "167104": 50.449296951293945,
    "167149": 60.101125717163086,
    "167152": 137.6978302001953,
    "167161": 70.27658081054688,
    "167168": 82.0975112915039,
    "167181": 69.4127082824707,
    "167184": 77.81229782104492,
    "167185": 558.8669738769531,
    "167190": 77.48738861083984,
    "167200": 204.79278564453125,
    "167201": 169.8808135986328,
    "168329": 202.41102600097656,
    "168330": 181.33848571777344,
    "168331": 182.84381866455078,
    "168335": 213.86590576171875,
    "168868": 171.3966064453125,
    "168908": 2345.5882568359375,
    "168910": 516.9401397705078,
    "189354": 747.7584838867188,
    "189862": 92.219970703125,
    "189865": 76.0761833190918,
    "189866": 742.8924865722656,
    "189873": 2089.2078857421875,
    "189905": 41.13632583618164,
    "189906": 96.5762939453125,
    "189908": 867.1035461425781,
    "189909": 119.02796936035156,
}


def main() -> None:
    """Recompute the table (needs yahpo_gym) and print it as Python."""
    from slurmhpo.bench.budget import reference_budget
    from slurmhpo.bench.lcbench import LCBenchTask, instances

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", help="folder holding lcbench/ (default: as slurmhpo bench)")
    args = parser.parse_args()
    print("REFERENCE_MEDIAN_FULL_TIME: dict[str, float] = {")
    for instance in instances(args.data_dir):
        task = LCBenchTask(instance, data_dir=args.data_dir)
        budget = reference_budget(task, sampler="yahpo", data_dir=args.data_dir)
        print(f"    {instance!r}: {budget.median_full_time!r},".replace("'", '"'))
    print("}")


if __name__ == "__main__":
    main()
