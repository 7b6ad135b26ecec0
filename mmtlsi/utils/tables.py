"""Tables of measured rows, as Markdown or aligned text."""
from __future__ import annotations

from typing import Sequence

__all__ = ['render_table']


def render_table(header: Sequence, rows: Sequence[Sequence],
                 fmt: str = 'text') -> str:
    """``rows`` under ``header`` as a Markdown table (first column left,
    the others right-aligned) or as aligned plain text between rules."""
    header = [str(h) for h in header]
    rows = [[str(c) for c in r] for r in rows]
    if fmt == 'markdown':
        lines = ['| ' + ' | '.join(header) + ' |',
                 '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
        lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
        return '\n'.join(lines)
    if fmt != 'text':
        raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        return '  '.join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    sep = '-' * len(line(header))
    return '\n'.join([sep, line(header), sep] + [line(r) for r in rows]
                     + [sep])
