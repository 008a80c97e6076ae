"""Optional dependencies: a missing package is named with its install
command; an installed one that fails to load is told apart, with its error
(found on a GPU machine, where RDKit's drawing lacked libXrender)."""
import pytest

from saliency_ext.optional import require


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """Writes packages whose ``__init__`` holds the given source."""
    def make(**sources):
        for name, source in sources.items():
            (tmp_path / name).mkdir()
            (tmp_path / name / '__init__.py').write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
    return make


def test_an_installed_package_is_returned():
    image = require('PIL.Image', 'ImageVisualizer')
    assert image.__name__ == 'PIL.Image' and hasattr(image, 'fromarray')


@pytest.mark.parametrize('module', ['absent_pkg_7', 'absent_pkg_7.draw'])
def test_a_missing_package_is_named_with_its_install_command(module):
    with pytest.raises(ImportError) as raised:
        require(module, 'MolVisualizer')
    assert str(raised.value) == ('MolVisualizer needs absent_pkg_7, which is '
                                 'not installed: pip install absent_pkg_7')


def test_a_missing_submodule_of_an_installed_package_is_not_installed(
        packages):
    packages(half_pkg_7='')
    with pytest.raises(ImportError, match='half_pkg_7, which is not '
                       'installed'):
        require('half_pkg_7.draw', 'MolVisualizer')


@pytest.mark.parametrize('source, error', [
    ("raise ImportError('libXrender.so.1: cannot open shared object file')",
     "ImportError: libXrender.so.1: cannot open shared object file"),
    ('import absent_dependency_7',
     "ModuleNotFoundError: No module named 'absent_dependency_7'"),
])
def test_an_installed_package_that_fails_to_load_says_why(
        packages, source, error):
    packages(broken_pkg_7=source)
    with pytest.raises(ImportError) as raised:
        require('broken_pkg_7', 'MolVisualizer')
    assert str(raised.value) == ('MolVisualizer needs broken_pkg_7, which is '
                                 'installed but fails to load: ' + error)
