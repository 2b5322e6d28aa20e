import pytest


@pytest.fixture
def admin_client(sysadmin, login):
    """The test client signed in as a System Admin."""
    return login(sysadmin)


@pytest.fixture
def op_client(sysop, login):
    """The test client signed in as a System Operator."""
    return login(sysop)
