"""The ``summary.md`` each notebook ends with: facts, tables, and its figures embedded."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bsrgan.utils.atomic import atomic_write_text

SUMMARY_FILE = "summary.md"


def write_summary(output_dir: str | os.PathLike[str], title: str, *,
                  facts: Sequence[str] = (), sections: Mapping[str, Any] | None = None,
                  figures: Any = None) -> str:
    """Write ``<output_dir>/summary.md`` (atomic) and return its text.

    Args:
        title: the first heading.
        facts: bullet points under the title.
        sections: heading -> a table (``pandas.DataFrame``, written without its index), a list
            of bullet strings, or Markdown text.
        figures: a :class:`bsrgan.plotting.FigureWriter`; every figure it saved is embedded.
    """
    lines = [f"# {title}", ""]
    lines += [f"- {fact}" for fact in facts]
    for heading, body in (sections or {}).items():
        lines += ["", f"## {heading}", ""]
        if hasattr(body, "to_markdown"):
            lines.append(body.to_markdown(index=False))
        elif isinstance(body, (list, tuple)):
            lines += [f"- {item}" for item in body]
        else:
            lines.append(str(body))
    if figures is not None and figures.saved:
        lines += ["", figures.markdown("Figures").rstrip()]
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(output_dir) / SUMMARY_FILE, text)
    return text
