"""Importing a hotline system's CSV/XLSX/ODS export: as a new event layer, or into an event layer (new cases added,
known case numbers updated). The file is read by the statistics importer's grid readers (stats.readers: encodings,
spreadsheets); events.records maps its columns and checks its rows; events.store writes."""

from pathlib import Path

from django.db import transaction

from layers.importing.errors import ImportProblem
from stats.readers import raw_rows

from . import records, store
from .models import EventLayer
from .records import CategoryMatcher, Report

FORMATS = {".csv", ".txt", ".xlsx", ".ods"}


class NothingImported(Exception):
    """No row could be imported: the answer is a 4xx with the report."""

    def __init__(self, report: dict):
        self.report = report
        super().__init__("nothing imported")


def read_rows(path: Path, name: str) -> tuple[dict, list[str], list[tuple[int, list]], list]:
    """(field → column, header, data rows, notes) of an export; a header-less Tainan 1999 export by position."""
    if path.suffix.lower() not in FORMATS:
        raise ImportProblem("不支援的事件檔案格式 {ext}；請用 CSV、XLSX 或 ODS", ext=path.suffix or "?", file=name)
    rows = [(line, list(cells)) for line, cells in raw_rows(path, name)
            if any(str(c).strip() for c in cells if c is not None)]
    if not rows:
        raise ImportProblem("檔案沒有任何資料列", file=name)
    for pos, (_line, cells) in enumerate(rows[:5]):
        mapping = records.map_columns([str(c) for c in cells])
        if mapping is not None:
            return mapping, [str(c) for c in cells], rows[pos + 1:], []
    if rows and records.looks_like_open311(rows[0][1]):
        header = records.OPEN311_TAINAN + [f"column_{i + 1}" for i in range(len(records.OPEN311_TAINAN),
                                                                               max(len(r) for _n, r in rows))]
        return (records.map_columns(header), header, rows,
                [records.HEADERLESS_NOTE])
    raise ImportProblem("找不到案件欄位：需要受理時間（受理時間、受理日期 …）或案件編號（案件編號 …）欄位", file=name)


def import_file(path: Path, name: str, user, event_layer: EventLayer | None = None, options: dict | None = None):
    """Import one export; returns (layer, report). Raises ImportProblem (unreadable) or NothingImported."""
    mapping, header, rows, notes = read_rows(path, name)
    report = Report(notes=notes)
    if event_layer is None:
        matcher = CategoryMatcher({}, open_list=True)
    else:
        known = {c.code: (c.label_zh, c.label_en) for c in event_layer.categories.all()}
        matcher = CategoryMatcher(known, open_list=not known)
    events = records.events_from_rows(mapping, rows, header, matcher, report)
    store.locate(events, user)
    located = [e for e in events if not e.unlocated]
    answer = report.as_dict()
    answer["located"] = len(located)
    answer["unlocated"] = _unlocated(events)
    answer["levels"] = _levels(located)
    answer["categories_added"] = matcher.added
    if not located and (event_layer is None or not events):
        raise NothingImported({**answer, "imported": 0})
    if event_layer is None:
        layer, _job = store.create_layer(events, name, options or {}, user, matcher.known)
        answer.update(imported=len(located), added=len(located), updated=0)
        return layer, answer
    with transaction.atomic():
        store.set_categories(event_layer, {c: matcher.known[c] for c in matcher.added})
        counts = store.upsert(event_layer, events, name, by=user.get_username() if user else "")
    answer.update(imported=counts["added"] + counts["updated"], **counts)
    return event_layer.layer, answer


def _unlocated(events) -> dict:
    out = {}
    for e in events:
        if e.unlocated:
            item = out.setdefault(e.unlocated, {"reason": e.unlocated,
                                                "message": str(records.UNLOCATED_REASONS[e.unlocated]),
                                                "count": 0, "rows": []})
            item["count"] += 1
            if len(item["rows"]) < 100:
                item["rows"].append(e.row)
    return {"count": sum(v["count"] for v in out.values()), "reasons": list(out.values())}


def _levels(located) -> dict:
    out = {}
    for e in located:
        out[e.level] = out.get(e.level, 0) + 1
    return out
