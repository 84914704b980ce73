"""A colour for each new layer, so that uploads do not all arrive in the same default blue: the first colour of a
qualitative palette that the layers on the user's map (or, not told, the user's latest layers) do not use."""

import re

from .models import Style

# ColorBrewer Dark2 and the strong half of Paired: each readable as a fill on a light basemap and as a line
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#e31a1c",
           "#6a3d9a", "#33a02c", "#ff7f00"]
HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
RECENT = len(PALETTE)  # without a map to look at: as many of the user's latest layers as there are colours


NEAR = 80  # RGB distance under which two colours read as the same on a map (#33a02c and #1b9e77: 55)


def _rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _near(a: str, b: str) -> bool:
    return sum((x - y) ** 2 for x, y in zip(_rgb(a), _rgb(b), strict=True)) ** 0.5 < NEAR


def pick(avoid: list[str], count: int = 1) -> list[str]:
    """`count` colours, each unlike those in `avoid` and the ones picked before it; when every colour is taken, the
    least taken ones (in palette order)."""
    taken = [c.lower() for c in avoid if HEX.match(c)]
    picked = []
    for _ in range(count):
        colour = min(PALETTE, key=lambda c: (sum(_near(c, t) for t in taken), PALETTE.index(c)))
        picked.append(colour)
        taken.append(colour)
    return picked


def colours_of_latest_layers(user) -> list[str]:
    """The fill colours of the user's latest layers (for an upload that does not say what its map shows)."""
    if not (user and user.is_authenticated):
        return []
    return list(Style.objects.filter(layer__created_by=user).order_by("-layer__created_at")
                .values_list("fill_color", flat=True)[:RECENT])


def outline_of(colour: str) -> str:
    """A darker shade of a fill for its outline."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{int(v * 0.62):02x}" for v in rgb)
