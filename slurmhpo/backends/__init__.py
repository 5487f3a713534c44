"""Where trial segments run: Slurm (through submitit), local processes, or a simulated clock."""
