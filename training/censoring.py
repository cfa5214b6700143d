"""Inverse probability of censoring weights (IPCW) for the 180-day label.

Censoring model: a discrete-time pooled logistic regression of the hazard of
leaving follow-up in intervals of the days after course end (short ones first:
losses and relapses both cluster early, so a wide first interval with an even
hazard inside it misjudged G for early relapses by ~7%). Covariates: the
course's features (median-imputed with missing indicators, standardised), a
cubic spline in age (loss to follow-up is not linear in age: it steps up
below 30 in the synthetic cohorts and plausibly in real ones), the site, and a
spline in the calendar time of course end (services and follow-up practice
change over the years). Interval x covariate terms (non-proportional hazards)
are added only when they lower the person-period log-loss on the validation
part (`select_censoring_model`). And a spline in a relapse-risk score: loss to
follow-up is more likely for patients at higher risk, and risk is non-linear
in the features (interactions a linear censoring model cannot see), so
without it the weights under-counted relapses (pooled bias -0.005 over 4
seeds; reports/censoring_bias.md). The score is a complete-case gradient
boosting fit, out-of-fold on the rows it was fitted on: complete cases are
miscalibrated, but only the ranking matters here, the censoring model
calibrates its effect.

Follow-up of C days sees a relapse on day T <= C, and a course is labelled
"no relapse" when C >= 180. G(s | x) = P(C >= s | x) = prod over intervals
[a, b) of (1 - hazard x share of [a, b) below s), the hazard spread evenly
within an interval. A relapse on day T gets weight 1 / G(T); a course followed
to the horizon 1 / G(180). Censored courses get 0. Weights are truncated at the 99th percentile of the fitting
part to bound variance.

Courses whose course end is less than 180 days before the data cut-off could
not have been followed to the horizon by anyone: that is not loss to
follow-up, no weight can stand in for their unseen non-relapses, so they are
left out of the labelled set (`mature_courses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

HORIZON_DAYS = 180.0
# Interval edges in days of follow-up [a, b); fine where losses and relapses cluster.
EDGES = np.array([0, 1, 2, 3, 5, 7, 10, 14, 18, 22, 26, 30, 37, 45, 52, 60, 75, 90, 105, 120, 135,
                  150, 165, 180], dtype=float)
MAX_FIT_PERIODS = 500_000  # person-period rows used to fit (a random sample above it)
SPLINE_COLUMNS = ("age_years", "course_end_years", "risk_score")
RISK_SCORE_MAX_ROWS = 200_000  # rows the score model sees (a random sample above it)
CATEGORICAL_COLUMNS = ("site",)


@dataclass(frozen=True)
class IpcwResult:
    weights: np.ndarray  # 0 for censored courses
    survival_at_time: np.ndarray  # G(min(T, 180) | x)
    truncated_at: float


def censoring_frame(X: np.ndarray, feature_names: tuple[str, ...], *,
                    site: np.ndarray | None = None,
                    course_end: np.ndarray | None = None) -> pd.DataFrame:
    """The censoring model's covariates: features, plus site and course-end calendar time."""
    frame = pd.DataFrame(X, columns=list(feature_names))
    if {"infusions_attended", "therapy_sessions_attended"} <= set(frame.columns):
        # Dropping out shows in the share of ALL sessions attended, a ratio of sums the
        # per-type shares do not give a linear model.
        attended = frame["infusions_attended"] + frame["therapy_sessions_attended"]
        scheduled = frame["infusions_scheduled"] + frame["therapy_sessions_scheduled"]
        frame["session_attendance"] = attended / scheduled.where(scheduled > 0)
    if site is not None:
        frame["site"] = np.asarray(site, dtype=object)
    if course_end is not None:
        days = np.asarray(course_end, dtype="datetime64[D]").astype(np.int64)
        frame["course_end_years"] = (days - 17897) / 365.25  # years since 2019-01-01
    return frame


