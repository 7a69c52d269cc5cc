"""The benchmarks as a user runs them (python -m benchmarks.<name>), their results files' schema, their page in
docs/, and a house rule the AST can check: no module takes another's private name."""

from __future__ import annotations

import ast
import json
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


def markdown_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors: each heading lower-cased, its punctuation dropped, spaces made hyphens; repeats numbered."""
    anchors: set[str] = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"#+ (.*)", line):
            anchor = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            numbered, count = anchor, 0
            while numbered in anchors:
                count += 1
                numbered = f"{anchor}-{count}"
            anchors.add(numbered)
    return anchors


@pytest.mark.parametrize("page", ["docs/benchmarks.md", "docs/benchmarks-archive.md"])
def test_the_benchmark_pages_links_lead_somewhere(page):
    source = REPO / page
    broken = []
    for link in markdown_links(source):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (source.parent / target).resolve() if target else source
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in heading_anchors(path)):
            broken.append(link)
    assert not broken, broken


def test_the_current_figures_link_their_raw_data():
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    table = page.split("## Current figures", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert len(rows) >= 10
    linked = {link for row in rows for link in re.findall(r"\]\((measurements/[^)]+\.json)\)", row)}
    assert {"measurements/2026-12-05-cpu-qa.json", "measurements/2026-11-22-2xh200-parallel.json"} <= linked
    for link in linked:
        json.loads((REPO / "docs" / link).read_text(encoding="utf-8"))  # raw data a reader can load


def test_the_page_says_how_to_run_every_benchmark():
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    missing = [name for name in BENCHMARKS if f"python -m benchmarks.{name}" not in page]
    assert not missing, missing
