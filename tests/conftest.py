import pytest

from course_lib.devices import available_devices


@pytest.fixture(params=available_devices())
def device(request):
    """Every device present on the machine: CPU always, CUDA when there is one."""
    return request.param