@dataclass(frozen=True)
class RiskScore:
    """The censoring model's risk-score covariate: a complete-case boosted classifier."""

    model: HistGradientBoostingClassifier | None  # None: too few labelled rows to fit

    def log_odds(self, X: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.zeros(len(X))
        p = np.clip(self.model.predict_proba(X)[:, 1], 1e-4, 1 - 1e-4)
        return np.log(p) - np.log1p(-p)


def fit_risk_score(X: np.ndarray, y: np.ndarray, labelled: np.ndarray, fit_rows: np.ndarray,
                   seed: int = 0) -> tuple[RiskScore, np.ndarray]:
    """The score model on the labelled `fit_rows`, and its log-odds for every row: out-of-fold
    for the rows it was fitted on, so the censoring fit sees honest scores."""
    rows = fit_rows[labelled[fit_rows]]
    if rows.size > RISK_SCORE_MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, RISK_SCORE_MAX_ROWS,
                                                          replace=False))
    if rows.size < 50 or not 0 < y[rows].mean() < 1:
        return RiskScore(None), np.zeros(len(X))
    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_depth=3,
                                         random_state=seed)
    oof = cross_val_predict(clf, X[rows], y[rows], cv=3, method="predict_proba")[:, 1]
    score = RiskScore(clf.fit(X[rows], y[rows]))
    out = score.log_odds(X)
    oof = np.clip(oof, 1e-4, 1 - 1e-4)
    out[rows] = np.log(oof) - np.log1p(-oof)
    return score, out


def mature_courses(course_end: np.ndarray, data_cutoff: np.datetime64,
                   horizon: float = HORIZON_DAYS) -> np.ndarray:
    """Courses that ended at least `horizon` days before the data cut-off."""
    end = np.asarray(course_end, dtype="datetime64[D]")
    cutoff = np.asarray(data_cutoff).astype("datetime64[D]")
    return end + np.timedelta64(int(horizon), "D") <= cutoff


def _person_periods(time_days: np.ndarray, censored: np.ndarray):
    """(course row, interval, lost in it) for every interval a course was at risk in.

    A censored course (follow-up C days) is at risk from every interval starting at or
    before C and is lost in the one holding C; a labelled course is known to have
    C >= s (its relapse day or the horizon): at risk in every interval starting before s,
    and in the one holding s only for the share of it that lies before s (the life-table
    idea: counting a relapse on day 31 as a whole interval 30-45 survived made every
    hazard too low and G about 1-2% too high).
    """
    rows, ints, events, exposure = [], [], [], []
    for k, (a, b) in enumerate(zip(EDGES[:-1], EDGES[1:], strict=True)):
        at_risk = np.where(censored, time_days >= a, time_days > a)
        idx = np.flatnonzero(at_risk)
        lost = censored[idx] & (time_days[idx] < b)
        rows.append(idx)
        ints.append(np.full(idx.size, k))
        events.append(lost)
        exposure.append(np.where(lost, 1.0, np.clip((time_days[idx] - a) / (b - a), 0.0, 1.0)))
    return (np.concatenate(rows), np.concatenate(ints), np.concatenate(events),
            np.concatenate(exposure))


def _covariate_transform(columns: list[str]) -> ColumnTransformer:
    splines = [c for c in SPLINE_COLUMNS if c in columns]
    cats = [c for c in CATEGORICAL_COLUMNS if c in columns]
    numeric = [c for c in columns if c not in cats]
    parts = [("numeric", make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler()), numeric)]
    for c in splines:
        parts.append((f"spline_{c}", make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            SplineTransformer(n_knots=5, degree=3, knots="quantile", extrapolation="constant")),
            [c]))
    if cats:
        parts.append(("site", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cats))
    return ColumnTransformer(parts, sparse_threshold=0.0)


