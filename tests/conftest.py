"""Shared fixtures."""
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread (float reductions then do not depend on the machine's cores),
    restoring the process's setting afterwards so that no test changes another's."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def released():
    """The authors' released SL-Swin-T CAS(ME)^2 score sets, per type."""
    from slswin_lib.scores import released_score_set

    return {e: released_score_set(e) for e in ("me", "mae")}
