"""Optional dependencies, imported one way: where they are used, with one
error that names the missing package and how to install it, or, where the
package is installed but does not load, why."""
import importlib

#: Top-level module -> the pip requirement that provides it.
PACKAGES = {
    'PIL': 'pillow',
    'rdkit': 'rdkit',
    'matplotlib': 'matplotlib',
    'tensorboardX': 'tensorboardX',
}


def require(module, purpose):
    """Imports an optional dependency.

    Args:
        module (str): Dotted module name, for example ``'rdkit.Chem'``.
        purpose (str): What needs it, for the error message, for example
            ``'MolVisualizer'``.

    Returns:
        module: The imported module.

    Raises:
        ImportError: Naming the missing package and its install command, or
            the package that is installed but fails to load and the error
            it gives (a shared library of the system that it needs, say).
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split('.')[0]
        package = PACKAGES.get(top, top)
        if _not_installed(error, module):
            raise ImportError('{} needs {}, which is not installed: pip '
                              'install {}'.format(purpose, package, package)
                              ) from error
        raise ImportError('{} needs {}, which is installed but fails to '
                          'load: {}: {}'.format(purpose, package,
                                                type(error).__name__, error)
                          ) from error


def _not_installed(error, module):
    """Whether importing ``module`` failed because it (or the package
    holding it) is not there, rather than inside it."""
    missing = getattr(error, 'name', None)
    return isinstance(error, ModuleNotFoundError) and missing is not None \
        and (module + '.').startswith(missing + '.')
