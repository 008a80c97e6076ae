"""Optional dependencies, imported one way: where they are used, with one
error that names the missing package and how to install it."""
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
        ImportError: Naming the missing package and its install command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split('.')[0]
        package = PACKAGES.get(top, top)
        raise ImportError('{} needs {}, which is not installed: pip install '
                          '{}'.format(purpose, package, package)) from error
