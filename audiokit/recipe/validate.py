"""The ``validate`` stage shared by the task pipelines: check Kaldi data dirs, write a report."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from audiokit.errors import DataDirError
from audiokit.io.atomic import write_text_atomic
from audiokit.recipe.stage import StageContext


def validate_data_dirs(ctx: StageContext, dirs: Iterable[tuple[str | Path, bool]]) -> None:
    """Validate each ``(data dir, transcripts required)``; write and print ``exp/<tag>/validate.txt``.

    Data dirs relative to the work dir are read as given (stages run in the work dir, so
    relative ``wav.scp`` paths resolve as Kaldi expects). Raises DataDirError naming the
    first error and the report when any dir has an error; warnings are only reported.
    """
    from audiokit.data.validate import validate_data_dir

    report: list[str] = []
    errors: list[str] = []
    for path, require_text in dirs:
        path = Path(path)
        problems = validate_data_dir(path, require_text=require_text)
        report.append(f"{path}: {len(problems)} problem(s)")
        for problem in problems:
            report.append(f"  {problem.severity}: {problem}")
            if problem.severity == "error":
                errors.append(str(problem))
    write_text_atomic(ctx.exp_dir / "validate.txt", "\n".join(report) + "\n")
    print("\n".join(report), flush=True)
    if errors:
        raise DataDirError(f"{len(errors)} error(s) in the data dirs, first: {errors[0]} "
                           f"(all in exp/{ctx.tag}/validate.txt)")
