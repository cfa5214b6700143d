"""Fit the optional parts exported with a promoted version (riskmodel/extras.py):
the time-to-relapse model and the bootstrap ensemble behind prediction intervals.
Same rows as the classifier: train part to fit, validation part to stop / calibrate."""

from __future__ import annotations

from riskmodel.ensemble import BootstrapEnsemble
from riskmodel.survival import SurvivalModel
from training.fit import FitParams
from training.intervals import fit_ensemble
from training.survival import fit_survival

ENSEMBLE_MEMBERS = 10  # bounded by make train's time budget


def fit_extras(prep, *, rounds: int, params: FitParams, seed: int,
               members: int = ENSEMBLE_MEMBERS,
               client=None) -> tuple[SurvivalModel, BootstrapEnsemble]:
    """`prep`: training.prepare.Prepared; `rounds`: the classifier's boosted rounds;
    `client`: a Dask client (ENGINE=dask) fits the ensemble members on its workers."""
    frame = prep.ts.frame
    time_days = frame["time_days"].to_numpy(dtype=float)
    event = frame["event_observed"].to_numpy(dtype=bool)
    tr, va = prep.split.train, prep.split.valid
    survival, _ = fit_survival(prep.X[tr], time_days[tr], event[tr], prep.X[va], time_days[va],
                               event[va], seed=seed)
    ltr, lva = prep.rows(tr), prep.rows(va)
    ensemble = fit_ensemble(prep.X[ltr], prep.y[ltr], prep.weights[ltr],
                            frame["patient_id"].to_numpy()[ltr], prep.X[lva], prep.y[lva],
                            prep.weights[lva], rounds=rounds, members=members, seed=seed,
                            params=params, client=client)
    return survival, ensemble
