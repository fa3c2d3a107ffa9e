"""Checkpoints, teachers and model directories from elsewhere are read without running what is in
them, and a checkpoint's recorded overrides replay only what a run of this project records."""
from __future__ import annotations

import pathlib

import pytest
import torch

from codereuse.analysis.__main__ import main as analysis
from codereuse.checkpoints import load_checkpoint
from codereuse.compression.teacher import load_teacher
from codereuse.errors import BackboneError, ConfigError
from codereuse.models import load_backbone
from codereuse.selection.candidates import discover_checkpoints
from codereuse.training.resume import restored_config
from conftest import compose_train
from test_cli import saved_tiny
from test_errors import one_error_line, run_script, train

TINY = ["model=tiny", "logger=none", "task=defect", "trainer.max_steps=2", "task.max_train_examples=32"]
BACKBONE = {"name": "tiny", "source": "tiny", "pooling": "mean", "tiny": {"arch": "bert"}}


class Touch:
    """Unpickling it calls ``pathlib.Path.touch(marker)``: proof that a file's code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def booby_trapped(path: pathlib.Path, marker: pathlib.Path, **content) -> pathlib.Path:
    """A torch.save'd checkpoint that looks like this project's but writes ``marker`` when unpickled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "hyper_parameters": {"backbone": BACKBONE, "task": {"name": "clone", "family": "pair"}},
                "payload": Touch(marker), **content}, path)
    return path


def compress(capsys, *args: str) -> tuple[int, str]:
    """``python compress.py *args``: (exit status, stderr)."""
    return run_script(capsys, "compress.py", *args)


def assert_refused(line: str, path: pathlib.Path, marker: pathlib.Path) -> None:
    assert str(path) in line and "pickled Python objects" in line and "torch.save(model.state_dict())" in line, line
    assert not marker.exists()


def test_resuming_from_a_booby_trapped_checkpoint_is_refused(capsys, tmp_path, code_tree):
    marker, evil = tmp_path / "marker", booby_trapped(tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "marker")
    line = one_error_line(*train(capsys, *TINY, f"data.source_dir={code_tree}", f"ckpt_path={evil}", f"hydra.run.dir={tmp_path / 'r'}"))
    assert line.startswith("error: ckpt_path=")
    assert_refused(line, evil, marker)


def test_a_booby_trapped_teacher_is_refused(capsys, tmp_path):
    marker, evil = tmp_path / "marker", booby_trapped(tmp_path / "teacher.ckpt", tmp_path / "marker")
    line = one_error_line(*compress(capsys, f"teacher={evil}", f"hydra.run.dir={tmp_path / 'run'}"))
    assert line.startswith("error: teacher=")
    assert_refused(line, evil, marker)


def test_drift_on_a_booby_trapped_checkpoint_is_refused(capsys, tmp_path):
    marker, evil = tmp_path / "marker", booby_trapped(tmp_path / "last.ckpt", tmp_path / "marker")
    with pytest.raises(SystemExit) as stop:
        analysis(["drift", f"ckpt={evil}", f"out={tmp_path / 'out'}"])
    assert stop.value.code == 2
    assert_refused(one_error_line(2, capsys.readouterr().err), evil, marker)


def test_a_booby_trapped_selection_candidate_is_skipped_in_one_line(tmp_path):
    marker = tmp_path / "marker"
    evil = booby_trapped(tmp_path / "runs" / "clone" / "checkpoints" / "best.ckpt", marker)
    found, skipped = discover_checkpoints([str(tmp_path / "runs")], "defect", {})
    assert found == [] and len(skipped) == 1 and "\n" not in skipped[0]
    assert_refused(skipped[0], evil, marker)


def test_a_model_directory_with_only_pickled_weights_needs_the_opt_in(capsys, tmp_path, code_tree):
    marker, directory = tmp_path / "marker", pathlib.Path(saved_tiny(tmp_path / "model"))
    state = load_backbone({**BACKBONE, "path": str(directory)}).model.state_dict()
    (directory / "model.safetensors").unlink()
    torch.save({**state, "payload": Touch(marker)}, directory / "pytorch_model.bin")
    capsys.readouterr()  # what saving and loading the model printed is not the run's output
    line = one_error_line(*train(capsys, *TINY, f"model.path={directory}", f"data.source_dir={code_tree}",
                                 f"hydra.run.dir={tmp_path / 'run'}"))
    assert str(directory) in line and "model.allow_pickle=true" in line and "safe_serialization=True" in line, line
    with pytest.raises(BackboneError, match="model.allow_pickle=true"):  # teachers and candidates build through it too
        load_backbone({**BACKBONE, "path": str(directory)})
    assert not marker.exists()

    torch.save(state, directory / "pytorch_model.bin")  # the user trusts this one and opts in
    loaded = load_backbone({**BACKBONE, "path": str(directory), "allow_pickle": True})
    assert torch.equal(loaded.model.state_dict()["embeddings.word_embeddings.weight"], state["embeddings.word_embeddings.weight"])


