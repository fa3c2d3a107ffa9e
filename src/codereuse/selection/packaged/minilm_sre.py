"""sre-embedding-model's weights (``model=minilm_sre``), without importing its sentence-transformers wrapper."""
from codereuse.selection.pool import sre_dir


def get_model_path():
    return sre_dir()
