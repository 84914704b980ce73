"""Import problems. Each names what is wrong and where (file, row, field) in words a data owner can act on."""

import re

from geo import messages

# An absolute path (two or more parts) in a library's message: GDAL, pyogrio and rasterio name the file they
# opened by where it lies on the server (upload folder, work folder, MEDIA_ROOT); users know it by its name.
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s'\"/:,;()\[\]<>]+/)+([^\s'\"/:,;()\[\]<>]*)")


def without_server_paths(text: str) -> str:
    """The text with every absolute path replaced by its last part (the file's own name)."""
    return _SERVER_PATH.sub(lambda m: m.group(1) or "(folder)", text)


class ImportProblem(Exception):
    """Bad input: the import stops, nothing is kept, the message goes to the user (HTTP 400 from the API).

    The message is a msgid (zh-Hant, translated in locale/) with {named} fields given as keyword arguments, so the
    job keeps it and each reader sees it in their own language (geo.messages)."""

    def __init__(self, message: str, *, file: str = "", rows: list[int] | None = None, field: str = "", **params):
        self.file = file
        self.rows = rows or []
        self.field = field
        self.params = params
        super().__init__(message)

    def text(self) -> dict:
        """The message to keep: the file it names in front."""
        inner = messages.text(self.args[0], **self.params)
        if self.file and not self.args[0].startswith(self.file):
            return messages.text("{file}：{text}", file=self.file, text=inner)
        return inner

    def as_dict(self) -> dict:
        kept = self.text()
        # `message` in English for the server's log and the batch command; readers get msgid + params worded
        out = {"message": messages.in_english(kept), **kept}
        if self.file:
            out["file"] = self.file
        if self.rows:
            out["rows"] = self.rows
        if self.field:
            out["field"] = self.field
        return out

    def as_answer(self) -> dict:
        """For an API answer now: the message in the request's language, with file, rows and field."""
        return {**{k: v for k, v in self.as_dict().items() if k not in ("msgid", "params")}, "message": str(self)}

    def __str__(self):
        return messages.render(self.text())


class NeedsCRS(ImportProblem):
    """The data has no CRS and nothing hints at one: ask the user rather than guess."""


def human_size(size: int) -> dict:
    """'2.0 GiB', '15 MiB' or '120 bytes': a limit of a few bytes (a test's) must not read '0 MiB'."""
    if size >= 2**30:
        return messages.text("{n} GiB", n=f"{size / 2**30:,.1f}")
    if size >= 2**20:
        return messages.text("{n} MiB", n=f"{size / 2**20:,.0f}")
    return messages.text("{n} 位元組", n=f"{size:,}")


def row_list(rows: list[int], limit: int = 10, noun: str = "row") -> dict:
    """'rows 3, 7, 12' or 'rows 3, 7, … (25 in all)' (or 'features …'), in the reader's language."""
    shown = ", ".join(map(str, rows[:limit]))
    many = len(rows) > limit
    if noun == "row":
        if many:
            return messages.text("第 {rows}, … 列（共 {n} 列）", rows=shown, n=len(rows))
        if len(rows) > 1:
            return messages.text("第 {rows} 列（共 {n} 列）", rows=shown, n=len(rows))
        return messages.text("第 {row} 列", row=shown)
    if many:
        return messages.text("第 {rows}, … 筆圖徵（共 {n} 筆）", rows=shown, n=len(rows))
    if len(rows) > 1:
        return messages.text("第 {rows} 筆圖徵", rows=shown)
    return messages.text("第 {row} 筆圖徵", row=shown)
