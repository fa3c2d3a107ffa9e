"""all-mpnet-base-v2 as unpacked by ``make pool`` (``model=mpnet``)."""
from codereuse.selection.pool import mpnet_dir


def get_model_path():
    return mpnet_dir()
