"""The ``run(cfg)`` functions behind ``train.py``, ``select.py`` and ``compress.py``."""
