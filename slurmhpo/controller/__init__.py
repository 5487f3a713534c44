"""The controller: the loop that ingests metrics, asks the scheduler, and acts on a backend."""
