"""The sweeper: ask Optuna for a batch of trials, launch them as Hydra jobs, tell Optuna the results."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    def __init__(self, sampler: Any = None, pruner: Any = None, direction: Any = "minimize", storage: str | None = None,
                 study_name: str | None = None, n_trials: int = 20, n_jobs: int = 1, max_failure_rate: float = 0.0,
                 params: Any = None, trial: int | None = None) -> None:
        self.sampler_config, self.pruner_config = sampler, pruner
        self.directions = list(direction) if isinstance(direction, (list, tuple)) or OmegaConf.is_list(direction) else [direction]
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs, self.max_failure_rate = int(n_trials), max(int(n_jobs), 1), float(max_failure_rate)
        self.params = dict(params or {})

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        study = optuna.create_study(study_name=self.study_name, storage=self.storage, load_if_exists=True,
                                    sampler=build(self.sampler_config), pruner=build(self.pruner_config),
                                    directions=[str(d) for d in self.directions])
        log.info("Optuna study %s (%s), %d trials so far; adding %d", study.study_name, self.storage,
                 len(study.trials), self.n_trials)
        job_idx, remaining = 0, self.n_trials
        while remaining > 0:
            trials = [study.ask(fixed_distributions=space) for _ in range(min(self.n_jobs, remaining))]
            overrides = [tuple(f"{k}={v}" for k, v in {**trial.params, **fixed}.items())
                         + (f"hydra.sweeper.trial={trial.number}",) for trial in trials]
            returns = self.launcher.launch(overrides, initial_job_idx=job_idx)
            job_idx, remaining = job_idx + len(returns), remaining - len(returns)
            failures = [error for trial, ret in zip(trials, returns) if (error := self._tell(study, trial, ret))]
            if len(failures) > self.max_failure_rate * len(returns):
                for ret in returns:
                    ret.return_value  # re-raises the first failed job's own error
                raise failures[0]
        self._write_results(study)

    def _tell(self, study, trial, ret) -> Exception | None:
        """Record one job's outcome; a pruned job is not a failure, an error or a non-number is."""
        import optuna

        try:
            value = ret.return_value
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return None
        except Exception as error:  # noqa: BLE001 - the job's error, recorded as a failed trial
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            log.warning("trial %d failed: %s", trial.number, error)
            return error
        try:
            values = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
        except (TypeError, ValueError):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return ValueError(f"trial {trial.number}: the job returned {value!r}, not a number (set optimized_metric)")
        study.tell(trial, values)  # NaN is recorded by Optuna as a failed trial
        return None

    def _write_results(self, study) -> None:
        import optuna

        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "storage": self.storage,
                                   "trials": len(study.trials), "complete": len(done)}
        if len(self.directions) == 1 and done:
            results.update(best_params=study.best_trial.params, best_value=study.best_trial.value)
        elif done:
            results["solutions"] = [{"params": t.params, "values": t.values} for t in study.best_trials]
        out = Path(self.config.hydra.sweep.dir) / "optimization_results.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), out)
        log.info("Optuna results: %s", out)


def build(config: Any):
    """A sampler/pruner from its config; Hydra has usually instantiated it already (nested ``_target_``)."""
    if isinstance(config, (dict, DictConfig)):
        return instantiate(config) if config else None
    return config


def search_space(arguments: list[str]) -> tuple[dict, dict]:
    """Optuna distributions for the sweep overrides (``choice``, ``range``, ``interval``, ``tag(log, ...)``)
    and the fixed ``key=value`` ones, in Hydra's override grammar."""
    space, fixed = {}, {}
    for override in OverridesParser.create().parse_overrides(arguments):
        key = override.get_key_element()
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = override.get_value_element_as_str()
    return space, fixed


def distribution(override: Override):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    log_scale = "log" in getattr(value, "tags", set())
    if override.is_range_sweep():
        if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
            # Hydra's range excludes its stop; Optuna's high is inclusive
            return FloatDistribution(value.start, value.stop - value.step, step=value.step)
        return IntDistribution(int(value.start), int(value.stop) - int(value.step), step=int(value.step))
    if override.is_interval_sweep():
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise ValueError(f"{override.input_line}: not a sweep Optuna can sample")
