"""The course map on the landing page, read from ``_toc.yml`` and each chapter's title and
"Learning objectives" (so the map never drifts from the chapters).

A lecture's objectives are the bullet items of its admonition ``:::{admonition} Learning
objectives`` (closed by ``:::``); a bullet may run over several lines (docs/AUTHORING.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from course_utils.authoring import chapters as course_chapters
from course_utils.links import colab_url


def chapter_summary(md_path: Path) -> tuple[str, list[str]]:
    """The title and the objectives (bullet items of the "Learning objectives" admonition)."""
    text = Path(md_path).read_text()
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), md_path.stem)
    block = re.search(r":::\{admonition\} Learning objectives(.*?)\n:::", text, re.S)
    objectives = re.findall(r"^- (.+?)(?=\n- |\n\n|\Z)", block.group(1), re.S | re.M) if block else []
    return title, [" ".join(o.split()) for o in objectives]


def course_map_markdown(root: Path | str = "..") -> str:
    """Markdown: each part of the table of contents with its chapters, objectives and Colab links."""
    import yaml

    root = Path(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    lines = []
    for part in toc["parts"]:
        chapters = [course_chapters.parse(c["file"]) for c in part.get("chapters", [])]
        chapters = [c for c in chapters if c is not None]
        if not chapters:
            continue
        lines += [f"### {part['caption']}", ""]
        for chapter in chapters:
            title, objectives = chapter_summary(root / chapter.lecture)
            notebooks = ", ".join(f"[{kind}]({colab_url(path)})" for kind, path in chapter.notebooks().items())
            lines.append(f"**[{title}]({chapter.name}.md)** (open in Colab: {notebooks})")
            lines.append("")
            lines += [f"- {objective}" for objective in objectives]
            lines.append("")
    return "\n".join(lines)