class CensoringModel:
    """P(still under follow-up) as a function of time since course end and covariates."""

    def __init__(self, horizon: float = HORIZON_DAYS, *, interval_terms: bool = False,
                 C: float = 1.0, tol: float = 1e-4) -> None:
        if horizon != EDGES[-1]:
            raise ValueError(f"the interval edges end at {EDGES[-1]:.0f} days")
        self.horizon = horizon
        self.n_int = len(EDGES) - 1
        self.interval_terms = interval_terms
        self.C = C
        self.tol = tol

    def _design(self, covariates: np.ndarray, interval: np.ndarray) -> np.ndarray:
        dummies = np.eye(self.n_int)[interval]
        if not self.interval_terms:
            return np.hstack([covariates, dummies])
        slope = (interval[:, None] - (self.n_int - 1) / 2) / self.n_int  # centred, |.| < 0.5
        return np.hstack([covariates, dummies, covariates * slope])

    def fit(self, Z: pd.DataFrame, time_days: np.ndarray, label_known: np.ndarray
            ) -> CensoringModel:
        t = np.minimum(time_days, self.horizon)
        rows, interval, event, exposure = _person_periods(t, ~label_known)
        if rows.size > MAX_FIT_PERIODS:
            # ~100 coefficients are settled long before millions of person-periods; the full
            # set made this fit 18 s of a 1M-course training run.
            keep = np.sort(np.random.default_rng(0).choice(rows.size, MAX_FIT_PERIODS,
                                                           replace=False))
            rows, interval, event, exposure = (rows[keep], interval[keep], event[keep],
                                               exposure[keep])
        self.transform = _covariate_transform(list(Z.columns)).fit(Z)
        covariates = self.transform.transform(Z)
        self.model = LogisticRegression(C=self.C, tol=self.tol, max_iter=5000)
        self.model.fit(self._design(covariates[rows], interval), event.astype(int),
                       sample_weight=exposure)
        return self

    def hazards(self, Z: pd.DataFrame) -> np.ndarray:
        """(n, intervals) probability of leaving follow-up in each interval, given still in."""
        covariates = self.transform.transform(Z)
        out = np.empty((len(Z), self.n_int))
        for k in range(self.n_int):
            interval = np.full(len(Z), k)
            out[:, k] = self.model.predict_proba(self._design(covariates, interval))[:, 1]
        return out

    def survival(self, Z: pd.DataFrame, time_days: np.ndarray) -> np.ndarray:
        """G(s | x) = P(follow-up lasts at least s days), s = min(time, horizon)."""
        s = np.minimum(np.asarray(time_days, dtype=float), self.horizon)
        share = np.clip((s[:, None] - EDGES[:-1]) / np.diff(EDGES), 0.0, 1.0)
        return np.prod(1.0 - self.hazards(Z) * share, axis=1)

    def weights(self, Z: pd.DataFrame, time_days: np.ndarray, label_known: np.ndarray,
                cap: float | None = None) -> IpcwResult:
        g = self.survival(Z, time_days)
        raw = np.where(label_known, 1.0 / np.clip(g, 1e-3, 1.0), 0.0)
        if cap is None:
            cap = float(np.quantile(raw[label_known], 0.99)) if label_known.any() else 1.0
        return IpcwResult(np.minimum(raw, cap), g, cap)

    def person_period_log_loss(self, Z: pd.DataFrame, time_days: np.ndarray,
                               label_known: np.ndarray) -> float:
        t = np.minimum(time_days, self.horizon)
        rows, interval, event, exposure = _person_periods(t, ~label_known)
        h = self.hazards(Z)[rows, interval]
        return float(log_loss(event, h, sample_weight=exposure, labels=[False, True]))


def select_censoring_model(Z_fit: pd.DataFrame, t_fit: np.ndarray, known_fit: np.ndarray,
                           Z_valid: pd.DataFrame, t_valid: np.ndarray, known_valid: np.ndarray,
                           ) -> CensoringModel:
    """Proportional-hazards model, or with interval x covariate terms if validation prefers."""
    plain = CensoringModel().fit(Z_fit, t_fit, known_fit)
    if len(Z_valid) == 0:
        return plain
    richer = CensoringModel(interval_terms=True).fit(Z_fit, t_fit, known_fit)
    losses = [m.person_period_log_loss(Z_valid, t_valid, known_valid) for m in (plain, richer)]
    return richer if losses[1] < losses[0] else plain
