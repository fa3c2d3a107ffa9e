"""Telly's layer-wise study from the command line.

    python -m codereuse.analysis probe [model=minilm | ckpt=PATH] [layers=[0,3,6]] [out=DIR] [key=value ...]
    python -m codereuse.analysis drift ckpt=PATH [threshold=0.1] [rsa=spearman] [out=DIR] [key=value ...]

probe: linear probes (lexical, syntactic, structural, semantic) of every layer of a pre-trained
model (or of the fine-tuned backbone in a train.py checkpoint); writes probes.json/csv/png. Its
semantic column is clone retrieval MAP: by default on rewrite pairs of the clone task built from
source_dir (the standard library); with clones=DIR on the clone pairs (label 1) of split
clones_split (default test) of a published pair dataset (data.jsonl plus train/valid/test.txt,
e.g. ../shared/data/leetcode-clones), each function ranking all the others. Beside it,
semantic_bow is the same MAP of TF-IDF bags of sub-words: the lexical reference.
drift: CKA and RSA per layer between the checkpoint's pre-trained and fine-tuned backbone on
held-out functions, and the suggested freeze depth; writes drift.json/csv/png.
Both also take the probe-set keys max_functions, clone_pairs, tokens_per_function, max_length,
batch_size, pooling, seed, data_seed, source_dir, cache_dir, clones and clones_split. With ckpt=,
data_seed and source_dir come from the run that wrote the checkpoint (its data.seed and
data.source_dir), so the held-out functions are ones it never trained on. out defaults to
outputs/analysis/<time>-<command>.
The last line printed is one JSON object with the results.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from codereuse.analysis.config import ProbeConfig, check_drift_options
from codereuse.errors import ConfigError, one_line_errors

# Arguments are checked before torch and transformers are imported (inside the commands): a typo
# is answered in a fraction of a second instead of after the ~10 s those imports take.
CONF = Path(__file__).resolve().parents[3] / "conf"  # the repository's Hydra configs
COMMAND_KEYS = {"probe": {"model", "ckpt", "layers", "out"}, "drift": {"ckpt", "threshold", "rsa", "out"}}


def probe(options: dict, config: ProbeConfig):
    from codereuse.models.features import check_layers, depth, trained_backbone
    from codereuse.analysis.probe_data import build_probe_set
    from codereuse.analysis.probes import probe_layers
    from codereuse.models import load_backbone

    if options.get("ckpt") is not None:
        backbone = trained_backbone(load_module(options["ckpt"]))
        name = f"{backbone.spec.name} fine-tuned ({options['ckpt']})"
        config = checkpoint_config(options, config)
    else:
        backbone = load_backbone(model_spec(options.get("model", "minilm")))
        name = backbone.spec.name
    layers = check_layers(_layer_list(options.get("layers")), depth(backbone))
    probes = build_probe_set(backbone.tokenizer, config)
    return probe_layers(backbone, probes, config, layers, name=name)


def drift(options: dict, config: ProbeConfig):
    from codereuse.analysis.drift import drift_table, function_features
    from codereuse.models.features import pretrained_backbone, trained_backbone
    from codereuse.analysis.probe_data import clone_task, heldout_functions

    module = load_module(options["ckpt"])
    config = checkpoint_config(options, config)
    heldout = heldout_functions(clone_task(config), config)
    before = function_features(pretrained_backbone(module), heldout, config, "pre-trained features")
    after = function_features(trained_backbone(module), heldout, config, "fine-tuned features")
    return drift_table(before, after, module.hparams["backbone"]["name"], options.get("threshold", 0.1),
                       options.get("rsa", "spearman"))


COMMANDS = {"probe": probe, "drift": drift}


def checkpoint_config(options: dict, config: ProbeConfig) -> ProbeConfig:
    """``config`` with the split seed and source of the run that wrote ``options["ckpt"]``."""
    from codereuse.analysis.provenance import checkpoint_train_config, heldout_config

    return heldout_config(config, set(options), checkpoint_train_config(options["ckpt"]), options["ckpt"])


def model_spec(model: str) -> dict:
    """A ``conf/model/<name>.yaml`` by name, or any such YAML file by path."""
    path = Path(str(model)) if str(model).endswith((".yaml", ".yml")) else CONF / "model" / f"{model}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
        raise ConfigError("model", model, known, "or a path to a model YAML file")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def check_checkpoint(path: str | None) -> None:
    if path is None:
        raise ConfigError("ckpt", None, hint="pass ckpt=<train.py run dir>/checkpoints/last.ckpt")
    if not Path(path).is_file():
        raise ConfigError("ckpt", path, hint="no such checkpoint file")


def load_module(path: str):
    """The codereuse LightningModule of a train.py checkpoint (fine-tuning or LoRA)."""
    from codereuse.checkpoints import load_checkpoint
    from codereuse.methods.finetune import FineTuneModule
    from codereuse.methods.peft_tuning import PeftModule

    hparams = load_checkpoint(path, "ckpt").get("hyper_parameters")  # memory-mapped: the weights stay on disk
    if not isinstance(hparams, dict) or "backbone" not in hparams:
        raise ConfigError("ckpt", path, hint="not a codereuse train.py checkpoint (no backbone hyperparameters)")
    module_class = PeftModule if "adapter" in hparams else FineTuneModule
    return module_class.load_from_checkpoint(path, map_location="cpu", weights_only=True)


def parse(argv: list[str]) -> tuple[str, dict, ProbeConfig]:
    if not argv or argv[0] not in COMMANDS:
        raise ConfigError("command", argv[0] if argv else None, sorted(COMMANDS), "python -m codereuse.analysis --help")
    command, pairs = argv[0], argv[1:]
    malformed = [pair for pair in pairs if "=" not in pair]
    if malformed:
        raise ConfigError("argument", malformed[0], hint="arguments are key=value")
    options = OmegaConf.to_container(OmegaConf.from_dotlist(pairs))
    allowed = sorted(COMMAND_KEYS[command] | set(ProbeConfig.keys()))
    for key, value in options.items():
        if key not in allowed:
            raise ConfigError(key, value, allowed, f"keys of the {command} command")
    if command == "drift" or options.get("ckpt") is not None:
        check_checkpoint(options.get("ckpt"))
    if command == "probe":
        if options.get("ckpt") is not None and "model" in options:
            raise ConfigError("model", options["model"], hint="give model= or ckpt=, not both")
        model_spec(options.get("model", "minilm"))
        _layer_list(options.get("layers"))
    else:
        check_drift_options(options.get("threshold", 0.1), options.get("rsa", "spearman"))
    return command, options, ProbeConfig(**{key: value for key, value in options.items() if key in ProbeConfig.keys()})


def _layer_list(layers) -> list[int] | None:
    """``layers=[0,3,6]``, ``layers=0,3,6`` or ``layers=3``."""
    if layers is None or isinstance(layers, list):
        return layers
    try:
        return [int(part) for part in str(layers).split(",")]
    except ValueError:
        raise ConfigError("layers", layers, hint="a list of layer indices, e.g. layers=[0,3,6]") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    with one_line_errors():
        command, options, config = parse(argv)
        out = Path(options.get("out") or f"outputs/analysis/{datetime.now():%Y-%m-%d_%H-%M-%S}-{command}")
        table = COMMANDS[command](options, config)
    from codereuse.analysis.plots import save  # matplotlib only once the results are in

    files = save(table, out)
    table.print()
    print(f"wrote {', '.join(files.values())}")
    print(json.dumps({**table.to_dict(), "files": files}))


if __name__ == "__main__":
    main()
