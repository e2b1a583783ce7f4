"""The generated settings docs in the repository match `Settings` (run `luthien settings-docs --write`)."""

from __future__ import annotations

from pathlib import Path

from luthien import settings_docs

ROOT = Path(__file__).parents[2]


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == settings_docs.env_example()


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert readme.count(settings_docs.README_BEGIN) == 1
    assert readme.count(settings_docs.README_END) == 1
    between = readme.split(settings_docs.README_BEGIN, 1)[1].split(settings_docs.README_END, 1)[0]
    assert between.strip() == settings_docs.markdown_table()
    assert settings_docs.readme_with_table(readme) == readme