@pytest.mark.parametrize("override, named", [
    ("+logger.evil._target_=pathlib.Path.touch", "logger.evil._target_"),
    ("+logger.evil._args_=['MARKER']", "logger.evil._args_"),
    ("logger.csv._target_=pathlib.Path.touch", "logger.csv._target_"),
    ("logger.csv={_target_:pathlib.Path.touch,_args_:['MARKER']}", "logger.csv is not replayed: _target_"),
    ("+logger.evil.save_dir=x", "a checkpoint cannot add keys"),
    ("++logger.evil.save_dir=x", "Could not override 'logger.evil.save_dir'"),
    ("model@logger.evil=tiny", "it places a config at @logger.evil"),
    ("model=../../../../tmp/evil", "is not the name of a config in model/"),
    ("task.name=${oc.decode:'x'}", "task.name is not replayed: it holds an interpolation"),
    ("model.trust_remote_code=true", "model.trust_remote_code is not replayed: it runs code"),
])
def test_a_recorded_override_that_could_run_code_is_refused_in_one_line(capsys, tmp_path, override, named):
    marker = tmp_path / "marker"
    recorded = ["model=tiny", override.replace("MARKER", str(marker))]
    checkpoint = tmp_path / "last.ckpt"
    torch.save({"codereuse": {"overrides": recorded, "config": None, "module_class": None}, "state_dict": {}}, checkpoint)
    # nothing else on the command line: a key set there again would not be replayed at all
    line = one_error_line(*train(capsys, f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path / 'run'}"))
    assert line.startswith("error: ckpt_path=") and named in line, line
    assert not marker.exists()


def test_the_projects_own_recorded_overrides_are_replayed(tmp_path):
    """Brute-force runs record ``++data.seed=``; ``++`` sets a key the config has, and only such a key."""
    cfg = compose_train(["ckpt_path=x.ckpt"], tmp_path)
    restored = restored_config(cfg, {"overrides": ["model=tiny", "task=classify", "++data.seed=3",
                                                   "++task.options.num_classes=4", "freeze=none"]}, "x.ckpt")
    assert (restored.model.name, restored.task.name, restored.data.seed, restored.task.options.num_classes) == ("tiny", "classify", 3, 4)
    with pytest.raises(ConfigError, match="Could not override 'task.options.nope'"):
        restored_config(cfg, {"overrides": ["++task.options.nope=1"]}, "x.ckpt")


def test_a_teacher_names_only_this_projects_modules_and_no_opt_in(tmp_path):
    ours = {"backbone": BACKBONE, "task": {"name": "clone", "family": "pair"}}
    torch.save({"hyper_parameters": {**ours, "args": ["touch", str(tmp_path / "marker")]}, "state_dict": {},
                "codereuse": {"module_class": "subprocess.run"}}, tmp_path / "a.ckpt")
    with pytest.raises(ConfigError, match="written by subprocess.run, not a codereuse module"):
        load_teacher(tmp_path / "a.ckpt")
    torch.save({"hyper_parameters": {**ours, "backbone": {**BACKBONE, "trust_remote_code": True}}, "state_dict": {},
                "codereuse": {"module_class": "codereuse.methods.finetune.FineTuneModule"}}, tmp_path / "b.ckpt")
    with pytest.raises(ConfigError, match="turns on trust_remote_code"):
        load_teacher(tmp_path / "b.ckpt")
    assert not (tmp_path / "marker").exists()


def test_a_whole_pickled_model_and_a_non_torch_file_are_one_line_each(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(ConfigError, match=r"pickled Python objects \(torch\.nn\.modules\.linear\.Linear\)"):
        load_checkpoint(tmp_path / "model.pt", "teacher")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt", "teacher")
    torch.save(torch.zeros(2), tmp_path / "tensor.pt")
    with pytest.raises(ConfigError, match="holds a Tensor, not a dict"):
        load_checkpoint(tmp_path / "tensor.pt", "ckpt")
