"""Probability distributions for probabilistic sensitivity analysis (PSA).

Every draw is ``ppf(uniforms)``: a PSA run can correlate parameters by feeding
copula-transformed uniforms instead of independent ones, and any draw can be
reproduced from its uniforms alone.  Distributions are frozen dataclasses, so
they are hashable and compare by value.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from cartsim.deferred import special
from cartsim.errors import ParameterError

__all__ = ["Beta", "Dirichlet", "Distribution", "Fixed", "Gamma", "LogNormal",
           "Normal", "Triangular", "Uniform", "make_distribution"]

_POS: dict[str, Any] = {"low": 0.0, "low_open": True}
_UNIT_OPEN: dict[str, Any] = {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True}


def _show(value: object) -> str:
    # numpy 2 reprs scalars as "np.float64(1.0)"; show the plain number instead.
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_real(owner: str, name: str, value: object, *, low: float = -math.inf,
                high: float = math.inf, low_open: bool = False,
                high_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``float(value)``, or raise `ParameterError` naming argument, value, range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{owner} {name} must be a real number; got {_show(value)}")
    x = float(value)
    above = x > low or (x == low and not low_open)
    below = x < high or (x == high and not high_open)
    if not (above and below):  # NaN fails both
        lo = f"{'>' if low_open else '>='} {low:g}" if low > -math.inf else ""
        hi = f"{'<' if high_open else '<='} {high:g}" if high < math.inf else ""
        text = " and ".join(p for p in (lo, hi) if p) or "a number"
        raise ParameterError(f"{owner} {name} must be {text}; got {_show(value)}")
    if math.isinf(x) and not allow_inf:
        raise ParameterError(f"{owner} {name} must be finite; got {_show(value)}")
    return x


def _check_reals(owner: str, name: str, values: object, **limits: Any) -> tuple[float, ...]:
    """Validate a non-empty 1-D sequence of reals elementwise; return it as a tuple."""
    if (isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray)
            or np.ndim(values) != 1 or len(values) == 0):
        raise ParameterError(f"{owner} {name} must be a non-empty 1-D sequence of "
                             f"numbers; got {_show(values)}")
    return tuple(_check_real(owner, f"{name}[{i}]", v, **limits)
                 for i, v in enumerate(values))


def _probabilities(q: ArrayLike) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if not np.all((q >= 0.0) & (q <= 1.0)):
        raise ValueError("probabilities must lie in [0, 1] (no NaN)")
    return q


def _fmt(x: float) -> str:
    # 4 significant digits, but a cost of 20000 prints as 20000, not 2e+04.
    text = f"{x:.4g}"
    return f"{x:.0f}" if "e+" in text and abs(x) < 1e15 else text


def _row_sums(x: np.ndarray) -> np.ndarray:
    """Sums over the last axis (kept), adding the terms first to last: numpy's ``sum``
    may add pairwise in an order that depends on the array's shape and layout, so a row's
    sum, and a PSA draw's values, would depend on how many rows were drawn together."""
    total = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        total += x[..., j]
    return total[..., np.newaxis]


def _sample_size(n: int) -> int:
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"sample size must be >= 0; got {n}")
    return n


