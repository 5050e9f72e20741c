"""The examples in the library's docstrings run and give what they show."""
import doctest
import importlib

import pytest

MODULES = ["slswin_lib.config", "slswin_lib.report", "slswin_lib.sweep", "slswin_lib.deploy.checkpoint",
           "slswin_lib.data.base", "slswin_lib.scores", "slswin_lib.spotting", "slswin_lib.evaluation",
           "slswin_lib.trainfree.of_analysis", "slswin_lib.trainfree.of_signals", "slswin_lib.trainfree.ofspot",
           "slswin_lib.trainfree.baseline", "slswin_lib.training.stream", "slswin_lib.training.trainer",
           "slswin_lib.timing", "slswin_lib.comparison", "slswin_lib.models", "slswin_lib.intervals",
           "slswin_lib.peers", "slswin_lib.results", "slswin_lib.features.preprocess"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} fail"
