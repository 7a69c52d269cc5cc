"""The `prompts` command's human view: one row per shot."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from render_pipeline.prompts.enhance import ShotPrompt


def prompts_table(results: list[ShotPrompt]) -> Table:
    table = Table(show_lines=True)
    table.add_column("shot", no_wrap=True)
    table.add_column("prompt as written", ratio=1)
    table.add_column("prompt the backend sees", ratio=2)
    table.add_column("on-screen text / warnings", ratio=1)
    for result in results:
        # Text(), not markup strings: a prompt may contain "[brackets]".
        notes = Text()
        for text in result.extracted_text:
            notes.append(f'"{text}"\n', style="bold")
        for warning in result.warnings:
            notes.append("warning: ", style="yellow")
            notes.append(f"{warning}\n")
        notes.rstrip()
        table.add_row(Text(result.id), Text(result.original), Text(result.enhanced), notes)
    return table
