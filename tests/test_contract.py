"""Every channel kind keeps the contract of its platform's answers (``tests/contract.py``), or says why it has none.

A kind's test module, ``tests/test_<kind>.py``, holds its ``CONTRACT``: a ``contract.Contract`` whose cases it
runs, or a sentence saying why the kind answers no HTTP. Adding a kind adds its module, its fake and its
``CONTRACT``; neither this file nor the harness changes.
"""

from importlib import import_module

import pytest

from channels import REGISTRY
from tests import contract


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_kind_has_its_contract_in_its_own_tests_or_says_why_not(kind):
    module = import_module(f"tests.test_{kind}")
    found = getattr(module, "CONTRACT", None)
    assert isinstance(found, contract.Contract) or (isinstance(found, str) and found.strip()), kind
    if isinstance(found, contract.Contract):
        assert found.kind == kind
        assert any(name.startswith("test_") and getattr(test, "__name__", "") ==
                   "test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows"
                   for name, test in vars(module).items()), f"tests/test_{kind}.py does not run its contract's cases"
