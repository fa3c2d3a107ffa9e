"""The student's data and its deployable forms.

A student is a small BERT *sequence classifier*. On pair tasks it cross-encodes the pair as one
sequence (``<s> code1 </s> code2 </s>``), so the whole student - encoder, pooler, classifier - is a
standard ``BertForSequenceClassification`` that ``AutoModelForSequenceClassification`` loads and
that ``tokenizer(code1, code2)`` feeds, with no codereuse code at inference time.
In codereuse it is a ``classification``-family TaskModel with ``cls`` pooling, whose head
(dense -> tanh -> linear) is exactly BERT's pooler + classifier.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from codereuse.checkpoints import load_checkpoint
from codereuse.data.collate import Collator
from codereuse.data.datamodule import CodeDataModule
from codereuse.data.types import TaskData
from codereuse.families import family as task_family

POOLING = "cls"
IGNORE = -100  # unlabelled rows: no hard label (cross-entropy ignores them)


def text_inputs(family: str, records: list[dict]) -> tuple[list[str], list[str] | None]:
    """The texts of the family's first input and, for a paired family, of its second (cross-encoded)."""
    fields = task_family(family).inputs
    return [r[fields[0]] for r in records], ([r[fields[1]] for r in records] if len(fields) > 1 else None)


def encode(records: list[dict], tokenizer, family: str, max_length: int) -> list[dict]:
    """``code_ids`` (pairs cross-encoded, truncated longest-first), ``labels`` (or IGNORE), ``index``."""
    first, second = text_inputs(family, records)
    ids = tokenizer(first, second, truncation=True, max_length=max_length)["input_ids"] if records else []
    return [{"code_ids": row, "labels": int(r.get("label", IGNORE)), "index": i}
            for i, (row, r) in enumerate(zip(ids, records))]


class StudentDataModule(CodeDataModule):
    """``train`` = the unlabelled (distillation) records; ``valid``/``test`` = the task's labelled ones."""

    def __init__(self, family: str, splits: dict[str, list[dict]], tokenizer, max_length: int, batch_size: int,
                 eval_batch_size: int, seed: int, num_workers: int = 0) -> None:
        super().__init__(TaskData("student", "classification", splits), tokenizer, "encoder", max_length=max_length,
                         batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, num_workers=num_workers)
        self.family = family

    def setup(self, stage: str | None = None) -> None:
        if not self.encoded:
            self.encoded = {split: encode(rows, self.tokenizer, self.family, self.lengths["max_length"])
                            for split, rows in self.task.splits.items()}


def batches(records: list[dict], tokenizer, family: str, max_length: int, batch_size: int):
    rows = encode(records, tokenizer, family, max_length)
    collate = Collator(tokenizer.pad_token_id, "test")
    for start in range(0, len(rows), batch_size):
        yield collate(rows[start:start + batch_size])


# --- export -------------------------------------------------------------------------------------
def to_sequence_classifier(task_model: nn.Module, label_names: list[str] | None):
    """The student TaskModel as a ``BertForSequenceClassification`` with identical outputs."""
    from transformers import BertForSequenceClassification

    encoder, head = task_model.backbone, task_model.head.net  # [dropout, dense, tanh, dropout, linear]
    config = encoder.config.__class__.from_dict(encoder.config.to_dict())
    config.num_labels = head[4].out_features
    config.architectures = ["BertForSequenceClassification"]
    if label_names:
        config.id2label = dict(enumerate(label_names))
        config.label2id = {name: i for i, name in enumerate(label_names)}
    model = BertForSequenceClassification(config)
    state = {f"bert.{k}": v for k, v in encoder.state_dict().items()}
    state.update({"bert.pooler.dense.weight": head[1].weight, "bert.pooler.dense.bias": head[1].bias,
                  "classifier.weight": head[4].weight, "classifier.bias": head[4].bias})
    model.load_state_dict(state, strict=True)
    return model.eval()


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of every Linear (weights int8, activations quantised on the fly)."""
    return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def export(task_model: nn.Module, tokenizer, label_names: list[str] | None, out_dir: str | Path,
           example: dict | None = None, onnx: bool = True) -> dict[str, Path]:
    """``hf/`` (config, model.safetensors, tokenizer), ``int8/model.pt`` and, with onnx installed and an
    ``example`` batch, ``onnx/model.onnx``. Returns the paths written."""
    out_dir = Path(out_dir)
    model = to_sequence_classifier(task_model, label_names)
    paths = {"fp32": out_dir / "hf"}
    model.save_pretrained(paths["fp32"])
    tokenizer.save_pretrained(paths["fp32"])
    paths["int8"] = out_dir / "int8" / "model.pt"
    paths["int8"].parent.mkdir(parents=True, exist_ok=True)
    torch.save(quantize_int8(model).state_dict(), paths["int8"])
    if onnx and example is not None and onnx_available():
        paths["onnx"] = export_onnx(model, example, out_dir / "onnx" / "model.onnx")
    return paths


def load_int8(hf_dir: str | Path, int8_path: str | Path) -> nn.Module:
    from transformers import AutoModelForSequenceClassification

    model = quantize_int8(AutoModelForSequenceClassification.from_pretrained(hf_dir).eval())
    model.load_state_dict(load_checkpoint(int8_path, "student"))
    return model.eval()


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


class _LogitsOnly(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(model: nn.Module, example: dict, path: Path) -> Path:
    """ONNX via torch's exporter, batch and length dynamic."""
    import logging
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _LogitsOnly(model).eval()  # eval on the wrapper too: export restores the wrapper's mode
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("torch.onnx", "onnx_ir", "onnxscript"):
            logging.getLogger(name).setLevel(logging.ERROR)
        torch.onnx.export(wrapper, (example["code_ids"], example["code_mask"]), str(path), dynamo=True,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"], verbose=False,
                          dynamic_shapes={"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
                          external_data=False)
    return path


def onnx_session(path: str | Path, threads: int = 1):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def file_size(path: Path) -> int:
    """Bytes on disk of a file, or of the weight files of an HF directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.glob("*.safetensors"))
    return path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".data"))


def predictor(kind: str, paths: dict[str, Path]):
    """A callable ``(ids, mask) -> logits tensor`` for one exported form of the student."""
    from transformers import AutoModelForSequenceClassification

    if kind == "onnx":
        session = onnx_session(paths["onnx"])
        return lambda ids, mask: torch.from_numpy(session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0])
    model = load_int8(paths["fp32"], paths["int8"]) if kind == "int8" else \
        AutoModelForSequenceClassification.from_pretrained(paths["fp32"]).eval()
    return lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits


def predictor_model(paths: dict[str, Path]) -> nn.Module:
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(paths["fp32"])
