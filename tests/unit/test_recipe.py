"""The recipe runner (audiokit.recipe) on toy recipes in a temporary work dir."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from audiokit.errors import AudiokitError, ConfigError
from audiokit.recipe import Recipe, RecipeError, Stage, main
from audiokit.recipe.config import apply_overrides, load_config
from audiokit.recipe.fingerprint import fingerprint_path
from audiokit.recipe.runner import workdir_lock

DEFAULTS = {"tag": "toy", "n": 3, "word": "hi", "opt": {"lr": 0.1, "deep": {"k": 1}}}


def _count(ctx, name: str) -> None:
    """Add 1 to the counter file counts/<name> (how often a stage really ran)."""
    path = ctx.path(f"counts/{name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))


def _make(ctx) -> None:
    _count(ctx, "make")
    ctx.path("out").mkdir(exist_ok=True)
    words = [ctx.get("word")] * ctx.get("n")
    (ctx.path("out") / "words.txt").write_text(" ".join(words) + "\n" + ctx.path("src.txt").read_text())


def _upper(ctx) -> None:
    _count(ctx, "upper")
    ctx.path("upper.txt").write_text(ctx.path("out/words.txt").read_text().upper())


def _report(ctx) -> None:
    _count(ctx, "report")
    ctx.exp_dir.mkdir(parents=True, exist_ok=True)
    (ctx.exp_dir / "report.txt").write_text(f"lr={ctx.get('opt.lr')}\n" + ctx.path("upper.txt").read_text())


def toy_recipe(**stage3) -> Recipe:
    return Recipe(
        name="toy", defaults=DEFAULTS, description="A toy.",
        renamed={"--start-stage": "--stage", "nn": "n"},
        stages=[
            Stage("make", func=_make, inputs=["src.txt"], outputs=["out"], config_keys=["n", "word"]),
            Stage("upper", func=_upper, inputs=["out/words.txt"], outputs=["upper.txt"]),
            Stage("report", func=stage3.get("func", _report), inputs=["upper.txt"],
                  outputs=["{exp}/report.txt"], config_keys=["opt.lr"]),
        ],
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "src.txt").write_text("source\n")
    (tmp_path / "conf.yaml").write_text("tag: toy\nn: 2\n")
    return tmp_path


def run(work: Path, *args: str, recipe: Recipe | None = None) -> int:
    return main(recipe or toy_recipe(), ["--workdir", str(work), "--config", str(work / "conf.yaml"), *args])


def counts(work: Path) -> dict[str, int]:
    return {p.name: int(p.read_text()) for p in (work / "counts").glob("*")} if (work / "counts").exists() else {}


def log_lines(work: Path) -> list[dict]:
    path = work / "exp" / "toy" / "stages.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def last_run(work: Path) -> dict[str, str]:
    lines = log_lines(work)
    return {r["stage"]: r["status"] for r in lines if r["run"] == lines[-1]["run"]}


def test_first_run_runs_all_then_second_run_skips_all(work):
    assert run(work) == 0
    assert counts(work) == {"make": 1, "upper": 1, "report": 1}
    assert (work / "exp/toy/report.txt").read_text() == "lr=0.1\nHI HI\nSOURCE\n"
    for name in ("make", "upper", "report"):
        marker = json.loads((work / f"exp/toy/stages/{name}.json").read_text())
        assert marker["stage"] == name and len(marker["hash"]) == 16
    assert run(work) == 0
    assert counts(work) == {"make": 1, "upper": 1, "report": 1}
    assert last_run(work) == {"make": "skipped", "upper": "skipped", "report": "skipped"}


def test_stages_jsonl_has_one_line_per_stage_per_run(work):
    run(work)
    run(work, "--stages", "upper")
    lines = log_lines(work)
    assert len(lines) == 6
    assert len({r["run"] for r in lines}) == 2
    first, second = lines[:3], lines[3:]
    assert [r["stage"] for r in first] == ["make", "upper", "report"]
    assert [r["number"] for r in first] == [1, 2, 3]
    assert all(r["status"] == "run" and r["duration"] >= 0 and r["hash"] for r in first)
    assert all(r["start"].endswith("+00:00") for r in lines)
    assert [(r["status"], r["reason"]) for r in second] == [
        ("skipped", "not selected"), ("skipped", "up to date"), ("skipped", "not selected")]
    assert second[1]["hash"] == first[1]["hash"]


def test_config_change_reruns_the_stage_and_its_dependants(work, capsys):
    run(work)
    assert run(work, "opt.lr=0.5") == 0
    assert counts(work) == {"make": 1, "upper": 1, "report": 2}
    assert "config changed: opt.lr 0.1 -> 0.5" in capsys.readouterr().out
    (work / "conf.yaml").write_text("tag: toy\nn: 4\n")
    assert run(work, "opt.lr=0.5") == 0
    assert counts(work) == {"make": 2, "upper": 2, "report": 3}
    assert (work / "upper.txt").read_text().startswith("HI HI HI HI\n")


def test_input_change_reruns(work, capsys):
    run(work)
    (work / "src.txt").write_text("changed source\n")
    assert run(work) == 0
    assert counts(work) == {"make": 2, "upper": 2, "report": 2}
    assert "input changed: src.txt" in capsys.readouterr().out
    assert (work / "exp/toy/report.txt").read_text().endswith("CHANGED SOURCE\n")


def test_content_fingerprint_ignores_a_touch(work):
    recipe = Recipe(name="toy", defaults=DEFAULTS, stages=[
        Stage("make", func=_make, inputs=["src.txt"], outputs=["out"], fingerprint="content")])
    run(work, recipe=recipe)
    st = (work / "src.txt").stat()
    os.utime(work / "src.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    run(work, recipe=recipe)
    assert counts(work) == {"make": 1}
    (work / "src.txt").write_text("other\n")
    run(work, recipe=recipe)
    assert counts(work) == {"make": 2}


def test_missing_or_changed_output_reruns(work, capsys):
    run(work)
    (work / "upper.txt").unlink()
    run(work)
    # upper.txt is rewritten (new mtime), so its "stat" fingerprint changes: report reruns
    assert counts(work) == {"make": 1, "upper": 2, "report": 2}
    assert "output missing: upper.txt" in capsys.readouterr().out


def test_output_rewritten_by_someone_else_reruns(work, capsys):
    run(work)
    (work / "out" / "extra.txt").write_text("written by another config\n")
    run(work)
    assert counts(work)["make"] == 2
    assert "output changed since the stage made it: out" in capsys.readouterr().out


def test_force_reruns_selected_stages(work):
    run(work)
    assert run(work, "--force", "--stages", "report") == 0
    assert counts(work) == {"make": 1, "upper": 1, "report": 2}


@pytest.mark.parametrize("args, ran", [
    (["--stages", "upper", "report"], {"make": 1, "upper": 2, "report": 2}),
    (["--stages", "3"], {"make": 1, "upper": 1, "report": 2}),
    (["--stage", "2", "--stop-stage", "2"], {"make": 1, "upper": 2, "report": 1}),
    (["--stage", "upper"], {"make": 1, "upper": 2, "report": 2}),
    (["--stop-stage", "1"], {"make": 2, "upper": 1, "report": 1}),
])
def test_stage_selection(work, args, ran):
    run(work)
    assert run(work, "--force", *args) == 0
    assert counts(work) == ran


def test_dry_run_runs_nothing_and_explains(work, capsys):
    assert run(work, "--dry-run") == 0
    out = capsys.readouterr().out
    assert counts(work) == {} and not (work / "exp").exists()
    assert "dry run" in out
    assert "1 make" in out and "not done yet" in out
    assert "input out/words.txt is rebuilt by stage 'make'" in out
    run(work)
    capsys.readouterr()
    (work / "src.txt").write_text("new\n")
    lines_before = len(log_lines(work))
    assert run(work, "--dry-run", "--stages", "make", "report") == 0
    out = capsys.readouterr().out
    assert "input changed: src.txt" in out and "not selected" in out and "up to date" in out
    assert counts(work) == {"make": 1, "upper": 1, "report": 1}
    assert len(log_lines(work)) == lines_before


def test_missing_input_blocks_before_anything_runs(work, capsys):
    assert run(work, "--stages", "upper", "report") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "stage 2 upper cannot run: input missing: out/words.txt" in err
    assert counts(work) == {}


def test_failed_stage_has_no_marker_and_reruns(work, capsys):
    def broken(ctx):
        _count(ctx, "report")
        raise ConfigError("conf.yaml: something the user must fix")

    assert run(work, recipe=toy_recipe(func=broken)) == 2
    err = capsys.readouterr().err
    assert "stage 3 report failed: conf.yaml: something the user must fix" in err
    assert not (work / "exp/toy/stages/report.json").exists()
    assert last_run(work)["report"] == "failed"
    assert log_lines(work)[-1]["error"] == "conf.yaml: something the user must fix"
    assert run(work) == 0
    assert counts(work) == {"make": 1, "upper": 1, "report": 2}


def test_stage_that_forgets_its_output_fails(work, capsys):
    assert run(work, recipe=toy_recipe(func=lambda ctx: None)) == 2
    assert "did not make its output exp/toy/report.txt" in capsys.readouterr().err


def test_argv_stage_runs_without_shell_and_ignores_jobs(work):
    script = "import sys, pathlib; pathlib.Path('argv.txt').write_text(' '.join(sys.argv[1:]))"

    def recipe(jobs: int) -> Recipe:
        return Recipe(name="toy", defaults=DEFAULTS, stages=[Stage(
            "cmd", argv=["{python}", "-c", script, "{word};$HOME", "--jobs", str(jobs)],
            outputs=["argv.txt"], config_keys=["word"], ignore_args=["--jobs"])])

    assert run(work, recipe=recipe(1)) == 0
    assert (work / "argv.txt").read_text() == "hi;$HOME --jobs 1"
    assert run(work, recipe=recipe(2)) == 0
    assert (work / "argv.txt").read_text() == "hi;$HOME --jobs 1"  # not rerun
    assert run(work, "word=yo", recipe=recipe(2)) == 0
    assert (work / "argv.txt").read_text() == "yo;$HOME --jobs 2"


def test_failing_command_is_one_line_error(work, capsys):
    recipe = Recipe(name="toy", defaults=DEFAULTS, stages=[Stage(
        "cmd", argv=[sys.executable, "-c", "raise SystemExit(3)"], outputs=["x"])])
    assert run(work, recipe=recipe) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exited with status 3" in err


@pytest.mark.parametrize("args, message", [
    (["--stag", "2"], "unknown option --stag (did you mean '--stage'?)"),
    (["--dryrun"], "unknown option --dryrun (did you mean '--dry-run'?)"),
    (["--start-stage", "2"], "option --start-stage was renamed to --stage"),
    (["--stages", "uper"], "unknown stage 'uper' (did you mean 'upper'?)"),
    (["--stage", "1", "--stages", "make"], "use either --stages or --stage/--stop-stage"),
    (["--stage", "3", "--stop-stage", "1"], "comes after --stop-stage"),
    (["wrod=x"], "unknown key 'wrod' (did you mean 'word'?)"),
    (["nn=4"], "'nn' was renamed to 'n'"),
    (["opt.lr=fast"], "'opt.lr' must be a float"),
    (["opt=1"], "'opt' is a section"),
    (["stray"], "unexpected argument 'stray'"),
    (["--stage"], "expected one argument"),
])
def test_bad_command_lines_give_one_line_with_a_hint(work, capsys, args, message):
    assert run(work, *args) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("recipe toy: error: ")
    assert message in captured.err
    assert counts(work) == {}


def test_config_file_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("tag: x\nopt:\n  lr: 0.2\n  dep: {k: 2}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:4: unknown key 'opt.dep' \(did you mean 'opt.deep'\?\)"):
        load_config(bad, DEFAULTS)
    bad.write_text("tag: x\nn: [1,\n")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: "):
        load_config(bad, DEFAULTS)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad, DEFAULTS)
    bad.write_text("n: three\n")
    with pytest.raises(ConfigError, match=r"c.yaml:1: key 'n' must be a int"):
        load_config(bad, DEFAULTS)
    bad.write_text("x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError):
        load_config(bad, DEFAULTS)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", DEFAULTS)


def test_config_merge_and_overrides():
    config = apply_overrides(DEFAULTS, ["opt.deep.k=5", "word=a b", "opt.lr=1"])
    assert config["opt"] == {"lr": 1, "deep": {"k": 5}} and config["word"] == "a b"
    assert DEFAULTS["opt"]["deep"]["k"] == 1  # defaults untouched


def test_bad_tag_is_refused(work, capsys):
    assert run(work, "tag=../escape") == 2
    assert "tag '../escape'" in capsys.readouterr().err


def test_lock_refuses_a_second_concurrent_run(work, capsys):
    with workdir_lock(work / "exp" / ".lock"):
        assert run(work) == 2
    assert "another recipe run is using this work dir" in capsys.readouterr().err
    assert run(work) == 0


def test_clean_outputs_removes_partial_results(work):
    seen = {}

    def make(ctx):
        seen["stale"] = (ctx.path("out") / "partial.bin").exists()
        ctx.path("out").mkdir()
        (ctx.path("out") / "words.txt").write_text("x\n")

    (work / "out").mkdir()
    (work / "out" / "partial.bin").write_text("half")
    recipe = Recipe(name="toy", defaults=DEFAULTS, stages=[
        Stage("make", func=make, outputs=["out"], clean_outputs=True)])
    assert run(work, recipe=recipe) == 0
    assert seen == {"stale": False}


def test_clean_outputs_refuses_paths_outside_the_workdir(work, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "keep.txt").write_text("mine")
    recipe = Recipe(name="toy", defaults=DEFAULTS, stages=[
        Stage("make", func=lambda ctx: None, outputs=[str(outside)], clean_outputs=True)])
    with pytest.raises(ValueError, match="not inside the work dir"):
        run(work, recipe=recipe)
    assert (outside / "keep.txt").read_text() == "mine"


def test_func_stage_runs_in_the_workdir(work):
    where = {}
    recipe = Recipe(name="toy", defaults=DEFAULTS, stages=[
        Stage("make", func=lambda ctx: where.setdefault("cwd", Path.cwd()) and Path("o").touch(),
              outputs=["o"])])
    cwd = Path.cwd()
    assert run(work, recipe=recipe) == 0
    assert where["cwd"] == work.resolve() and Path.cwd() == cwd


def test_fingerprint_of_folders(tmp_path):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("a")
    first = fingerprint_path(d, "content")
    (d / ".b.txt.tmp").write_text("temp of an atomic write")
    assert fingerprint_path(d, "content") == first
    (d / "sub" / "a.txt").rename(d / "sub" / "b.txt")
    renamed = fingerprint_path(d, "content")
    assert renamed != first
    (d / "c.txt").write_text("")
    assert fingerprint_path(d, "content") != renamed
    assert fingerprint_path(tmp_path / "absent") is None


def test_recipe_definition_errors():
    with pytest.raises(ValueError, match="exactly one of func or argv"):
        Stage("x")
    with pytest.raises(ValueError, match="must match"):
        Stage("Bad Name", func=print)
    with pytest.raises(ValueError, match="duplicate"):
        Recipe(name="r", stages=[Stage("a", func=print), Stage("a", func=print)])
    with pytest.raises(ValueError, match="must increase"):
        Recipe(name="r", stages=[Stage("a", func=print, number=5), Stage("b", func=print, number=2)])
    assert issubclass(RecipeError, AudiokitError)
