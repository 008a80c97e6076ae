"""The device the tests that take one run on: ``pytest --device 0`` runs
them on GPU 0 (cupy), the default ``-1`` on the CPU."""
import chainer
import pytest


def pytest_addoption(parser):
    parser.addoption('--device', default='-1',
                     help='device of the tests that take one: -1 for the '
                     'CPU (default), a GPU id such as 0 (needs cupy), or a '
                     'Chainer device specifier')


def device_of(spec):
    """A Chainer device from ``-1``, a GPU id or a specifier; skips the
    test, with the reason, when a GPU is asked for and cupy sees none."""
    spec = str(spec)
    if spec.lstrip('-').isdigit():
        spec = '@numpy' if int(spec) < 0 else '@cupy:{}'.format(spec)
    if spec.startswith('@cupy'):
        cuda = chainer.backends.cuda
        if not cuda.available:
            pytest.skip('--device {}: cupy is not installed or cannot load '
                        'CUDA'.format(spec))
        if cuda.cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip('--device {}: cupy sees no GPU'.format(spec))
    return chainer.get_device(spec)


@pytest.fixture(scope='session')
def device(request):
    """The Chainer device given by ``--device`` (the CPU by default)."""
    found = device_of(request.config.getoption('--device'))
    found.use()
    return found
