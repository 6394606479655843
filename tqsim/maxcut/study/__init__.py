"""Studies: grids of MaxCut training runs, stored in SQLite, resumable, with statistics and plots.

``grid`` lists the runs, ``store`` keeps their results, ``runner`` trains the
missing ones, ``baselines`` gives classical references, ``report`` the
statistics, plots and CSV, ``command`` the ``tqsim study`` command (one
module per job).
"""

from .baselines import GWResult, goemans_williamson, one_exchange
from .grid import RunSpec, StudyGrid
from .report import export_csv, format_summary, plot, summary
from .runner import run_study
from .store import StudyStore

__all__ = [
    "GWResult", "RunSpec", "StudyGrid", "StudyStore", "export_csv", "format_summary", "goemans_williamson",
    "one_exchange", "plot", "run_study", "summary",
]
