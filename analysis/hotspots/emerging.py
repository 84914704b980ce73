"""Emerging hot spot analysis on a space-time cube (locations × time steps), after Esri's Emerging Hot Spot
Analysis ("How Emerging Hot Spot Analysis works", ArcGIS Pro): Gi* per bin with space-time neighbours
(stats.space_time_gi_star), hot and cold bins at a confidence level with the false-discovery-rate correction, the
Mann-Kendall trend of each location's Gi* z-scores (the intensity of clustering) and of its counts, and one of
Esri's 17 categories per location.

Esri's definitions, quoted (hot spots; cold spots read the same with hot and cold swapped, "high" with "low"):

* No pattern detected — "Does not fall into any of the hot or cold spot patterns defined below."
* New hot spot — "A location that is a statistically significant hot spot for the final time step and has never
  been a statistically significant hot spot before."
* Consecutive hot spot — "A location with a single uninterrupted run of at least two statistically significant hot
  spot bins in the final time-step intervals. The location has never been a statistically significant hot spot
  prior to the final hot spot run and less than 90 percent of all bins are statistically significant hot spots."
* Intensifying hot spot — "A location that has been a statistically significant hot spot for 90 percent of the
  time-step intervals, including the final time step. In addition, the intensity of clustering of high counts in
  each time step is increasing overall and that increase is statistically significant."
* Persistent hot spot — "A location that has been a statistically significant hot spot for 90 percent of the
  time-step intervals with no discernible trend in the intensity of clustering over time."
* Diminishing hot spot — "A location that has been a statistically significant hot spot for 90 percent of the
  time-step intervals, including the final time step. In addition, the intensity of clustering in each time step
  is decreasing overall and that decrease is statistically significant."
* Sporadic hot spot — "A statistically significant hot spot for the final time-step interval with a history of
  also being an on-again and off-again hot spot. Less than 90 percent of the time-step intervals have been
  statistically significant hot spots and none of the time-step intervals have been statistically significant
  cold spots."
* Oscillating hot spot — "A statistically significant hot spot for the final time-step interval that has a
  history of also being a statistically significant cold spot during a prior time step. Less than 90 percent of
  the time-step intervals have been statistically significant hot spots."
* Historical hot spot — "The most recent time period is not hot, but at least 90 percent of the time-step
  intervals have been statistically significant hot spots."

Where the definitions leave a choice, this is what is done (and why):

* "90 percent of the time-step intervals" is read as at least 90 % (share ≥ 0.9), "less than 90 percent" as < 0.9.
* New and consecutive also require no significant cold spot before (a location that was cold and is now hot has
  the history oscillating describes; R's sfdep reads them the same way). So the categories do not overlap.
* Persistent requires the final step to be hot as well: a location hot ≥ 90 % of the time but not at the end is
  historical, whose definition names exactly that case.
* Intensifying / diminishing: the Mann-Kendall trend of the Gi* z-scores is significant at the same level as the
  bins (default 0.05) and positive / negative (for cold spots: negative z trend = intensifying, the low counts
  cluster more strongly).
* Whether a bin is hot or cold: Gi* z > 0 (< 0) with p — with `fdr` the Benjamini–Hochberg q over all bins of the
  cube — at most `alpha` (default 0.05, 95 % confidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from . import stats

# code → (zh-Hant, English) — the codes are stored in the result layer, the labels are its legend
PATTERNS = {
    0: ("無顯著模式：不屬於下列任何熱點或冷點模式", "No pattern detected: none of the hot or cold spot patterns"),
    1: ("新興熱點：只在最後一個時間步為顯著熱點", "New hot spot: a significant hot spot only in the final time step"),
    2: ("連續熱點：最後連續至少兩個時間步為顯著熱點，此前從未是，且不到九成時間步",
        "Consecutive hot spot: an unbroken run of at least two significant hot steps at the end, never hot before, "
        "in under 90% of the steps"),
    3: ("強化熱點：至少九成時間步（含最後一步）為顯著熱點，且聚集強度顯著上升",
        "Intensifying hot spot: hot in at least 90% of the steps including the last, clustering significantly "
        "stronger over time"),
    4: ("持續熱點：至少九成時間步為顯著熱點，聚集強度無顯著趨勢",
        "Persistent hot spot: hot in at least 90% of the steps, no significant trend in clustering"),
    5: ("減弱熱點：至少九成時間步（含最後一步）為顯著熱點，但聚集強度顯著下降",
        "Diminishing hot spot: hot in at least 90% of the steps including the last, clustering significantly "
        "weaker over time"),
    6: ("零星熱點：最後一步為顯著熱點，過去時有時無（不到九成），從未是冷點",
        "Sporadic hot spot: hot in the final step, on and off before (under 90% of the steps), never a cold spot"),
    7: ("振盪熱點：最後一步為顯著熱點，過去曾為顯著冷點（熱點不到九成時間步）",
        "Oscillating hot spot: hot in the final step, a significant cold spot before (hot in under 90% of the "
        "steps)"),
    8: ("歷史熱點：最後一步不是熱點，但至少九成時間步為顯著熱點",
        "Historical hot spot: not hot in the final step, but hot in at least 90% of the steps"),
    -1: ("新興冷點：只在最後一個時間步為顯著冷點",
         "New cold spot: a significant cold spot only in the final time step"),
    -2: ("連續冷點：最後連續至少兩個時間步為顯著冷點，此前從未是，且不到九成時間步",
         "Consecutive cold spot: an unbroken run of at least two significant cold steps at the end, never cold "
         "before, in under 90% of the steps"),
    -3: ("強化冷點：至少九成時間步（含最後一步）為顯著冷點，且低值聚集顯著增強",
         "Intensifying cold spot: cold in at least 90% of the steps including the last, low values clustering "
         "significantly more over time"),
    -4: ("持續冷點：至少九成時間步為顯著冷點，聚集強度無顯著趨勢",
         "Persistent cold spot: cold in at least 90% of the steps, no significant trend in clustering"),
    -5: ("減弱冷點：至少九成時間步（含最後一步）為顯著冷點，但低值聚集顯著減弱",
         "Diminishing cold spot: cold in at least 90% of the steps including the last, low values clustering "
         "significantly less over time"),
    -6: ("零星冷點：最後一步為顯著冷點，過去時有時無（不到九成），從未是熱點",
         "Sporadic cold spot: cold in the final step, on and off before (under 90% of the steps), never a hot spot"),
    -7: ("振盪冷點：最後一步為顯著冷點，過去曾為顯著熱點（冷點不到九成時間步）",
         "Oscillating cold spot: cold in the final step, a significant hot spot before (cold in under 90% of the "
         "steps)"),
    -8: ("歷史冷點：最後一步不是冷點，但至少九成時間步為顯著冷點",
         "Historical cold spot: not cold in the final step, but cold in at least 90% of the steps"),
}
NAMES = {1: "new", 2: "consecutive", 3: "intensifying", 4: "persistent", 5: "diminishing", 6: "sporadic",
         7: "oscillating", 8: "historical"}
PATTERN_COLORS = {0: "#f0f0f0", 1: "#fdd0a2", 2: "#fdae6b", 3: "#e6550d", 4: "#a63603", 5: "#fd8d3c", 6: "#fee6ce",
                  7: "#d6616b", 8: "#8c6d31", -1: "#c6dbef", -2: "#9ecae1", -3: "#2171b5", -4: "#08306b",
                  -5: "#6baed6", -6: "#deebf7", -7: "#9e9ac8", -8: "#636363"}


def pattern_name(code: int) -> str:
    """'new_hot', 'persistent_cold', 'none': the code as a word (the API's summary)."""
    return "none" if code == 0 else f"{NAMES[abs(code)]}_{'hot' if code > 0 else 'cold'}"


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
             alpha: float = 0.05) -> np.ndarray:
    """The pattern code (see PATTERNS) of every location, from its significant hot and cold bins (locations ×
    steps, booleans) and the Mann-Kendall trend of its Gi* z-scores. Vectorised over locations."""
    hot_codes = _one_side(hot, cold, trend_z, trend_p, alpha, rising=1)
    cold_codes = _one_side(cold, hot, trend_z, trend_p, alpha, rising=-1)
    return np.where(hot_codes != 0, hot_codes, -cold_codes).astype(np.int16)


