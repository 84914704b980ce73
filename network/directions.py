"""Turn-by-turn directions (路線指引) for a path, in Traditional Chinese and English: consecutive edges of one
road are one step; the turn into the next is read from the change of heading where they meet; distances in
metres (kilometres from 1 km), times in minutes."""

import math

import numpy as np
import shapely

STRAIGHT_DEG, SLIGHT_DEG, SHARP_DEG = 20, 60, 150
UNNAMED = {"zh": "無名道路", "en": "an unnamed road"}
TURNS = {  # key → (zh, en)
    "straight": ("直行", "Continue straight"),
    "slight_left": ("稍向左", "Bear left"), "slight_right": ("稍向右", "Bear right"),
    "left": ("左轉", "Turn left"), "right": ("右轉", "Turn right"),
    "u_turn": ("迴轉", "Make a U-turn"),
}


def distance_text(metres: float) -> tuple[str, str]:
    if metres < 1000:
        value = f"{max(1, round(metres)):,}"
        return f"{value} 公尺", f"{value} m"
    return f"{metres / 1000:.1f} 公里", f"{metres / 1000:.1f} km"


def time_text(seconds: float) -> tuple[str, str]:
    if seconds < 60:
        return "不到 1 分鐘", "under 1 min"
    value = f"{seconds / 60:.0f}"
    return f"約 {value} 分鐘", f"about {value} min"


def _heading(coords: np.ndarray, at_end: bool) -> float:
    """Degrees counter-clockwise from east of the first (or last) non-zero segment."""
    pairs = zip(coords[:-1], coords[1:], strict=True)
    for a, b in (reversed(list(pairs)) if at_end else pairs):
        if not np.allclose(a, b):
            return math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
    return 0.0


def turn(before: np.ndarray, after: np.ndarray) -> str:
    change = (_heading(after, False) - _heading(before, True) + 180) % 360 - 180  # > 0: to the left
    size = abs(change)
    if size < STRAIGHT_DEG:
        return "straight"
    if size >= SHARP_DEG:
        return "u_turn"
    side = "left" if change > 0 else "right"
    return f"slight_{side}" if size < SLIGHT_DEG else side


def steps(path: list[dict]) -> list[dict]:
    """Steps of one leg: road name, metres, seconds, the turn into it and its line (working CRS)."""
    out: list[dict] = []
    for edge in path:
        coords = shapely.get_coordinates(shapely.from_wkb(edge["wkb"]))
        if out and out[-1]["road"] == edge["name"]:
            step = out[-1]
            step["coords"] = np.vstack([step["coords"], coords[1:]])
            step["metres"] += edge["metres"]
            step["seconds"] += edge["seconds"]
            continue
        out.append({"road": edge["name"], "metres": edge["metres"], "seconds": edge["seconds"], "coords": coords,
                    "turn": turn(out[-1]["coords"], coords) if out else "start"})
    return out


def worded(step: dict, stop_names: tuple[str, str]) -> tuple[str, str]:
    """The instruction of a step in both languages."""
    road_zh, road_en = (step["road"], step["road"]) if step["road"] else (UNNAMED["zh"], UNNAMED["en"])
    dist_zh, dist_en = distance_text(step["metres"])
    time_zh, time_en = time_text(step["seconds"])
    if step["turn"] == "start":
        return (f"從 {stop_names[0]} 出發，沿{road_zh}行駛 {dist_zh}（{time_zh}）",
                f"From {stop_names[0]}, head along {road_en} for {dist_en} ({time_en})")
    zh, en = TURNS[step["turn"]]
    return (f"{zh}進入{road_zh}，行駛 {dist_zh}（{time_zh}）", f"{en} onto {road_en} for {dist_en} ({time_en})")


def arrival(stop_name: str, leg: int, last: bool) -> tuple[str, str]:
    if last:
        return f"抵達終點 {stop_name}", f"Arrive at {stop_name}, the last stop"
    return f"抵達第 {leg + 1} 站 {stop_name}", f"Arrive at stop {leg + 1}, {stop_name}"
