"""The benchmarks as a user runs them (python -m benchmarks.<name>), their results files' schema, and a house
rule the AST can check: no module takes another's private name."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmarks.harness import SCHEMA, Results, ResultsFile, out_option
from tests.conftest import REPO

BENCHMARKS = sorted(path.stem for path in (REPO / "benchmarks").glob("*.py")
                    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"))
FIRST_PARTY = ("render_pipeline", "benchmarks", "tests")


def test_the_benchmarks_are_found():
    assert {"bench_speed", "bench_qa", "bench_validate", "make_random_model_folder"} <= set(BENCHMARKS)
    assert "harness" not in BENCHMARKS and "random_models" not in BENCHMARKS


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_prints_its_help(name):
    """From the repository's root, as docs/benchmarks.md runs them; CI's first stage, which has no torch, too."""
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("usage: ") and "--out" in done.stdout


def test_the_harness_writes_a_results_file_in_the_schema(tmp_path):
    out = tmp_path / "results.json"
    record = Results("benchmarks/bench_example.py", out, ["--steps", "2"], settings={"steps": 2})
    record.save([{"case": "a", "seconds": 1.5}])
    record.save([{"case": "a", "seconds": 1.5}, {"case": "b", "seconds": 2.5}])  # a run's later saves: the whole file

    written = ResultsFile.model_validate_json(out.read_text(encoding="utf-8"))
    assert (written.schema_version, written.benchmark, written.device) == (SCHEMA, "bench_example", "cpu")
    assert written.command == ["python", "-m", "benchmarks.bench_example", "--steps", "2"]
    assert written.settings == {"steps": 2} and [row["case"] for row in written.results] == ["a", "b"]
    environment = written.environment
    assert datetime.fromisoformat(environment.date).tzinfo is not None
    assert environment.python == ".".join(map(str, sys.version_info[:3]))
    assert environment.cpu and environment.load_average >= 0
    assert environment.packages["numpy"]  # a dependency of the package: always installed
    assert environment.commit is None or re.fullmatch(r"[0-9a-f]{40}", environment.commit)


def test_the_schema_refuses_what_it_does_not_describe(tmp_path):
    document = Results("bench_example.py", None).save({"seconds": 1.0})
    ResultsFile.model_validate(document)
    for broken in ({**document, "schema": 2}, {key: value for key, value in document.items() if key != "device"},
                   {**document, "figures": {}}, {**document, "environment": {**document["environment"], "gpus": "H200"}}):
        with pytest.raises(ValidationError):
            ResultsFile.model_validate(broken)
    with pytest.raises(TypeError):  # not JSON: the file would not be written
        Results("bench_example.py", tmp_path / "r.json").save({"when": datetime.now()})


def test_every_benchmark_takes_out_the_same_way():
    import argparse

    parser = argparse.ArgumentParser()
    out_option(parser, "--json")
    assert parser.parse_args(["--json", "a.json"]).out == Path("a.json")
    for name in BENCHMARKS:
        source = (REPO / "benchmarks" / f"{name}.py").read_text(encoding="utf-8")
        assert "out_option(parser" in source and "Results(__file__" in source, name


def private_imports(path: Path) -> list[str]:
    """``from <ours> import _name`` and ``import <ours>._module`` in ``path``, as "LINE: names"; other libraries'
    private names are theirs to give (FlashAttention-4's kernels, a diffusers registry)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").split(".")[0] in FIRST_PARTY
            private = [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
            modules = (node.module or "").split(".")
        elif isinstance(node, ast.Import):
            ours = any(alias.name.split(".")[0] in FIRST_PARTY for alias in node.names)
            private, modules = [], [part for alias in node.names for part in alias.name.split(".")]
        else:
            continue
        private += [part for part in modules if part.startswith("_") and not part.startswith("__")]
        if ours and private:
            found.append(f"{node.lineno}: {', '.join(private)}")
    return found


def test_no_module_imports_a_private_name_of_another():
    """A name with a leading underscore is its module's own: one that others need is made public."""
    found = [f"{path.relative_to(REPO)}:{line}" for folder in ("render_pipeline", "benchmarks")
             for path in sorted((REPO / folder).rglob("*.py")) for line in private_imports(path)]
    assert not found, "\n".join(found)


def test_the_private_import_check_reads_both_forms(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("from render_pipeline.film.render import _plan, plan\nfrom flash_attn import _fwd\n"
                      "import render_pipeline._hidden\nfrom . import _sibling\n", encoding="utf-8")
    assert private_imports(module) == ["1: _plan", "3: _hidden", "4: _sibling"]


def test_nothing_edits_the_import_path():
    """Benchmarks run as python -m from the repository's root and tests as a package, so each of our modules has
    one name; a test may still put a fake library on the path for itself (monkeypatch.syspath_prepend)."""
    edits = [str(path.relative_to(REPO)) for folder in FIRST_PARTY for path in sorted((REPO / folder).rglob("*.py"))
             if path != Path(__file__).resolve()
             and re.search(r"sys\.path\.(insert|append|extend)", path.read_text(encoding="utf-8"))]
    assert not edits, edits
