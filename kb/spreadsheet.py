"""CSV that people open in a spreadsheet: no cell someone typed may run as a formula there."""
import csv
import io

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text):
    """A cell as written: text that a spreadsheet would read as a formula gets a leading apostrophe."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def to_csv(header, rows):
    """CSV text of a header and rows, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()
