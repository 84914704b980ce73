"""The city's street grid and its cadastre as one conforming mesh.

Road centre lines form a gently warped lattice. Each road line is doubled into its two kerb lines, so the
plane splits into cells of three kinds: intersections, road segments and blocks. Every cell is subdivided on
a global tensor-product "fine grid" (each block column has its own number of splits, each block row too), and
a parcel is a rectangle of fine cells. Because every parcel's ring walks the same fine-grid points as its
neighbours', parcels share boundaries vertex for vertex: no gaps, no overlaps, no slivers.
"""

from dataclasses import dataclass

import numpy as np
import shapely

# Road classes by position of the line in the lattice: (class code, zh name, width range m, lanes, km/h)
ARTERIAL = ("arterial", "主要幹道", (30.0, 40.0), 6, 60)
COLLECTOR = ("collector", "次要幹道", (18.0, 24.0), 4, 50)
LOCAL = ("local", "地方道路", (8.0, 12.0), 2, 40)


def road_class(line: int) -> tuple:
    if line % 8 == 4:
        return ARTERIAL
    if line % 4 == 2:
        return COLLECTOR
    return LOCAL


@dataclass
class Lattice:
    nx: int  # block columns
    ny: int  # block rows
    centres: np.ndarray  # (nx+1, ny+1, 2) road intersection centres
    road_width_x: np.ndarray  # (nx+1,) width of each north-south road line
    road_width_y: np.ndarray  # (ny+1,) width of each east-west road line
    fine: np.ndarray  # (FX+1, FY+1, 2) fine grid points
    fx0: np.ndarray  # (2nx+2,) first fine x-index of each doubled column; fx0[-1] = FX
    fy0: np.ndarray  # (2ny+2,)

    def cell_span(self, a: int, b: int) -> tuple[int, int, int, int]:
        """Fine-index rectangle (i0, i1, j0, j1) of doubled cell (a, b)."""
        return int(self.fx0[a]), int(self.fx0[a + 1]), int(self.fy0[b]), int(self.fy0[b + 1])

    def cell_quad(self, a: int, b: int) -> np.ndarray:
        i0, i1, j0, j1 = self.cell_span(a, b)
        return self.fine[[i0, i1, i1, i0], [j0, j0, j1, j1]]

    def polygons(self, spans: np.ndarray) -> np.ndarray:
        """Polygons around fine rectangles [i0,i1]×[j0,j1] (rows of spans), each ring counter-clockwise through
        every grid point on its boundary. Rectangles of one size share an index template: no per-parcel loop."""
        w = spans[:, 1] - spans[:, 0]
        h = spans[:, 3] - spans[:, 2]
        polys = np.empty(len(spans), dtype=object)
        for size in np.unique(np.stack([w, h], axis=1), axis=0):
            sel = np.flatnonzero((w == size[0]) & (h == size[1]))
            di, dj = _ring_template(*size)
            ii = spans[sel, 0, None] + di[None, :]
            jj = spans[sel, 2, None] + dj[None, :]
            polys[sel] = shapely.polygons(self.fine[ii, jj])
        return polys


def build_lattice(rng: np.random.Generator, nx: int, ny: int, origin: tuple[float, float]) -> Lattice:
    block_w = rng.uniform(110.0, 210.0, nx)
    block_h = rng.uniform(85.0, 150.0, ny)
    road_wx = np.array([rng.uniform(*road_class(k)[2]) for k in range(nx + 1)]).round()
    road_wy = np.array([rng.uniform(*road_class(k)[2]) for k in range(ny + 1)]).round()

    xc = np.concatenate([[0.0], np.cumsum(road_wx[:-1] / 2 + block_w + road_wx[1:] / 2)])
    yc = np.concatenate([[0.0], np.cumsum(road_wy[:-1] / 2 + block_h + road_wy[1:] / 2)])
    xc += origin[0] - xc[-1] / 2
    yc += origin[1] - yc[-1] / 2

    # A smooth warp bends the streets; a small jitter keeps every block a little irregular.
    gx, gy = np.meshgrid(xc, yc, indexing="ij")
    span = max(xc[-1] - xc[0], yc[-1] - yc[0])
    phase = rng.uniform(0, 2 * np.pi, 4)
    amp = min(60.0, 0.01 * span + 15.0)
    warp_x = amp * np.sin(2 * np.pi * gy / 2300.0 + phase[0]) + 0.5 * amp * np.sin(2 * np.pi * gx / 3700.0 + phase[1])
    warp_y = amp * np.sin(2 * np.pi * gx / 2900.0 + phase[2]) + 0.5 * amp * np.sin(2 * np.pi * gy / 4100.0 + phase[3])
    jitter = np.clip(rng.normal(0.0, 4.0, (nx + 1, ny + 1, 2)), -9.0, 9.0)
    centres = np.stack([gx + warp_x, gy + warp_y], axis=-1) + jitter

    # Doubled lattice: the four kerb corners of every intersection move with its centre.
    corners = np.empty((2 * nx + 2, 2 * ny + 2, 2))
    for sx in (0, 1):
        for sy in (0, 1):
            off = np.stack(np.meshgrid((sx - 0.5) * road_wx, (sy - 0.5) * road_wy, indexing="ij"), axis=-1)
            corners[sx::2, sy::2] = centres + off

    # Splits per doubled column/row: roads are one cell wide; blocks are cut into lots 30–55 m across.
    lot_w = rng.uniform(30.0, 55.0, nx)
    lot_h = rng.uniform(32.0, 50.0, ny)
    nsub_x = np.ones(2 * nx + 1, dtype=int)
    nsub_y = np.ones(2 * ny + 1, dtype=int)
    nsub_x[1::2] = np.maximum(2, np.round(block_w / lot_w)).astype(int)
    nsub_y[1::2] = np.maximum(2, np.round(block_h / lot_h)).astype(int)
    fx0 = np.concatenate([[0], np.cumsum(nsub_x)])
    fy0 = np.concatenate([[0], np.cumsum(nsub_y)])

    ca, cu = _fine_params(nsub_x)
    cb, cv = _fine_params(nsub_y)
    A, B = np.meshgrid(ca, cb, indexing="ij")
    U, V = np.meshgrid(cu, cv, indexing="ij")
    U, V = U[..., None], V[..., None]
    fine = ((1 - U) * (1 - V) * corners[A, B] + U * (1 - V) * corners[A + 1, B]
            + U * V * corners[A + 1, B + 1] + (1 - U) * V * corners[A, B + 1])
    return Lattice(nx, ny, centres, road_wx, road_wy, fine, fx0, fy0)


def _ring_template(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Index offsets of a w×h rectangle's boundary, counter-clockwise from its lower-left corner, closed."""
    di = np.concatenate([np.arange(w), np.full(h, w), np.arange(w, 0, -1), np.zeros(h, int), [0]])
    dj = np.concatenate([np.zeros(w, int), np.arange(h), np.full(w, h), np.arange(h, 0, -1), [0]])
    return di, dj


def _fine_params(nsub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every fine line: the doubled cell it starts in and its position 0 ≤ t < 1 across it."""
    cells = np.repeat(np.arange(len(nsub)), nsub)
    t = np.concatenate([np.arange(n) / n for n in nsub])
    return np.append(cells, len(nsub) - 1), np.append(t, 1.0)
