"""Import problems. Each names what is wrong and where (file, row, field) in words a data owner can act on."""


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
        text = self.args[0]
        return f"{self.file}: {text}" if self.file and not text.startswith(self.file) else text


class NeedsCRS(ImportProblem):
    """The data has no CRS and nothing hints at one: ask the user rather than guess."""


def row_list(rows: list[int], limit: int = 10) -> str:
    """'rows 3, 7, 12' or 'rows 3, 7, … (25 in all)'."""
    shown = ", ".join(map(str, rows[:limit]))
    more = f", … ({len(rows)} in all)" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"
