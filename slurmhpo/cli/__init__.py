"""The ``slurmhpo`` command line; ``main.COMMAND_MODULES`` lists the command modules."""
