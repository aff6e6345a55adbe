"""The README's settings table is generated from Settings; it must not drift."""

from __future__ import annotations

from pathlib import Path

from wirepost.config import settings_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_settings():
    text = README.read_text()
    start = text.index("<!-- settings:start -->") + len("<!-- settings:start -->\n")
    end = text.index("<!-- settings:end -->")
    assert text[start:end].strip() == settings_markdown(), (
        "regenerate the table: python -c 'from wirepost.config import settings_markdown; "
        "print(settings_markdown())'"
    )
