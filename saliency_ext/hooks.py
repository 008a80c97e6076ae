"""A link hook that makes the input or output of one link a saliency target."""
import collections

import chainer


def link_path(model, link):
    """Returns the path of ``link`` inside ``model`` (``'/'`` for the model
    itself), or the link's name when it does not belong to the model."""
    for path, candidate in model.namedlinks():
        if candidate is link:
            return path
    return link.name or type(link).__name__


class VariableMonitorLinkHook(chainer.LinkHook):
    """Watches the input or output variable of one link.

    A calculator uses it as ``target_extractor`` (the saliency is taken with
    respect to that variable: the output of an embedding link, for a graph
    network whose inputs are integer atom types) or as ``output_extractor``
    (the explained value is that variable). The hook is added to the watched
    link only, for the duration of a ``with`` block, and removed when the
    block exits, also when it raises; it never registers globally.

    Args:
        target_link (chainer.Link): The link to watch.
        timing (str): ``'post'`` watches the link's output, ``'pre'`` its
            first positional input, which must then be a ``chainer.Variable``.
        name (str): Name under which the hook is added to the link. Defaults
            to a name unique to this hook.

    Attributes:
        variable (chainer.Variable): The variable seen at the last call.
        n_calls (int): How often the link ran since the hook was entered.
        process (callable): Optional function applied to the variable each
            time the link runs (calculators use it to substitute the
            perturbed target); ``None`` to only record it.

    As in Chainer Chemistry, :meth:`add_process` registers more functions,
    called as ``fn(hook, args, variable)`` after ``process`` each time the
    link runs, and :meth:`get_variable` returns the variable last seen.
    """

    def __init__(self, target_link, *, timing='post', name=None):
        if not isinstance(target_link, chainer.Link):
            raise TypeError('VariableMonitorLinkHook watches a chainer.Link, '
                            'got {!r}'.format(type(target_link).__name__))
        if timing not in ('pre', 'post'):
            raise ValueError("timing must be 'pre' or 'post', got {!r}"
                             .format(timing))
        self.target_link = target_link
        self.timing = timing
        self.name = name or 'VariableMonitorLinkHook-{:x}'.format(id(self))
        self.process = None
        self.process_fns = collections.OrderedDict()
        self.variable = None
        self.n_calls = 0

    def add_process(self, key, fn):
        """Registers ``fn(hook, args, variable)`` under ``key`` (replacing
        one of the same key), called each time the link runs."""
        if not isinstance(key, str):
            raise TypeError('key must be a str, got {!r}'.format(key))
        if not callable(fn):
            raise TypeError('fn must be callable, got {!r}'.format(fn))
        self.process_fns[key] = fn

    def delete_process(self, key):
        """Removes the function registered under ``key``."""
        if key not in self.process_fns:
            raise KeyError('no process {!r} is registered; registered: {}'
                           .format(key, list(self.process_fns)))
        del self.process_fns[key]

    def get_variable(self):
        """The variable seen at the last call (None before any)."""
        return self.variable

    def __enter__(self):
        self.variable = None
        self.n_calls = 0
        self.target_link.add_hook(self, name=self.name)
        return self

    def __exit__(self, *exc_info):
        self.target_link.delete_hook(self.name)

    def forward_preprocess(self, args):
        if self.timing == 'pre':
            self._watch(args, args.args[0] if args.args else None)

    def forward_postprocess(self, args):
        if self.timing == 'post':
            self._watch(args, args.out)

    def _watch(self, args, variable):
        if not isinstance(variable, chainer.Variable):
            raise TypeError(
                "VariableMonitorLinkHook(timing={!r}) on link {!r} needs a "
                "chainer.Variable there, got {}; watch another link or use "
                "the model input as the target".format(
                    self.timing, self.target_link.name,
                    type(variable).__name__))
        self.n_calls += 1
        self.variable = variable
        if self.process is not None:
            self.process(variable)
        for fn in self.process_fns.values():
            fn(self, args, variable)