def _one_side(sig: np.ndarray, other: np.ndarray, trend_z, trend_p, alpha: float, rising: int) -> np.ndarray:
    """Codes 1–8 for one side (hot spots with `rising` = 1; cold spots: sig = cold, other = hot, rising = −1, the
    intensity of low-value clustering rising when the z-scores fall)."""
    n_loc, t = sig.shape
    final = sig[:, -1]
    count = sig.sum(axis=1)
    share = count / t
    often = share >= 0.9
    other_before = other[:, :-1].any(axis=1)
    # the final uninterrupted run of significant bins
    not_sig = ~sig
    last_gap = np.where(not_sig.any(axis=1), t - 1 - np.argmax(not_sig[:, ::-1], axis=1), -1)
    run = t - 1 - last_gap
    only_run = count == run  # never significant before the final run
    trend = np.sign(trend_z) * rising * (trend_p <= alpha)
    code = np.zeros(n_loc, dtype=np.int16)
    code[~final & often] = 8  # historical
    code[final & often & (trend == 0)] = 4  # persistent
    code[final & often & (trend > 0)] = 3  # intensifying
    code[final & often & (trend < 0)] = 5  # diminishing
    rare = final & ~often
    code[rare & ~other_before] = 6  # sporadic (new and consecutive below take theirs)
    code[rare & other_before] = 7  # oscillating
    code[rare & ~other_before & only_run & (run >= 2)] = 2  # consecutive
    code[rare & ~other_before & (count == 1)] = 1  # new
    return code


@dataclass
class Emerging:
    z: np.ndarray  # Gi* z, steps × locations
    p: np.ndarray
    hot: np.ndarray  # locations × steps
    cold: np.ndarray
    gi_trend_z: np.ndarray
    gi_trend_p: np.ndarray
    count_trend_z: np.ndarray
    count_trend_p: np.ndarray
    pattern: np.ndarray


def analyse(cube: np.ndarray, w: sparse.csr_matrix, time_window: int = 1, alpha: float = 0.05,
            fdr: bool = True) -> Emerging:
    """The whole analysis of a cube (steps × locations) with spatial weights `w` (self included)."""
    z = stats.space_time_gi_star(cube, w, time_window)
    p = stats.two_sided_p(z)
    tested = stats.fdr_q_values(p) if fdr else p
    significant = tested <= alpha
    hot, cold = (significant & (z > 0)).T, (significant & (z < 0)).T
    gz, gp = stats.mann_kendall(z.T)
    cz, cp = stats.mann_kendall(cube.T)
    return Emerging(z, p, hot, cold, gz, gp, cz, cp, classify(hot, cold, gz, gp, alpha))
