"""The teacher next to every exported form of the student on the whole test split: accuracy, F1,
size, parameters, latency at batch 1 and 32, and what the student gains and loses; the teacher and
the fp32 student also on the validation split, what a choice of distillation settings may read."""
from __future__ import annotations

from codereuse.compression import evaluate as ev
from codereuse.compression import student as student_lib
from codereuse.compression.latency import LATENCY_DEVICE
from codereuse.compression.teacher import Teacher

VALIDATED = ("teacher", "student_fp32")  # one untimed pass on the validation split each


def compare_models(teacher: Teacher, data, paths: dict, tokenizer, student_length: int, batch_size: int,
                   latency_repeats: int) -> dict:
    """One row per model (``teacher``, ``student_fp32``, ``student_int8``, ``student_onnx`` as exported;
    ``val_accuracy`` in the :data:`VALIDATED` rows) plus speedup_b1/b32, accuracy_drop and compression
    of the fp32 student against the teacher, and ``latency_device``, where the latencies were measured."""
    test, num_labels = data.splits["test"], data.num_labels or 2
    forms = {"teacher": ev.teacher_predict(teacher)}
    forms.update({f"student_{k}": ev.student_predict(k, paths) for k in ("fp32", "int8", "onnx") if k in paths})

    def batches(name: str, records: list[dict], size: int):
        if name == "teacher":
            return ev.teacher_batches(teacher, records, size)
        return student_lib.batches(records, tokenizer, data.family, student_length, size)

    results, predicted = {}, {}
    for name, predict in forms.items():
        predicted[name], labels = ev.predictions(predict, batches(name, test, batch_size))
        results[name] = ev.scores(predicted[name], labels, num_labels)
    for name in VALIDATED:
        valid = ev.predictions(forms[name], batches(name, data.splits["valid"], batch_size))
        results[name]["val_accuracy"] = ev.scores(*valid, num_labels)["accuracy"]
    timed = ev.latencies(forms, {n: {s: ev.first_batch(batches(n, test, s)) for s in (1, 32)} for n in forms}, latency_repeats)
    teacher_params = sum(p.numel() for p in teacher.module.model.parameters())
    student_params = sum(p.numel() for p in student_lib.predictor_model(paths).parameters())
    for name, row in results.items():
        row.update(latency_b1_ms=timed[name][1], latency_b32_ms=timed[name][32],
                   params=teacher_params if name == "teacher" else student_params,
                   size_mb=(teacher_size_mb(teacher) if name == "teacher" else
                            student_lib.file_size(paths[name.removeprefix("student_")]) / 1e6))
        if name.startswith("student_") and name != "student_fp32":
            row["agreement_with_fp32"] = float((predicted[name] == predicted["student_fp32"]).float().mean())
    out = dict(results)
    out["speedup_b1"] = results["teacher"]["latency_b1_ms"] / results["student_fp32"]["latency_b1_ms"]
    out["speedup_b32"] = results["teacher"]["latency_b32_ms"] / results["student_fp32"]["latency_b32_ms"]
    out["accuracy_drop"] = results["teacher"]["accuracy"] - results["student_fp32"]["accuracy"]
    out["compression"] = results["teacher"]["size_mb"] / results["student_fp32"]["size_mb"]
    out["latency_device"] = LATENCY_DEVICE
    return out


def teacher_size_mb(teacher: Teacher) -> float:
    """The teacher's weights as fp32 safetensors would store them (its checkpoint also holds optimiser state)."""
    return 4 * sum(p.numel() for p in teacher.module.model.parameters()) / 1e6
