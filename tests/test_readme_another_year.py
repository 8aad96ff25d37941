"""The README's tours at a date in another year (``tests/test_readme.py`` runs them at the real date): a few
days after the year begins, between the day's two slots, no plan for that year yet. A file of its own, so the
two runs go to different workers."""

import pytest

from tests.test_readme import run_the_tours

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_every_tour_of_the_readme_runs_as_written_in_another_year(tmp_path):
    run_the_tours(tmp_path, "2028-01-05 05:40:00")  # 12:40 in Vietnam
