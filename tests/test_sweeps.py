"""Sweeps as users run them: multirun + summary table, Optuna search and resume, the submitit launcher
(locally), the launchers following `hardware`, DDP on two CPU processes against one process, and one
offline W&B run per multirun job."""
from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from codereuse.cli.summary import main as summary_main
from codereuse.training.tracking import group_for
from conftest import CONF, ROOT, compose_train, run_env

TINY = ["model=tiny", "logger=none", "trainer.max_steps=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
        "task.max_train_examples=32", "task.max_eval_examples=8", "task.max_length=48"]


def python(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=run_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def summary(sweep_dir: Path, *args: str) -> dict:
    """``python -m codereuse.cli.summary``: the last line of its output is one JSON object."""
    result = python("-m", "codereuse.cli.summary", str(sweep_dir), *args)
    return json.loads(result.stdout.strip().splitlines()[-1])


def metrics_of(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.relative_to(sweep_dir).as_posix(): json.loads(p.read_text()) for p in sweep_dir.rglob("metrics.json")}


# --- the acceptance sweep: 8 jobs, PEFT jobs ignore the freeze setting, one summary table --------------
def test_multirun_grid_runs_every_job_and_the_summary_lists_them(tmp_path, code_tree):
    sweep = tmp_path / "sweep"
    python("train.py", "-m", *TINY, "task=defect,clone", "strategy=finetune,lora", "freeze=none,top2",
           f"data.source_dir={code_tree}", f"hydra.sweep.dir={sweep}")
    jobs = metrics_of(sweep)
    combos = {(m["task"], m["strategy"], m["freeze"]): m for m in jobs.values()}
    assert len(jobs) == 8 and len(combos) == 8
    for (task, strategy, freeze), m in combos.items():
        assert m["freeze_ignored"] == (strategy == "lora" and freeze == "top2")
        if strategy == "lora":  # the freeze setting really did not apply: same trainable parameters
            assert m["trainable_params"] == combos[(task, "lora", "none")]["trainable_params"]
    assert combos[("defect", "finetune", "top2")]["trainable_params"] < combos[("defect", "finetune", "none")]["trainable_params"]

    line = summary(sweep)
    assert (line["jobs"], line["completed"], line["failed"]) == (8, 8, [])
    assert sorted(line["freeze_ignored"]) == sorted(j for j, m in jobs.items() if m["freeze_ignored"])
    assert line["best"]["metric"] == "test/f1"
    markdown = Path(line["markdown"]).read_text()
    assert markdown.count("lora | top2 (ignored)") == 2 and markdown.count("\n") == 8 + 2
    with open(line["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["task"], r["strategy"], r["freeze"]) for r in rows} == set(combos)
    assert {r["job"]: float(r["test/f1"]) for r in rows} == pytest.approx({j: m["test/f1"] for j, m in jobs.items()})
    assert Path(line["plot"]).stat().st_size > 0


def test_summary_lists_failed_jobs_and_the_overrides_that_vary(tmp_path, capsys):
    for job, lr, f1 in (("0", "1e-4", 0.5), ("1", "1e-3", 0.75), ("2", "1e-2", None)):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        (tmp_path / job / ".hydra" / "overrides.yaml").write_text(f"- strategy.optim.lr={lr}\n- task=clone\n")
        if f1 is not None:  # job 2 died before writing metrics.json
            metrics = {"test/f1": f1, "model": "tiny", "task": "clone", "strategy": "prompt", "freeze": "top2",
                       "freeze_ignored": True, "trainable_params": 10, "total_params": 100, "trainable_fraction": 0.1}
            (tmp_path / job / "metrics.json").write_text(json.dumps(metrics))
    assert summary_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    line = json.loads(out[-1])
    assert (line["jobs"], line["completed"], line["failed"]) == (3, 2, ["2"])
    assert line["best"] == {"job": "1", "metric": "test/f1", "value": 0.75}
    assert "strategy.optim.lr" in out[0] and "top2 (ignored)" in out[2] and out[4].endswith("failed |")
    assert summary_main([str(tmp_path / "missing")]) == 2


# --- Optuna: a persistent study, resumed -----------------------------------------------------------
def test_optuna_search_runs_three_trials_and_resumes_to_five(tmp_path, code_tree):
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = ["hparams_search=optuna", *TINY, "task=defect", f"data.source_dir={code_tree}",
              f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=resume-test"]
    python("train.py", *common, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path / 'first'}")
    assert len(optuna.load_study(study_name="resume-test", storage=storage).trials) == 3
    # the sweeper's n_trials counts the trials a command adds: 2 more make 5
    python("train.py", *common, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path / 'second'}")

    trials = optuna.load_study(study_name="resume-test", storage=storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5
    jobs = {**metrics_of(tmp_path / "first"), **{f"2nd/{k}": v for k, v in metrics_of(tmp_path / "second").items()}}
    assert len(jobs) == 5
    # each trial's value is the job's validation metric (optimized_metric = task.monitor = val/f1)
    assert sorted(t.value for t in trials) == pytest.approx(sorted(m["val/f1"] for m in jobs.values()))
    assert all(1e-5 <= t.params["strategy.optim.lr"] <= 1e-3 for t in trials)
    assert {m["freeze"] for m in jobs.values()} <= {"none", "top4", "top2", "top1"}
    assert (tmp_path / "second" / "optimization_results.yaml").is_file()


# --- launchers --------------------------------------------------------------------------------------
def test_submitit_local_launcher_runs_a_job(tmp_path, code_tree):
    sweep = tmp_path / "sweep"
    python("train.py", "-m", "hydra/launcher=slurm_local", *TINY, "task=defect", f"data.source_dir={code_tree}",
           f"hydra.sweep.dir={sweep}")
    assert list(metrics_of(sweep)) == ["0"]
    assert list((sweep / ".submitit").glob("*/*_0_log.out"))  # ran as a submitit job


@pytest.mark.parametrize(("hardware", "nodes", "tasks", "gpus"), [("ddp_multinode", 2, 4, 4), ("cpu", 1, 1, None)])
def test_slurm_launcher_follows_the_hardware_group(tmp_path, hardware, nodes, tasks, gpus):
    cfg = compose_train(["hydra/launcher=slurm", f"hardware={hardware}"], tmp_path)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (nodes, tasks, gpus)
    if hardware == "ddp_multinode":  # srun starts the processes: Lightning must not start its own
        assert cfg.hardware.strategy == "ddp"


def test_hydra_launchers_compose(tmp_path):
    cfg = compose_train(["hydra/launcher=parallel"], tmp_path)
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher") and cfg.hydra.launcher.n_jobs >= 1
    cfg = compose_train(["hydra/launcher=slurm_local"], tmp_path)
    assert cfg.hydra.launcher._target_.endswith("LocalLauncher") and cfg.hydra.launcher.tasks_per_node == 1


# --- experiments and searches are configs -------------------------------------------------------------
def test_adapter_comparison_has_one_arm_per_file(tmp_path):
    cfg = compose_train(["experiment=adapters_minilm"], tmp_path)
    arms = cfg.hydra.sweeper.params["experiment/arm"].split(",")
    assert sorted(arms) == sorted(p.stem for p in (CONF / "experiment" / "arm").glob("*.yaml"))
    runs = {}
    for arm in arms:
        cfg = compose_train(["experiment=adapters_minilm", f"experiment/arm={arm}"], tmp_path)
        assert (cfg.model.name, cfg.task.name) == ("minilm", "clone")
        runs[arm] = (cfg.hydra.runtime.choices.strategy, cfg.freeze.name)
    assert runs == {"full": ("finetune", "none"), "top2": ("finetune", "top2"), "lora": ("lora", "none"),
                    "prefix": ("prefix", "none"), "prompt": ("prompt", "none"),
                    "transducer": ("transducer", "none")}


def test_telly_experiment_sweeps_freeze_depths(tmp_path):
    cfg = compose_train(["experiment=telly_minilm"], tmp_path)
    depths = cfg.hydra.sweeper.params.freeze.split(",")
    assert depths[0] == "none" and depths[-1] == "all" and len(depths) == 7
    assert all((CONF / "freeze" / f"{d}.yaml").is_file() for d in depths)


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "hparams_search").glob("*.yaml")))
def test_hparams_search_composes(tmp_path, name):
    cfg = compose_train([f"hparams_search={name}", "model=tiny"], tmp_path)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.storage.startswith("sqlite:///")
    assert cfg.optimized_metric == cfg.task.monitor and sweeper.direction == cfg.task.monitor_mode + "imize"
    assert sweeper.params and cfg.hydra.mode.name == "MULTIRUN"


# --- DDP: two CPU processes = one process with the same global batch ---------------------------------
def test_ddp_cpu_gives_the_metrics_of_one_process(tmp_path, code_tree):
    common = ["model=tiny", "logger=none", "task=defect", "freeze=none", "trainer.max_epochs=1", "strategy.optim.lr=1e-3",
              "task.max_train_examples=32", "task.max_eval_examples=16", "task.eval_batch_size=8", "task.max_length=48",
              # no dropout: one process and two draw different masks for the same examples
              "++model.tiny.hidden_dropout_prob=0", "++model.tiny.attention_probs_dropout_prob=0", "++task.dropout=0",
              f"data.source_dir={code_tree}"]
    one = python("train.py", *common, "task.batch_size=8", f"hydra.run.dir={tmp_path / 'one'}")
    two = python("train.py", *common, "hardware=ddp_cpu", "task.batch_size=4", f"hydra.run.dir={tmp_path / 'two'}")
    single, ddp = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    assert two.stdout.count("tiny / defect / finetune / none") == 1  # one table, from the main process
    keys = [k for k in single if k.startswith(("val/", "test/"))]
    assert {"val/loss", "test/loss", "test/acc"} <= set(keys) == {k for k in ddp if k.startswith(("val/", "test/"))}
    assert {k: ddp[k] for k in keys} == pytest.approx({k: single[k] for k in keys}, abs=1e-4)
    assert "tiny / defect / finetune / none" in one.stdout


# --- W&B: one offline run per multirun job, grouped by the sweep; the summary as a run of its own ------
def test_wandb_offline_run_per_multirun_job(tmp_path, code_tree, monkeypatch):
    sweep = tmp_path / "sweep"
    # both jobs in one process: wandb.finish() after each job is what keeps their runs apart
    python("train.py", "-m", *TINY, "logger=wandb", "task=defect", "strategy=finetune,lora",
           f"data.source_dir={code_tree}", f"hydra.sweep.dir={sweep}")
    runs = {}
    for job in ("0", "1"):
        (run_dir,) = (sweep / job / "wandb").glob("offline-run-*")  # exactly one run per job
        (records,) = [wandb_records(p) for p in run_dir.glob("run-*.wandb")]
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        runs[job] = run
        summary_keys = {item.key for r in records if r.WhichOneof("record_type") == "summary" for item in r.summary.update}
        assert {"trainable_params", "total_params", "test/f1", "freeze_ignored"} <= summary_keys
        assert list((run_dir / "files" / "media" / "table").glob("metrics_*.table.json"))
    monkeypatch.chdir(ROOT)  # where train.py ran: the group is the sweep dir as seen from there
    assert runs["0"].run_group == runs["1"].run_group == group_for(sweep)
    assert runs["0"].display_name == "tiny-defect-finetune-top2 #0" and runs["1"].display_name == "tiny-defect-lora-top2 #1"

    line = summary(sweep, "--wandb")
    assert (line["jobs"], line["completed"]) == (2, 2)
    summary_run = Path(line["wandb"])
    assert summary_run.parent == sweep / "wandb" and list(summary_run.glob("files/media/table/sweep_summary_*.table.json"))
    assert list(summary_run.glob("files/media/images/plots/summary_*.png"))


def wandb_records(path: Path) -> list:
    """The records of an offline ``run-*.wandb`` file (a LevelDB-style log of protobuf ``Record`` s)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, chunk, records = path.read_bytes(), 7, b"", []  # 7-byte file header ":W&B" + magic + version
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768  # 32 KiB blocks; a record header never straddles two
        if room < 7:
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST piece of a record
            records.append(wandb_internal_pb2.Record.FromString(chunk))
            chunk = b""
    return records
