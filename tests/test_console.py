"""The entry points' quiet console: known third-party noise is filtered, other warnings still show."""
from __future__ import annotations

import logging
import warnings

from codereuse.cli.console import CHATTY_LOGGERS, quiet_third_party


def test_known_noise_is_filtered_and_other_warnings_are_kept():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        warnings.warn("Found 78 module(s) in eval mode at the start of training.", UserWarning, stacklevel=1)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("a checkpoint could not be read", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a checkpoint could not be read"]


def test_lightning_start_up_lines_are_hidden_but_its_warnings_are_not():
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    try:
        quiet_third_party()
        chatty = logging.getLogger(CHATTY_LOGGERS[0])
        assert not chatty.isEnabledFor(logging.INFO) and chatty.isEnabledFor(logging.WARNING)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
