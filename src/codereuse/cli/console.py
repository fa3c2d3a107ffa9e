"""A quiet console: the dataset card, progress bars and the result table, without known third-party
noise. Applied by the entry points only, so library users and tests see every warning."""
from __future__ import annotations

import logging
import warnings

# (message regex, category): warnings that say nothing the user can act on
KNOWN_WARNINGS = (
    # Lightning 2.6 calls a deprecated torch pytree API on every fit
    (r".*isinstance\(treespec, LeafSpec\)", Warning),
    # frozen layers are put in eval mode on purpose (no dropout in what does not train)
    (r"Found \d+ module\(s\) in eval mode", Warning),
    # short demo and debug runs log less often than every 10 steps; nothing is lost
    (r"The number of training batches \(\d+\) is smaller than the logging interval", Warning),
)
# Lightning's start-up lines (accelerators found, "Tip: try installing ...", limits echoed back)
CHATTY_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero",
                  "lightning_fabric.utilities.seed", "lightning.fabric.utilities.seed")


def quiet_third_party() -> None:
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
