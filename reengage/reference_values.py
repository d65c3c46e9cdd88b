"""Published values per exercise, each a labelled point with its source, population and variant — never a
range to be inside of, never a verdict.

Every number is copied from ``shared/MISSION.md`` and ``shared/research/clinical-references.md`` (which says
how each was read). ``kind`` tells how far to trust it:

* ``"reported"``: printed in the article's abstract or table;
* ``"derived"``: a ratio of two published group means (GMax mean over hamstring mean), worked out here. It is
  *not* the mean of per-person ratios that reengage computes (in the one study giving both, 1.19 reported vs
  1.09 ratio of means), so it is labelled "≈".
* ``"range_low"``/``"range_high"``: the lowest and highest study mean of a review's range across studies —
  two points, not a band.

Onset latencies follow reengage's convention: glute max onset − hamstring onset, negative = glutes first.
%MVIC values are means over the movement unless the variant says peak. No published reference range exists
for the glute:hamstring ratio or the onset latency; a prone hip extension point is a single study's group value
in one variant, which the label names. Numbers read only on secondary pages ([S]) are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATIO, LATENCY, PCT = "glute_hamstring_ratio", "onset_latency_ms", "pct_mvic"

OH_2007 = "Oh et al. 2007, J Orthop Sports Phys Ther 37:320–324"
RI_2026 = "J Back Musculoskelet Rehabil, doi:10.1177/10538127261449360 (authors not shown)"
SUEHIRO_2015 = "Suehiro et al. 2015, J Phys Ther Sci 27:289–291"
LEWIS_2009 = "Lewis & Sahrmann 2009, J Athl Train 44:238–248"
IJSPT_2014 = "Int J Sports Phys Ther 2014;9(2):157–167, table 2 (range across studies)"
HOLLMAN_2018 = "Hollman et al. 2018, J Sport Rehabil 27:138–143"
YOUDAS_2017 = "Youdas et al. 2017, Physiother Theory Pract 33:124–130"
CONTRERAS_2015 = "Contreras et al. 2015, J Appl Biomech 31:452–458"
MCCURDY_2018 = "McCurdy et al. 2018, J Strength Cond Res 32:594–601"
LEE_AN_2023 = "Lee & An 2023, Phys Ther Korea 30:8–14, table 3"


@dataclass(frozen=True)
class RefPoint:
    metric: str  # RATIO, LATENCY or PCT
    value: float
    source: str
    population: str
    variant: str
    kind: str = "reported"  # "reported", "derived", "range_low", "range_high"
    sd: float | None = None
    muscle: str | None = None  # PCT only: glute_max, glute_med, hamstrings, erector_spinae
    short: str = ""  # the marker's label on a chart, e.g. "Oh 2007, no ADIM"

    @property
    def value_text(self) -> str:
        v = f"{self.value:+g} ms" if self.metric == LATENCY else f"{self.value:g}"
        if self.metric == PCT:
            v += " %MVIC"
        sd = f" ± {self.sd:g}" if self.sd is not None else ""
        pre = {"derived": "≈ ", "range_low": "lowest study mean ", "range_high": "highest study mean "}.get(self.kind, "")
        return f"{pre}{v}{sd}"

    @property
    def label(self) -> str:
        """One line: value, variant, population, source, and how the value was obtained."""
        how = {"derived": "ratio of the published group means, not a per-person ratio",
               "range_low": "range across studies", "range_high": "range across studies"}.get(self.kind, "published")
        return f"{self.value_text} — {self.variant}; {self.population}; {self.source} ({how})"


def _phe() -> list[RefPoint]:
    hf = "20 healthy adults (10 M, 10 F, 19–26 y)"
    men20, men21, women11 = "20 healthy men", "21 healthy men", "11 healthy women"
    return [
        RefPoint(RATIO, 0.51, OH_2007, hf, "PHE, medial hamstrings (24/47 %MVIC)", "derived", short="Oh 2007"),
        RefPoint(RATIO, 0.90, OH_2007, hf, "PHE with abdominal drawing-in (52/58 %MVIC)", "derived",
                 short="Oh 2007, drawing-in"),
        RefPoint(RATIO, 1.19, RI_2026, men20, "PHE, knee flexed 90°, GMax/biceps femoris", short="knee 90° (2026)"),
        RefPoint(RATIO, 2.13, RI_2026, men20, "PHE, knee flexed 90°, with a reciprocal-inhibition band",
                 short="knee 90° + band (2026)"),
        RefPoint(LATENCY, 108.4, SUEHIRO_2015, men21, "PHE, knee flexed, hip neutral", sd=142.1,
                 short="Suehiro 2015, neutral"),
        RefPoint(LATENCY, -32.4, SUEHIRO_2015, men21, "PHE, knee flexed, hip abducted", sd=130.3,
                 short="Suehiro 2015, abducted"),
        RefPoint(LATENCY, -109.1, SUEHIRO_2015, men21, "PHE, knee flexed, hip abducted + externally rotated",
                 sd=173.7, short="Suehiro 2015, abd + ER"),
        RefPoint(LATENCY, 184.0, LEWIS_2009, women11, "PHE, no cue, vs medial hamstrings (onsets re movement)",
                 "derived", short="Lewis 2009, uncued"),
        RefPoint(LATENCY, 86.2, LEWIS_2009, women11, "PHE, cued to squeeze the glutes, vs medial hamstrings",
                 "derived", short="Lewis 2009, cued"),
        RefPoint(PCT, 59, IJSPT_2014, "healthy (single study cited)", "PHE", muscle="glute_max", short="IJSPT 2014"),
        RefPoint(PCT, 24, OH_2007, hf, "PHE", sd=8, muscle="glute_max", short="Oh 2007"),
        RefPoint(PCT, 47, OH_2007, hf, "PHE, medial hamstrings", sd=14, muscle="hamstrings", short="Oh 2007"),
        RefPoint(PCT, 52, OH_2007, hf, "PHE with abdominal drawing-in", muscle="glute_max", short="Oh 2007, drawing-in"),
        RefPoint(PCT, 58, OH_2007, hf, "PHE with abdominal drawing-in, medial hamstrings", muscle="hamstrings",
                 short="Oh 2007, drawing-in"),
        RefPoint(PCT, 32, RI_2026, men20, "PHE, knee flexed 90°", muscle="glute_max", short="knee 90° (2026)"),
        RefPoint(PCT, 29.26, RI_2026, men20, "PHE, knee flexed 90°, biceps femoris", muscle="hamstrings",
                 short="knee 90° (2026)"),
    ]


def _bridges() -> dict[str, list[RefPoint]]:
    w30 = "30 active women (randomised, cueing group)"
    return {
        "bridge": [
            RefPoint(RATIO, 1.02, HOLLMAN_2018, w30, "double-leg bridge, before cueing (16.8/16.5 %MVIC)", "derived",
                     short="Hollman 2018, uncued"),
            RefPoint(RATIO, 1.11, HOLLMAN_2018, w30, "double-leg bridge, verbal + tactile cue, one week later",
                     "derived", short="Hollman 2018, cued"),
            RefPoint(PCT, 16.8, HOLLMAN_2018, w30, "double-leg bridge, before cueing", muscle="glute_max",
                     short="Hollman 2018, uncued"),
            RefPoint(PCT, 16.5, HOLLMAN_2018, w30, "double-leg bridge, before cueing", muscle="hamstrings",
                     short="Hollman 2018, uncued"),
            RefPoint(PCT, 25, IJSPT_2014, "healthy (single study cited)", "double-leg bridge", muscle="glute_max",
                     short="IJSPT 2014"),
        ],
        "single_leg_bridge": [
            RefPoint(RATIO, 1.113, YOUDAS_2017, "26 healthy adults", "unilateral bridge to neutral, median of peak ratios",
                     short="Youdas 2017"),
            RefPoint(PCT, 40, IJSPT_2014, "healthy", "single-leg bridge", "range_low", muscle="glute_max",
                     short="IJSPT 2014, low"),
            RefPoint(PCT, 54, IJSPT_2014, "healthy", "single-leg bridge", "range_high", muscle="glute_max",
                     short="IJSPT 2014, high"),
        ],
    }


def _loaded() -> dict[str, list[RefPoint]]:
    tw13, tw18 = "13 trained women, estimated 10RM", "18 trained women, 8RM"
    return {
        "hip_thrust": [
            RefPoint(RATIO, 1.70, CONTRERAS_2015, tw13, "barbell hip thrust, upper GMax/biceps femoris, mean", "derived",
                     short="Contreras 2015, upper"),
            RefPoint(RATIO, 2.13, CONTRERAS_2015, tw13, "barbell hip thrust, lower GMax/biceps femoris, mean", "derived",
                     short="Contreras 2015, lower"),
            RefPoint(PCT, 69.5, CONTRERAS_2015, tw13, "barbell hip thrust, upper GMax, mean", muscle="glute_max",
                     short="Contreras 2015, upper"),
            RefPoint(PCT, 86.8, CONTRERAS_2015, tw13, "barbell hip thrust, lower GMax, mean", muscle="glute_max",
                     short="Contreras 2015, lower"),
            RefPoint(PCT, 40.8, CONTRERAS_2015, tw13, "barbell hip thrust, biceps femoris, mean", muscle="hamstrings",
                     short="Contreras 2015"),
        ],
        "back_squat": [
            RefPoint(RATIO, 1.97, CONTRERAS_2015, tw13, "back squat, upper GMax/biceps femoris, mean", "derived",
                     short="Contreras 2015, upper"),
            RefPoint(RATIO, 3.05, CONTRERAS_2015, tw13, "back squat, lower GMax/biceps femoris, mean", "derived",
                     short="Contreras 2015, lower"),
            RefPoint(RATIO, 1.65, MCCURDY_2018, tw18, "bilateral squat, GMax/hamstrings", "derived",
                     short="McCurdy 2018"),
        ],
        "single_leg_deadlift": [
            RefPoint(RATIO, v, LEE_AN_2023, "21 healthy women", f"single-leg deadlift, trunk lean {lean}°", sd=sd,
                     short=f"Lee & An 2023, {lean}°")
            for v, sd, lean in ((1.03, 0.01, 30), (1.03, 0.02, 60), (0.98, 0.03, 90))
        ],
    }


def _side_lying() -> dict[str, list[RefPoint]]:
    def rng(task, muscle, low, high):
        return [RefPoint(PCT, v, IJSPT_2014, "healthy", task, kind, muscle=muscle, short=f"IJSPT 2014, {w}")
                for v, kind, w in ((low, "range_low", "low"), (high, "range_high", "high"))]
    return {
        "clamshell": rng("clamshell", "glute_max", 34, 53) + rng("clamshell", "glute_med", 38, 67),
        "side_lying_abduction": rng("side-lying abduction", "glute_max", 39, 51)
        + rng("side-lying abduction", "glute_med", 42, 81),
    }


REFERENCE_VALUES: dict[str, list[RefPoint]] = {
    "prone_hip_extension": _phe(), **_bridges(), **_loaded(), **_side_lying(),
}
ALIASES = {
    "glute_bridge": "bridge", "double_leg_bridge": "bridge", "barbell_hip_thrust": "hip_thrust", "squat": "back_squat",
    "side_lying_leg_lift": "side_lying_abduction", "clamshells": "clamshell", "phe": "prone_hip_extension",
    "unilateral_bridge": "single_leg_bridge", "sldl": "single_leg_deadlift",
}


def exercise_key(task: str) -> str:
    """A task name as the catalog holds it (any case and separators) → the key of :data:`REFERENCE_VALUES`."""
    k = re.sub(r"[^a-z0-9]+", "_", (task or "").lower()).strip("_")
    return ALIASES.get(k, k)


def reference_points(task: str, metric: str | None = None, muscle: str | None = None) -> list[RefPoint]:
    """The published points of an exercise (none when the literature read has none), optionally of one metric
    and, for %MVIC, one muscle."""
    return [p for p in REFERENCE_VALUES.get(exercise_key(task), [])
            if (metric is None or p.metric == metric) and (muscle is None or p.muscle == muscle)]


__all__ = ["RefPoint", "REFERENCE_VALUES", "RATIO", "LATENCY", "PCT", "exercise_key", "reference_points"]
