"""Loads an example training script as a module, as the tests use them."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def load_example(name):
    """The module ``examples/<name>/train_<name>.py``."""
    path = os.path.join(ROOT, 'examples', name, 'train_{}.py'.format(name))
    spec = importlib.util.spec_from_file_location(
        'example_train_{}'.format(name), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
