"""Backbones: loading (packaged, hub id, local directory, tiny random), layer access, tokenizers."""
from codereuse.models.backbone import Backbone, load_backbone
from codereuse.models.spec import BackboneSpec

__all__ = ["Backbone", "BackboneSpec", "load_backbone"]
