"""Import problems. Each names what is wrong and where (file, row, field) in words a data owner can act on."""

import re

# An absolute path (two or more parts) in a library's message: GDAL, pyogrio and rasterio name the file they
# opened by where it lies on the server (upload folder, work folder, MEDIA_ROOT); users know it by its name.
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"/:,;()\[\]<>]+/)+([^\s'\"/:,;()\[\]<>]*)")


def without_server_paths(text: str) -> str:
    """The text with every absolute path replaced by its last part (the file's own name)."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "(folder)", text)


class ImportProblem(Exception):
    """Bad input: the import stops, nothing is kept, the message goes to the user (HTTP 400 from the API)."""

    def __init__(self, message: str, *, file: str = "", rows: list[int] | None = None, field: str = ""):
        self.file = file
        self.rows = rows or []
        self.field = field
        super().__init__(message)

    def as_dict(self) -> dict:
        out = {"message": str(self)}
        if self.file:
            out["file"] = self.file
        if self.rows:
            out["rows"] = self.rows
        if self.field:
            out["field"] = self.field
        return out

    def __str__(self):
        text = without_server_paths(self.args[0])
        return f"{self.file}: {text}" if self.file and not text.startswith(self.file) else text


class NeedsCRS(ImportProblem):
    """The data has no CRS and nothing hints at one: ask the user rather than guess."""


def human_size(size: int) -> str:
    """'2.0 GiB', '15 MiB' or '120 bytes': a limit of a few bytes (a test's) must not read '0 MiB'."""
    if size >= 2**30:
        return f"{size / 2**30:,.1f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:,.0f} MiB"
    return f"{size:,} bytes"


def row_list(rows: list[int], limit: int = 10, noun: str = "row") -> str:
    """'rows 3, 7, 12' or 'rows 3, 7, … (25 in all)' (or 'features …')."""
    shown = ", ".join(map(str, rows[:limit]))
    more = f", … ({len(rows)} in all)" if len(rows) > limit else ""
    return f"{noun}{'s' if len(rows) > 1 else ''} {shown}{more}"
