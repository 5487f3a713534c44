"""slurmhpo: Slurm-native hyperparameter optimization (ASHA, Hyperband, BOHB)."""

__version__ = "0.1.0"
