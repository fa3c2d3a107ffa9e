"""The command-line layer: console scripts for the Hydra apps and the sweep summary table. The
``run(cfg)`` functions they call live with their feature (``training.run``, ``selection.pipeline``,
``compression.pipeline``)."""
