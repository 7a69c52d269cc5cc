"""CI runs the README's "Try it" commands as they are written, so what a new user types is what CI checks."""

import re

from tests.conftest import REPO


def try_it_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```\n(.*?)\n```$", section, flags=re.MULTILINE | re.DOTALL)


def test_ci_runs_the_readme_set_up_line_and_test_command_verbatim():
    set_up, test = try_it_commands()[:2]
    assert set_up.startswith("python3 -m venv .venv && ") and "render-pipeline render-all " in set_up
    assert test.startswith("python -m pytest")
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert set_up in ci_lines and test in ci_lines, "copy the README's two commands into .ci/run's stage 1"
    assert ci_lines.index(set_up) < ci_lines.index(test)
