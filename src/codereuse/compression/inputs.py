"""A distillable task's inputs: the record fields that hold code (one function, or a pair that the
student cross-encodes as one sequence) and what the student needs from them."""
from __future__ import annotations

from codereuse.compression import student as student_lib
from codereuse.families import family


def input_fields(family_name: str) -> tuple[str, ...]:
    return family(family_name).inputs


def student_max_length(teacher_max_length: int, family: str) -> int:
    """Room for every input of a row at the teacher's length, as the student reads them as one sequence."""
    return teacher_max_length * len(input_fields(family))


def bpe_corpus(records: list[dict], family: str) -> list[str]:
    """Every code text of ``records``: what the student's BPE learns its merges from."""
    first, second = student_lib.text_inputs(family, records)
    return first + (second or [])
