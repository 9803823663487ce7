from tests.flow.conftest import flow  # noqa: F401 - the service's processes, as in the flow tests
