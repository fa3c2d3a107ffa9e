"""The transfer set: the unlabelled code the student learns the teacher's outputs on, one list per
source (so the teacher's outputs are cached per source), none of it a near-copy of the task's
validation or test code."""
from __future__ import annotations

from omegaconf import DictConfig

from codereuse.compression.inputs import input_fields
from codereuse.compression.settings import DistillSettings, plain
from codereuse.compression.teacher import Teacher
from codereuse.compression.teacher_run import teacher_data_config
from codereuse.data.normalize import near_duplicate_key
from codereuse.data.registry import load_task, source_functions
from codereuse.data.tasks import code_only
from codereuse.errors import ConfigError
from codereuse.families import family


def unlabelled_sources(cfg: DictConfig, settings: DistillSettings, teacher: Teacher, data) -> list[list[dict]]:
    """The distillation inputs, one list per source: the task's training inputs (labels kept only for
    the optional hard-label mix); with ``distill.task_source``, the rest of the task's own source
    (:func:`rest_of_task_source`); every input the same task builder makes from
    ``distill.extra_source_dir`` (its labels dropped)."""
    records = list(data.splits["train"])
    if settings.max_train_examples:
        records = records[: settings.max_train_examples]
    sources = [records]
    fields = input_fields(data.family)
    if settings.task_source:
        rest = rest_of_task_source(cfg, teacher, data)
        kept = without_held_out(rest, data, fields)
        print(f"distill: + {len(kept)} functions of the task's own source that are none of its inputs, from files "
              f"without validation/test inputs ({len(rest) - len(kept)} left out: near-duplicates of validation/test code)")
        sources.append(kept)
    extra = settings.extra_source_dir
    if extra:
        task, _, split_seed = teacher_data_config(cfg, teacher)
        options = task.get("options") or plain(cfg.task.options)
        # the split seed, not the distillation seed: every seed distils the same unlabelled code
        more = load_task(data.name, source_dir=extra, cache_dir=cfg.data.cache_dir, seed=split_seed, options=options)
        added = [{f: r[f] for f in fields} for split in ("train", "valid", "test") for r in more.splits[split]]
        kept = without_held_out(added, data, fields)
        print(f"distill: {len(records)} task inputs + {len(kept)} unlabelled inputs from {extra} "
              f"({len(added) - len(kept)} left out: near-duplicates of the task's validation/test code)")
        sources.append(kept)
    return sources


def rest_of_task_source(cfg: DictConfig, teacher: Teacher, data) -> list[dict]:
    """Unlabelled code from the distribution the task was drawn from: every function of the task's
    source tree that is none of its inputs (the classes sampled down, the packages not chosen, ...),
    docstring removed as in the inputs, from files that hold no validation or test input."""
    if family(data.family).inputs != ("code",):  # one function per input, as the task source holds
        raise ConfigError("distill.task_source", True, hint=f"{data.name} inputs are pairs the task builds; "
                          "use distill.extra_source_dir=<tree> for more of them")
    rows = [r for split in data.splits.values() for r in split]
    if not all("file" in r for r in rows):
        raise ConfigError("distill.task_source", True, hint=f"{data.name} was read from published files, "
                          "which do not say which source file each input came from")
    held_out = {r["file"] for split in ("valid", "test") for r in data.splits[split]}
    seen = {r["code"] for r in rows}
    source_dir = teacher_data_config(cfg, teacher)[1].get("source_dir")
    rest = []
    for function in source_functions(data.name, source_dir=source_dir, cache_dir=cfg.data.cache_dir):
        parsed = None if function["file"] in held_out else code_only(function)
        if parsed is not None and parsed[1] not in seen:
            seen.add(parsed[1])
            rest.append({"code": parsed[1]})
    return rest


def without_held_out(records: list[dict], data, fields: tuple[str, ...]) -> list[dict]:
    """``records`` minus those with an input that is a near-duplicate (names and literals abstracted)
    of a validation or test input: harvested code often vendors copies of the task's own source."""
    held_out = {near_duplicate_key(r[f]) for split in ("valid", "test") for r in data.splits[split] for f in fields}
    return [r for r in records if not any(near_duplicate_key(r[f]) in held_out for f in fields)]
