"""Tables of the validation study (:mod:`cartsim.study.validate`): observed vs simulated
facts, the evidence, the series design."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.validation import MeanCheck, PredictiveCheck
from cartsim.params.evidence import (
    Count,
    Evidence,
    Finding,
    Proportion,
    Rate,
    Record,
    Summary,
    jeffreys_prior,
)
from cartsim.table import Table

if TYPE_CHECKING:
    from cartsim.study.validate import FactResult, ValidationResult
    from cartsim.study.validate_targets import TargetCheck

RULES = (
    "consistent: the observed value lies in the simulated 95% predictive interval (equal-tailed, "
    "inverted empirical CDF, so its ends are values the simulation produced); p_at_most and "
    "p_at_least are the simulated probabilities of a value <= and >= the observed one.",
    "b_cell_return_days compares a mean: consistent when the simulated mean lies in the observed "
    "mean's 95% t interval (given in the observed column); its interval columns are those of "
    "the mean per simulated series.",
    "drivers: the parameters that move the simulated value, with their values (shown for "
    "inconsistent facts).",
)


def observed_text(record: Record) -> str:
    """How a record is shown in the observed column."""
    if isinstance(record, Proportion):
        return f"{record.events} of {record.n}"
    if isinstance(record, Rate):
        return f"{record.events} (in {record.exposure_years:g} patient-years)"
    if isinstance(record, Count):
        return str(record.count)
    if isinstance(record, Summary):
        parts = [f"{label} {value:g}" for label, value in
                 (("mean", record.mean), ("SD", record.sd), ("median", record.median))
                 if value is not None]
        if record.low is not None and record.high is not None:
            parts.append(f"{record.spread or 'range'} {record.low:g}-{record.high:g}")
        if record.n is not None:
            parts.append(f"n {record.n}")
        return f"{record.unit}: " + ", ".join(parts)
    assert isinstance(record, Finding)
    return record.text


def _observed_value(record: Record) -> float | None:
    for attr in ("events", "count", "mean"):
        value = getattr(record, attr, None)
        if value is not None:
            return float(value)
    return None


def driver_text(result: ValidationResult, fact: FactResult) -> str:
    params = result.scenario.parameters
    parts = [f"{name}={params[name].given_value:g}"
             + (f" {params[name].given_unit}" if params[name].kind in ("rate", "duration")
                else "") for name in result.drivers(fact.fact) if name in params]
    return "; ".join(parts)


def _row(result: ValidationResult, f: FactResult) -> tuple[object, ...]:
    check = f.check
    shown = observed_text(f.record)
    mean = low = high = p_low = p_high = None
    if isinstance(check, PredictiveCheck):
        mean, low, high = check.mean, check.low, check.high
        p_low, p_high = check.p_at_most, check.p_at_least
    elif isinstance(check, MeanCheck) and f.simulated is not None:
        mean = check.simulated
        low, high = (float(v) for v in np.quantile(f.simulated, [0.025, 0.975],
                                                   method="inverted_cdf"))
        shown += f"; 95% CI {check.ci_low:.1f}-{check.ci_high:.1f}"
    drivers = driver_text(result, f) if f.flag == "inconsistent" else ""
    return (f.fact.key, f"§7.{f.fact.item}", f.record.description, shown,
            _observed_value(f.record), mean, low, high, p_low, p_high, f.flag, drivers,
            f.fact.reason, f.record.address, f.record.source, f.record.status)


def validation_table(result: ValidationResult) -> Table:
    columns = ("fact", "dossier", "what", "observed", "observed_value", "simulated_mean",
               "pi_low_95", "pi_high_95", "p_at_most", "p_at_least", "flag", "drivers",
               "not_compared_because", "evidence", "source", "status")
    mode = ("parameters drawn from their distributions once per series"
            if result.uncertainty else "point values of every parameter")
    notes = (f"{result.replicates:,} simulated series like Müller 2024 ({mode}); seed "
             f"{result.seed}.", *RULES)
    return Table("validation", "Case series (Müller 2024) observed vs simulated",
                 columns, tuple(_row(result, f) for f in result.facts), notes,
                 {"observed_value": "float", "simulated_mean": "float", "pi_low_95": "float",
                  "pi_high_95": "float", "p_at_most": "prob", "p_at_least": "prob",
                  "drivers": "text", "not_compared_because": "text"})


def evidence_table(evidence: Evidence) -> Table:
    """Every record of the evidence file, with the prior its counts imply."""
    rows = []
    for address, r in evidence.records.items():
        prior = jeffreys_prior(r).describe() if isinstance(r, Proportion | Rate) else None
        same = ", ".join(sorted(evidence.reports[r.report].same_patients)) or None
        rows.append((address, r.report, r.group, type(r).__name__.lower(), observed_text(r),
                     prior, r.description, r.source, r.status, same))
    columns = ("evidence", "report", "group", "kind", "value", "jeffreys_prior", "what",
               "source", "status", "same_patients_as")
    notes = (f"Records of {evidence.source}. Reports that describe the same patients are "
             "never pooled.", "status: R read in source, S secondary summary, U unverified, "
             "E analyst arithmetic (PARAMETERS.md).")
    return Table("evidence", "Case-series evidence", columns, tuple(rows), notes,
                 {"jeffreys_prior": "text", "same_patients_as": "text"})


def design_table(result: ValidationResult) -> Table:
    """How each simulated series was built, with the follow-up actually drawn."""
    years = result.follow_up_years * 12.0
    d = result.follow_up
    rows = [(f"patients ({name.upper()})", str(k), "muller2024." + name + ".patients")
            for name, k in result.composition.items()]
    rows += [
        ("follow-up distribution (months)",
         f"Triangular(low {d.low:g}, mode {d.mode:.4g}, high {d.high:g}): median "
         f"{float(d.ppf(0.5)):g} on the reported range", "muller2024.all.follow_up"),
        ("follow-up drawn (months)",
         f"median {np.median(years):.2f}, min {years.min():.2f}, max {years.max():.2f}",
         "simulation"),
        ("series simulated", f"{result.replicates:,}", "--replicates"),
        ("patients simulated", f"{result.patients_simulated:,}",
         "infused patients are kept in order; the rest (manufacturing failure, death "
         "before infusion) are not part of a series"),
    ]
    return Table("series_design", "How each simulated series is built",
                 ("item", "value", "basis"), tuple(rows))


HELD_OUT_NOTES = (
    "Published facts from cartsim/data/validation_targets.toml. Survival on conventional "
    "therapy is compared in the SOURCE'S OWN population (compared_in: its age and sex mix at "
    "its time origin, conventional therapy only): from entry or randomisation as reported; a "
    "figure counted from diagnosis only as conditional survival S(t0 + h)/S(t0) read from the "
    "source (simulated from t0 years after diagnosis, mortality.disease_duration = t0), never "
    "unconditionally (the early years, with the first-year peak, are before any model patient "
    "enters); a fact whose population or time origin was not read is not compared. The other "
    "facts use the scenario's own cohort at its point values (remission: share of infused "
    "patients - or of responders, where the source counts responders - drug-free at their "
    "follow-up; events: share of infused patients with the event within horizon_years).",
    "pi_low_95/pi_high_95: the 95% predictive interval of the published value: the simulated "
    "share's Monte Carlo error (Beta(x + 1/2, m - x + 1/2) on x of m simulated patients) and "
    "the target's sampling error (Binomial(n, p)/n on its cohort size n, or a normal with its "
    "reported 95% interval's width), 4,000 keyed draws. check = two-sided: consistent when the "
    "value lies in it; upper bound (a less severe source cohort, which the model should not "
    "out-survive): inconsistent only when the value lies below it.",
    "independent = false: the scenario's priors use the fact's source (its used_by_priors "
    "names a parameter of the scenario, or a parameter's source cites its first author and "
    "year): shown, never counted by --strict. --strict counts independent facts flagged "
    "inconsistent, nothing else (see each target's comparability in the data file).",
)


def check_name(c: TargetCheck) -> str | None:
    """How the fact is judged: a two-sided predictive interval, an upper bound."""
    if c.flag == "not compared":
        return None
    return "upper bound" if c.target.bound == "upper" else "two-sided"


def held_out_row(c: TargetCheck) -> tuple[object, ...]:
    t = c.target
    return (t.id, t.kind, t.disease, t.strategy, t.horizon_years, t.value, c.simulated,
            c.low, c.high, c.flag, check_name(c), c.independent,
            c.why_not_independent or None, c.reason or None, c.compared_in or None,
            c.patients or None, t.n, t.source, t.status)


def held_out_table(checks: tuple[TargetCheck, ...], patients: int) -> Table:
    columns = ("target", "kind", "disease", "strategy", "horizon_years", "observed",
               "simulated", "pi_low_95", "pi_high_95", "flag", "check", "independent",
               "not_independent_because", "not_compared_because", "compared_in",
               "simulated_patients", "target_n", "source", "status")
    notes = (f"{patients:,} patients simulated per strategy and per survival population.",
             *HELD_OUT_NOTES)
    return Table("held_out", "Held-out published facts observed vs simulated", columns,
                 tuple(held_out_row(c) for c in checks), notes,
                 {"horizon_years": "float", "observed": "float", "simulated": "float",
                  "pi_low_95": "float", "pi_high_95": "float", "check": "text",
                  "independent": "text", "not_independent_because": "text",
                  "not_compared_because": "text", "compared_in": "text",
                  "simulated_patients": "int", "target_n": "int"})