class Distribution(ABC):
    """Distribution of one parameter (a vector for `Dirichlet`).

    Attributes
    ----------
    name : str
        Family name as written in scenario files (``"beta"``, ``"gamma"``, ...).
    """

    __slots__ = ()
    name: ClassVar[str]
    # (argument, limits for _check_real) pairs validated after construction.
    _args: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = ()

    def __post_init__(self) -> None:
        for arg, limits in self._args:
            value = _check_real(type(self).__name__, arg, getattr(self, arg), **limits)
            object.__setattr__(self, arg, value)

    @property
    @abstractmethod
    def mean(self) -> float:
        """Expected value."""

    @property
    @abstractmethod
    def sd(self) -> float:
        """Standard deviation."""

    @abstractmethod
    def ppf(self, q: ArrayLike) -> np.ndarray:
        """Inverse CDF (quantile function), vectorised.

        Parameters
        ----------
        q : array_like
            Probabilities in ``[0, 1]``; 0 and 1 give the ends of the support.

        Returns
        -------
        numpy.ndarray
            Quantiles, same shape as `q`.
        """

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Draw `n` values as ``ppf(rng.random(n))``, reproducible from the uniforms."""
        return self.ppf(rng.random(_sample_size(n)))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval holding probability `level` (0 < level < 1)."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"interval level must be in (0, 1); got {level!r}")
        lo, hi = self.ppf(np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
        return float(lo), float(hi)

    def params(self) -> dict[str, Any]:
        """Constructor arguments, e.g. for a parameter table.

        ``make_distribution({"dist": d.name, **d.params()}) == d``.
        """
        # Every distribution is a dataclass; the base class, typed for its subclasses,
        # is not one, so mypy cannot see it.
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def describe(self) -> str:
        """Short readable form, e.g. ``"Gamma(shape=126.6, scale=3555)"``."""
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# Slotted dataclasses: only slot descriptors can shadow the base's abstract
# properties, which Normal's ``mean`` and ``sd`` fields must do.
@dataclass(frozen=True, slots=True)
class Beta(Distribution):
    """Beta distribution on [0, 1] (probabilities, utilities); `alpha`, `beta` > 0."""

    alpha: float
    beta: float
    name: ClassVar[str] = "beta"
    _args = (("alpha", _POS), ("beta", _POS))

    @classmethod
    def from_moments(cls, mean: float, se: float) -> Beta:
        """Method of moments: the Beta with this mean and SD; needs ``se² < m(1-m)``."""
        m = _check_real("Beta", "mean", mean, **_UNIT_OPEN)
        s = _check_real("Beta", "se", se, **_POS)
        if s * s >= m * (1.0 - m):
            raise ParameterError(f"infeasible Beta: SE² must be < mean(1-mean); got "
                                 f"mean={m:g}, se={s:g} (SE²={s * s:g} >= {m * (1 - m):g})")
        k = m * (1.0 - m) / (s * s) - 1.0
        return cls(m * k, (1.0 - m) * k)

    @classmethod
    def from_counts(cls, events: float, n: float) -> Beta:
        """Jeffreys posterior ``Beta(events + 0.5, n - events + 0.5)``."""
        total = _check_real("Beta", "n", n, **_POS)
        x = _check_real("Beta", "events", events, low=0.0, high=total)
        return cls(x + 0.5, total - x + 0.5)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def sd(self) -> float:
        a, b = self.alpha, self.beta
        return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))

    def ppf(self, q: ArrayLike) -> np.ndarray:
        # scipy's betaincinv is unreliable (NaN or wrong) for q below about 1e-89 when
        # alpha > 1; PSA uniforms never go there (rng.random() >= 2**-53 unless 0).
        return special.betaincinv(self.alpha, self.beta, _probabilities(q))

    def describe(self) -> str:
        return f"Beta({_fmt(self.alpha)}, {_fmt(self.beta)})"


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    """Gamma distribution on [0, inf) (costs, rates); `shape`, `scale` > 0."""

    shape: float
    scale: float
    name: ClassVar[str] = "gamma"
    _args = (("shape", _POS), ("scale", _POS))

    @classmethod
    def from_moments(cls, mean: float, se: float) -> Gamma:
        """Method of moments: ``shape = (mean/se)²``, ``scale = se²/mean``."""
        m = _check_real("Gamma", "mean", mean, **_POS)
        s = _check_real("Gamma", "se", se, **_POS)
        return cls((m / s) ** 2, s * s / m)

    @classmethod
    def from_counts(cls, events: float, exposure: float) -> Gamma:
        """Jeffreys posterior of a Poisson rate: ``Gamma(events + 0.5, 1/exposure)``."""
        x = _check_real("Gamma", "events", events, low=0.0)
        return cls(x + 0.5, 1.0 / _check_real("Gamma", "exposure", exposure, **_POS))

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    @property
    def sd(self) -> float:
        return math.sqrt(self.shape) * self.scale

    def ppf(self, q: ArrayLike) -> np.ndarray:
        return special.gammaincinv(self.shape, _probabilities(q)) * self.scale


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """Log-normal (hazard ratios, relative risks): ``ln X ~ N(meanlog, sdlog²)``."""

    meanlog: float
    sdlog: float
    name: ClassVar[str] = "lognormal"
    _args = (("meanlog", {}), ("sdlog", _POS))

    @classmethod
    def from_ci(cls, estimate: float, lower: float, upper: float,
                level: float = 0.95) -> LogNormal:
        """From an estimate and its confidence interval on the ratio scale.

        ``meanlog = ln estimate``, ``sdlog = (ln upper - ln lower) / (2 z)``, with
        ``z`` the standard normal ``(1 + level)/2`` quantile (1.959964 for 95%).
        """
        who = "LogNormal.from_ci"
        lv = _check_real(who, "level", level, **_UNIT_OPEN)
        lo = _check_real(who, "lower", lower, **_POS)
        hi = _check_real(who, "upper", upper, low=lo, low_open=True)
        est = _check_real(who, "estimate", estimate, low=lo, high=hi)
        z = float(special.ndtri((1.0 + lv) / 2.0))
        return cls(math.log(est), (math.log(hi) - math.log(lo)) / (2.0 * z))

    @classmethod
    def from_moments(cls, mean: float, se: float) -> LogNormal:
        """The log-normal with this mean and SD on the natural scale."""
        m = _check_real("LogNormal", "mean", mean, **_POS)
        var_log = math.log1p((_check_real("LogNormal", "se", se, **_POS) / m) ** 2)
        return cls(math.log(m) - var_log / 2.0, math.sqrt(var_log))

    @property
    def mean(self) -> float:
        return math.exp(self.meanlog + self.sdlog**2 / 2.0)

    @property
    def sd(self) -> float:
        return self.mean * math.sqrt(math.expm1(self.sdlog**2))

    def ppf(self, q: ArrayLike) -> np.ndarray:
        return np.exp(self.meanlog + self.sdlog * special.ndtri(_probabilities(q)))


@dataclass(frozen=True, slots=True)
class Normal(Distribution):
    """Normal distribution; `sd` >= 0, and ``sd == 0`` behaves like `Fixed`."""

    # field(): otherwise dataclasses would take the inherited properties as defaults.
    mean: float = field()
    sd: float = field()
    name: ClassVar[str] = "normal"
    _args = (("mean", {}), ("sd", {"low": 0.0}))

    @classmethod
    def from_moments(cls, mean: float, se: float) -> Normal:
        """``Normal(mean, se)``."""
        return cls(mean, se)

    def ppf(self, q: ArrayLike) -> np.ndarray:
        q = _probabilities(q)
        if self.sd == 0.0:  # 0 * ndtri(0) would be 0 * -inf = NaN
            return np.full_like(q, self.mean)
        return self.mean + self.sd * special.ndtri(q)


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    """Uniform distribution on ``[low, high]``, ``low < high``."""

    low: float
    high: float
    name: ClassVar[str] = "uniform"
    _args = (("low", {}), ("high", {}))

    def __post_init__(self) -> None:
        Distribution.__post_init__(self)  # zero-argument super() fails in slotted classes
        _check_real("Uniform", "high", self.high, low=self.low, low_open=True)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    @property
    def sd(self) -> float:
        return (self.high - self.low) / math.sqrt(12.0)

    def ppf(self, q: ArrayLike) -> np.ndarray:
        # Clip: low + 1 * (high - low) can round to just above high.
        return np.clip(self.low + _probabilities(q) * (self.high - self.low), self.low, self.high)


@dataclass(frozen=True, slots=True)
class Triangular(Distribution):
    """Triangular distribution, ``low <= mode <= high`` and ``low < high``."""

    low: float
    mode: float
    high: float
    name: ClassVar[str] = "triangular"
    _args = (("low", {}), ("mode", {}), ("high", {}))

    def __post_init__(self) -> None:
        Distribution.__post_init__(self)
        _check_real("Triangular", "high", self.high, low=self.low, low_open=True)
        _check_real("Triangular", "mode", self.mode, low=self.low, high=self.high)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    @property
    def sd(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)

    def ppf(self, q: ArrayLike) -> np.ndarray:
        q, (a, c, b) = _probabilities(q), (self.low, self.mode, self.high)
        left = a + np.sqrt(q * (b - a) * (c - a))
        right = b - np.sqrt((1.0 - q) * (b - a) * (b - c))
        # Clip: rounding in `right` can land just outside [low, high] when mode ~ low.
        return np.clip(np.where(q < (c - a) / (b - a), left, right), a, b)


@dataclass(frozen=True, slots=True)
class Fixed(Distribution):
    """Point mass at `value`: the parameter is not varied in the PSA."""

    value: float
    name: ClassVar[str] = "fixed"
    _args = (("value", {}),)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def sd(self) -> float:
        return 0.0

    def ppf(self, q: ArrayLike) -> np.ndarray:
        return np.full_like(_probabilities(q), self.value)

    def describe(self) -> str:
        return f"Fixed({_fmt(self.value)})"


@dataclass(frozen=True, slots=True)
class Dirichlet(Distribution):
    """Dirichlet distribution of a probability vector.

    Parameters
    ----------
    alphas : sequence of float
        Two or more concentration parameters, all > 0.

    Notes
    -----
    Vector-valued: `mean` and `sd` are arrays, `ppf` is `ppf_rows`, `sample`
    returns shape ``(n, k)`` and `interval` returns arrays (Beta marginals).
    """

    alphas: tuple[float, ...]
    name: ClassVar[str] = "dirichlet"

    def __post_init__(self) -> None:
        alphas = _check_reals("Dirichlet", "alphas", self.alphas, **_POS)
        if len(alphas) < 2:
            raise ParameterError(f"Dirichlet alphas must have >= 2 entries; got {alphas}")
        object.__setattr__(self, "alphas", alphas)

    @classmethod
    def from_counts(cls, counts: Sequence[float]) -> Dirichlet:
        """Posterior under a Jeffreys-like prior: ``alphas = counts + 0.5`` each."""
        return cls(tuple(c + 0.5 for c in _check_reals("Dirichlet", "counts", counts,
                                                       low=0.0)))

    @property
    def mean(self) -> np.ndarray:  # type: ignore[override]  # the one vector distribution
        a = np.asarray(self.alphas)
        return a / a.sum()

    @property
    def sd(self) -> np.ndarray:  # type: ignore[override]  # the one vector distribution
        a = np.asarray(self.alphas)
        a0 = a.sum()
        return np.sqrt(a * (a0 - a) / (a0 * a0 * (a0 + 1.0)))

    def ppf_rows(self, u: ArrayLike) -> np.ndarray:
        """Map uniforms of shape ``(..., k)`` to Dirichlet vectors (rows sum to 1).

        Each uniform becomes a unit-scale Gamma(alpha_j) variate through its
        quantile function (``scipy.stats.gamma.ppf``); rows are then normalised.
        """
        u, a = _probabilities(u), np.asarray(self.alphas)
        if u.ndim == 0 or u.shape[-1] != a.size:
            raise ValueError(f"ppf_rows needs shape (..., {a.size}); got {u.shape}")
        g = special.gammaincinv(a, u)
        dead = np.all(g == 0.0, axis=-1)
        if np.any(dead):
            # Tiny alphas: every quantile of the row underflowed.  Redo it in logs
            # with the small-u limit G^{-1}(u) ~ (u Γ(a+1))^(1/a); u = 0 becomes the
            # smallest double so that the row stays defined.
            log_g = (np.log(np.maximum(u[dead], 5e-324)) + special.gammaln(a + 1.0)) / a
            g[dead] = np.exp(log_g - log_g.max(axis=-1, keepdims=True))
        infinite = np.isinf(g)  # u = 1: an infinite gamma takes the whole row
        if np.any(infinite):
            rows = infinite.any(axis=-1)
            g[rows] = infinite[rows]
        x = g / _row_sums(g)
        # One division leaves the row sum a few ulps off 1; a second pass fixes it.
        return x / _row_sums(x)

    def ppf(self, q: ArrayLike) -> np.ndarray:
        return self.ppf_rows(q)

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Draw `n` vectors as ``ppf_rows(rng.random((n, k)))``."""
        return self.ppf_rows(rng.random((_sample_size(n), len(self.alphas))))

    def interval(  # type: ignore[override]  # the one vector distribution
            self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        a0 = math.fsum(self.alphas)
        ends = np.array([Beta(a, a0 - a).interval(level) for a in self.alphas])
        return ends[:, 0], ends[:, 1]

    def describe(self) -> str:
        return f"Dirichlet({', '.join(_fmt(a) for a in self.alphas)})"


# Keys of a scenario parameter that describe the parameter, not its distribution.
_IGNORED = frozenset({"value", "unit", "per", "source", "status", "note", "description"})
_Form = tuple[frozenset[str], frozenset[str], Callable[..., Distribution]]


def _form(required: str, build: Callable[..., Distribution], optional: str = "") -> _Form:
    return frozenset(required.split()), frozenset(optional.split()), build


# Accepted key sets per family: (required, optional, builder).
_FORMS: dict[str, tuple[_Form, ...]] = {
    "beta": (_form("alpha beta", Beta), _form("mean se", Beta.from_moments),
             _form("events n", Beta.from_counts)),
    "gamma": (_form("shape scale", Gamma), _form("mean se", Gamma.from_moments),
              _form("events exposure", Gamma.from_counts)),
    "lognormal": (_form("meanlog sdlog", LogNormal), _form("mean se", LogNormal.from_moments),
                  _form("estimate lower upper", LogNormal.from_ci, "level")),
    "normal": (_form("mean sd", Normal), _form("mean se", Normal.from_moments)),
    "uniform": (_form("low high", Uniform),),
    "triangular": (_form("low mode high", Triangular),),
    "dirichlet": (_form("alphas", Dirichlet), _form("counts", Dirichlet.from_counts)),
    # A fixed parameter's distribution is the point mass at the parameter's value.
    "fixed": (_form("value", Fixed),),
}


def make_distribution(spec: Mapping[str, object]) -> Distribution:
    """Build a distribution from its scenario-file form.

    Parameters
    ----------
    spec : mapping
        ``{"dist": family, **arguments}``, e.g. ``{"dist": "beta", "mean": 0.3,
        "se": 0.05}``.  The argument sets accepted are those of each class and its
        ``from_*`` constructors.  The parameter-level keys ``value, unit, per,
        source, status, note, description`` are ignored, except that
        ``{"dist": "fixed", "value": v}`` builds ``Fixed(v)``.

    Returns
    -------
    Distribution

    Raises
    ------
    ParameterError
        Unknown family (with a did-you-mean), keys matching no accepted set (the
        message lists them), or arguments out of range.
    """
    if not isinstance(spec, Mapping):
        raise ParameterError(f"distribution spec must be a mapping; got {_show(spec)}")
    dist = spec.get("dist")
    family = dist.strip().lower() if isinstance(dist, str) else ""
    if family not in _FORMS:
        close = difflib.get_close_matches(family or str(dist), _FORMS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"unknown distribution {dist!r}{hint} "
                             f"(known: {', '.join(_FORMS)})")
    ignored = _IGNORED - {"value"} if family == "fixed" else _IGNORED
    keys = {k for k in spec if k != "dist" and k not in ignored}
    forms = _FORMS[family]
    for required, optional, build in forms:
        if required <= keys <= required | optional:
            return build(**{k: spec[k] for k in keys})
    # Explain against the accepted set sharing the most keys with the input.
    required, optional, _ = max(forms, key=lambda f: len(keys & (f[0] | f[1])))
    problems = [f"{what} {', '.join(sorted(map(str, ks)))}" for what, ks in
                (("missing", required - keys), ("unexpected", keys - required - optional))
                if ks]
    accepted = " | ".join(", ".join([*sorted(r), *(f"[{o}]" for o in sorted(o_))])
                          for r, o_, _ in forms)
    raise ParameterError(f"{family} distribution: {'; '.join(problems)}; "
                         f"accepted keys: {accepted}")
