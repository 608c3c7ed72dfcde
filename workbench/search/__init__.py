"""Hyperparameter and architecture search: Optuna studies whose trials are training runs."""
from workbench.search.study import (Options, Search, SearchError, TrialRecord, best, open_study,
                                    records)

__all__ = ["Options", "Search", "SearchError", "TrialRecord", "best", "open_study", "records"]
