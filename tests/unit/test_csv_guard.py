"""A CSV download is safe to open in a spreadsheet: no cell it writes can run as a formula (OWASP's CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest

from audit.csv_export import PIECE, neutralise, stream


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("a=1", "a=1"),
        ("web-01", "web-01"),
        ("", ""),
        (None, ""),
        (22, "22"),
        (-3, "'-3"),
        # lookalikes a spreadsheet may take the same way: full-width, small and superscript forms, the minus sign, line ends
        ("＝1+1", "'＝1+1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠SUM(A1)", "'＠SUM(A1)"),
        ("﹦1", "'﹦1"),
        ("⁼1", "'⁼1"),
        ("\u22121", "'\u22121"),
        ("\x0b=1", "'\x0b=1"),
        ("\u2028=1", "'\u2028=1"),
        ("a＝1", "a＝1"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_stays_text(value, cell):
    assert neutralise(value) == cell


def _read(pieces: list[str]) -> list[list[str]]:
    text = "".join(pieces)
    assert text.startswith("\ufeff")  # read as UTF-8 by spreadsheet programs
    return list(csv.reader(io.StringIO(text[1:])))


def test_every_cell_of_a_download_is_neutralised_the_header_first():
    rows = [["=cmd|' /C calc'!A0", "+1", "ok"], [None, -5, 7], ["@x", "", "b-c"]]
    lines = _read(list(stream(["Time", "Actor", "Action"], rows)))
    assert lines == [
        ["Time", "Actor", "Action"],
        ["'=cmd|' /C calc'!A0", "'+1", "ok"],
        ["", "'-5", "7"],
        ["'@x", "", "b-c"],
    ]


def test_a_long_download_comes_in_pieces_with_every_row_once():
    rows = [[f"=row {n}", "x" * 100] for n in range(1000)]  # about 110 KB: several pieces
    pieces = list(stream(["A", "B"], rows))
    assert len(pieces) > 3 and all(len(p) < 2 * PIECE for p in pieces)
    assert _read(pieces) == [["A", "B"], *([f"'=row {n}", "x" * 100] for n in range(1000))]


def test_a_download_with_no_rows_is_its_header_alone():
    assert _read(list(stream(["A"], []))) == [["A"]]
