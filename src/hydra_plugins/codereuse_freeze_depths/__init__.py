"""Hydra plugin: ``freeze=top<N>`` and ``freeze=bottom<K>`` for any depth, without a file per depth.

``conf/freeze/*.yaml`` holds the documented choices (top1, top2, top4, bottom6 ...); this config
source answers the other depths, so ``freeze=top3`` just works and ``freeze=top99`` reaches the
freeze policy, which rejects it in one line naming the model's depth.
"""
from __future__ import annotations

import re
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

SCHEME = "codereuse-freeze-depths"
PATTERN = re.compile(r"^freeze/(top|bottom)(\d+)(\.yaml)?$")


class FreezeDepthsConfigSource(ConfigSource):
    @staticmethod
    def scheme() -> str:
        return SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        match = PATTERN.match(config_path)
        if not match:
            raise ConfigLoadError(f"Config not found: {config_path}")
        mode, layers = match.group(1), int(match.group(2))
        config = OmegaConf.create({"name": f"{mode}{layers}", "mode": mode, "layers": layers, "cache": False})
        return ConfigResult(provider=self.provider, path=f"{self.scheme()}://{config_path}", config=config,
                            header={"package": None})

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return False

    def is_config(self, config_path: str) -> bool:
        return PATTERN.match(config_path) is not None

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        return []  # infinitely many: the listed options stay the documented files


class FreezeDepthsSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="codereuse", path=f"{SCHEME}://")
