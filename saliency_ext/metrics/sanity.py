"""Sanity checks of an explanation method.

- Model randomisation (Adebayo et al., 2018): a map that hardly changes when
  the model's parameters are re-initialised does not explain the model; it
  shows the input (an edge detector passes every time). The trained model's
  maps are compared with those of a randomised model by rank correlation.
- Completeness (Integrated Gradients): the attributions of an item add up to
  ``f(x) - f(baseline)``; the relative error says whether the path integral
  has converged.
"""
import contextlib

import numpy
from chainer import initializers

from saliency_ext.random_state import preserved_random_state

#: A trained model's maps whose mean rank correlation with the randomised
#: model's maps reaches this are as good as model-independent: warned about.
RANDOM_MODEL_THRESHOLD = 0.5
#: Seed of the re-initialisation, so that every run randomises alike; not a
#: seed people train with (a model built after seeding 0 and re-initialised
#: with seed 0 would get its initial parameters back, not random ones).
RANDOM_MODEL_SEED = 20180827


@contextlib.contextmanager
def randomized_parameters(model, *, seed=RANDOM_MODEL_SEED):
    """Re-initialises every parameter of ``model`` with its own initializer
    (as when the model was built; seeded), and puts the original arrays back
    on exit, also when the block raises.

    This is the randomised copy of the model-randomisation test, made in
    place: ``eval_fun`` closures and link hooks that refer to the model's
    own links see the randomised parameters. Persistent values (batch
    normalisation statistics) are kept. The global random state, the
    parameters' arrays and their gradients are as they were afterwards.

    Args:
        model (chainer.Link): The model to randomise.
        seed (int): Seed of the new parameters.
    """
    saved, seeded = [], set()
    try:
        with preserved_random_state():
            for param in model.params():
                if param.array is None:
                    continue
                device = param.device
                if device.xp not in seeded:  # once: the draws follow on
                    device.xp.random.seed(seed)
                    seeded.add(device.xp)
                fresh = initializers.generate_array(
                    param.initializer, param.shape, device.xp,
                    dtype=param.dtype, device=device)
                saved.append((param, param.array))
                param.array = fresh
        yield model
    finally:
        for param, array in saved:
            param.array = array


def completeness_error(span, saliency, real):
    """The relative completeness error of Integrated Gradients per item:
    ``|f(x) - f(b) - sum of attributions| / |f(x) - f(b)|``.

    Args:
        span (numpy.ndarray): ``f(x) - f(b)`` per item, ``(N,)`` (NaN for
            items left out).
        saliency (numpy.ndarray): The raw attribution maps ``(N, ...)``.
        real (numpy.ndarray): Booleans ``(N, ...)``: the positions summed.

    Returns:
        numpy.ndarray: ``(N,)``.
    """
    total = (saliency * real).reshape(len(saliency), -1).sum(axis=1)
    return numpy.abs(span - total) / numpy.abs(span)
