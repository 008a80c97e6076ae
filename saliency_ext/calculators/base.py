"""The batched core shared by every saliency calculator.

``compute`` converts the data in groups of ``batchsize`` items. For a group
of B items, a calculator's plan asks for ``n_blocks`` evaluations per sample
(1 for plain gradients, the steps of Integrated Gradients, the windows of
Occlusion); the M x n_blocks blocks of B rows each are stacked along the
batch axis and evaluated in as few passes as ``max_batch`` rows allow. The
perturbation of the target (noise, interpolation, occlusion) is applied to
the target variable inside the pass, wherever that variable lives: at a
model input, or at a link watched by a ``VariableMonitorLinkHook``.
"""
import contextlib
import inspect
import sys

import chainer
import chainer.functions as F
import numpy
from chainer import backend
from chainer.dataset import concat_examples

from saliency_ext.calculators import data as data_module
from saliency_ext.calculators import seeding, targets
from saliency_ext.calculators.aggregation import aggregate, spread
from saliency_ext.hooks import VariableMonitorLinkHook
from saliency_ext.validation import is_int


class Group(object):
    """A converted group of items and the state shared by its passes."""

    def __init__(self, converted, inputs, labels, M, noise_sampler,
                 seeds=None):
        self.converted = converted  # what the converter gave, label included
        self.inputs = inputs
        self.labels = labels
        self.size = len(inputs[0])
        self.xp = backend.get_array_module(inputs[0])
        self.M = M
        self.noise_sampler = noise_sampler
        self.seeds = seeds
        self.noise = None
        self.classes = None
        self.dropout = None if seeds is None else \
            seeding.ItemDropout(seeds, M)

    def add_noise(self, point, ms):
        """Adds each (sample, item)'s own noise, drawn once per group so that
        every block of one sample perturbs the item alike: from each item's
        own stream with seeds, else from the global random state."""
        if self.noise_sampler is None:
            return point
        if self.noise is None:
            items = point[0]
            if self.seeds is not None:
                self.noise = seeding.item_noise(self.noise_sampler, items,
                                                self.M, self.seeds)
            else:
                tiled = self.xp.broadcast_to(items, (self.M,) + items.shape)
                rows = tiled.reshape((-1,) + items.shape[1:])
                self.noise = self.noise_sampler.sample(rows).reshape(
                    tiled.shape)
        return point + self.noise[self.xp.asarray(ms)]

    def sampling(self, ms, train):
        """The context of a pass over the blocks of samples ``ms``: with
        seeds in training mode, each row's dropout masks come from its
        item's stream."""
        if train and self.dropout is not None:
            return self.dropout.pass_of(ms)
        return contextlib.nullcontext()


class BaseCalculator(object):
    """Base class of the saliency calculators.

    Args:
        model (chainer.Link): The model to explain.
        eval_fun (callable): Called with the converted inputs (without the
            label when ``label_index`` is set); returns the value to explain:
            a scalar, one value per item ``(N,)``, or, with ``target``, class
            scores ``(N, n_classes)``. Defaults to ``model`` itself. A scalar
            is differentiated as it is: return a sum of per-item values (not
            a mean) so that saliency does not depend on how rows are batched.
        target_extractor: What the saliency is taken with respect to: ``None``
            for the first model input, an int for another input, or a
            :class:`~saliency_ext.VariableMonitorLinkHook` for the input or
            output of one link (for integer inputs such as atom types,
            explain the output of the embedding link).
        output_extractor (VariableMonitorLinkHook): Explain the variable seen
            by this hook instead of the result of ``eval_fun``.
        device: Device specifier the data is sent to; defaults to the
            model's device.
        target (str or int): Per-item class choice for classifiers: ``'top'``
            explains each item's top prediction (from a clean pass in
            evaluation mode), ``'label'`` its label, an int that class. The
            explained value is then that class's score.
        label_index (int): Position of the label among the converted arrays.
            The label is withheld from the model and used by
            ``target='label'``.
        max_batch (int): The most rows evaluated in one pass: the memory
            budget. Samples, steps and windows are stacked up to it.
    """

    def __init__(self, model, *, eval_fun=None, target_extractor=None,
                 output_extractor=None, device=None, target=None,
                 label_index=None, max_batch=2048):
        if not isinstance(model, chainer.Link):
            raise TypeError('model must be a chainer.Link, got {!r}'.format(
                type(model).__name__))
        if eval_fun is not None and not callable(eval_fun):
            raise TypeError('eval_fun must be callable, got {!r}'.format(
                eval_fun))
        targets.check_target_options(target_extractor, output_extractor,
                                     target, label_index)
        if not is_int(max_batch) or max_batch < 1:
            raise ValueError('max_batch must be an int >= 1, got {!r}'.format(
                max_batch))
        self.model = model
        self.eval_fun = model if eval_fun is None else eval_fun
        self.target_extractor = target_extractor
        self.output_extractor = output_extractor
        self.device = None if device is None else chainer.get_device(device)
        self.target = target
        self.label_index = label_index
        self.max_batch = int(max_batch)
        self._eval_signature = None  # read at the first compute

    # -- public API ---------------------------------------------------------

    def compute(self, data, M=1, batchsize=16, converter=concat_examples,
                retain_inputs=False, preprocess_fn=None, postprocess_fn=None,
                train=False, noise_sampler=None, show_progress=False, *,
                item_seeds=None):
        """Computes saliency samples.

        The arguments are those of Chainer Chemistry's ``compute``, in its
        order.

        Args:
            data: An array (one item per row), a tuple of arrays, or a Chainer
                dataset whose items are arrays or tuples of arrays.
            M (int): Number of samples per item. Above 1 it only makes sense
                with ``train=True`` and/or ``noise_sampler``.
            batchsize (int): Items handed to ``converter`` at once (the unit
                of padding for variable-size items such as molecules).
            converter (callable): ``converter(batch, device)`` turning a list
                of items into an array or a tuple of arrays.
            retain_inputs (bool): Keep the converted arrays (after
                ``preprocess_fn``, the label included) in ``self.inputs``, a
                list of numpy arrays with one row per item.
            preprocess_fn (callable): Called with the converted arrays of
                each group of items; returns the arrays to use instead (an
                array or a tuple).
            postprocess_fn (callable): Called with the saliency of each
                sample of each group of items, ``(B, ...)``; returns the
                array (or Variable) to keep instead.
            train (bool): Evaluate in training mode so that dropout is
                sampled: BayesGrad. Every row draws its own mask.
            noise_sampler: Adds noise to the target, for example
                :class:`~saliency_ext.GaussianNoiseSampler`: SmoothGrad.
            show_progress (bool): Show a progress bar over the items.
            item_seeds (sequence): One seed per item (an int >= 0 or a tuple
                of them). Each item then draws its noise and its dropout
                masks from its own generators, never from the global random
                state, so its samples do not depend on the items computed
                with it (``SaliencyReport`` seeds them by its seed, the
                item's dataset index and the epoch). All blocks of one
                sample (the steps of Integrated Gradients, the windows of
                Occlusion) then see the same dropout masks. A custom
                ``noise_sampler`` must accept ``sample(target, rng=...)``.
                ``None``: the global random state, every row its own mask.

        Returns:
            numpy.ndarray: Samples shaped ``(M,) + target.shape``. Items of
            groups padded to different sizes are zero-padded to the largest.
        """
        samples, _ = self._compute(
            data, M, batchsize, converter, retain_inputs, preprocess_fn,
            postprocess_fn, train, noise_sampler, show_progress, item_seeds)
        return samples

    def explain_outputs(self, data, batchsize=16, converter=concat_examples):
        """What the saliency of each item explains, from one clean pass in
        evaluation mode: the model's output for the item.

        Args:
            data, batchsize, converter: As for :meth:`compute`.

        Returns:
            dict: ``values`` (the explained value of each item, ``(N,)``;
            None when ``eval_fun`` returns a scalar), ``classes`` (the class
            each value is the score of, with ``target``; else None) and
            ``labels`` (the items' labels when ``label_index`` is set, else
            None), as numpy arrays.
        """
        values, classes, labels = [], [], []
        dataset = data_module.as_dataset(data)
        device = self.device or self.model.device
        for converted, _ in data_module.converted_groups(
                data, dataset, min(int(batchsize), self.max_batch), converter,
                device):
            group = self._make_group(converted, 1, None, None)
            _, value, _ = self._evaluate(group, numpy.zeros(1, numpy.int64),
                                         lambda p: p, False, False)
            values.append(None if value is None else value[0])
            classes.append(group.classes)
            labels.append(group.labels)

        def joined(parts):
            if any(p is None for p in parts):
                return None
            return numpy.concatenate([backend.CpuDevice().send(p)
                                      for p in parts])
        return dict(values=joined(values), classes=joined(classes),
                    labels=joined(labels))

    def evaluate(self, data, perturbation, *, batchsize=16,
                 converter=concat_examples):
        """Evaluates the explained value of every item at perturbed copies
        of its target, forward only and in evaluation mode, in the same
        batched passes as :meth:`compute` (the copies of all items are
        stacked along the batch axis, up to ``max_batch`` rows a pass).

        Args:
            data: As for :meth:`compute`.
            perturbation: An object with ``n_blocks`` (copies per item) and
                ``transform(point, ks, items)``, which returns the perturbed
                targets for ``point``, the clean targets of a group of items
                shaped ``(n, B, ...)`` for its blocks ``ks`` (``(n,)``);
                ``items`` (``(B,)``) are the positions of the group's items
                in ``data``.
            batchsize (int): Items converted at once, as for :meth:`compute`.
            converter (callable): As for :meth:`compute`.

        Returns:
            numpy.ndarray: The explained values shaped ``(n_blocks, N)``.
        """
        self._check_compute_args(1, batchsize, converter, None, {})
        n_blocks = perturbation.n_blocks
        results = []
        for group, items in self._groups(data, 1, batchsize, converter, None,
                                         False):
            values = group.xp.empty((n_blocks, group.size), numpy.float64)
            for ks in self._block_slices(group, n_blocks):
                _, block_values, _ = self._evaluate(
                    group, numpy.zeros(len(ks), numpy.int64),
                    lambda p, ks=ks: perturbation.transform(p, ks, items),
                    False, False)
                if block_values is None:
                    raise ValueError('evaluating perturbed targets needs one '
                                     'explained value per item; eval_fun '
                                     'returned a scalar')
                values[ks[0]:ks[-1] + 1] = block_values
            results.append(backend.CpuDevice().send(values))
        return numpy.concatenate(results, axis=1)

    def baseline_like(self, point):
        """The reference a perturbation replaces target values with, shaped
        like ``point``: zeros (Integrated Gradients uses its baseline)."""
        return backend.get_array_module(point).zeros_like(point)

    def aggregate(self, samples, method='raw', ch_axis=None):
        """Averages samples over the sample axis; see
        :func:`saliency_ext.calculators.aggregation.aggregate`."""
        return aggregate(samples, method=method, ch_axis=ch_axis)

    def spread(self, samples, method='raw', ch_axis=None):
        """The standard deviation over the sample axis of what
        :meth:`aggregate` averages; see
        :func:`saliency_ext.calculators.aggregation.spread`."""
        return spread(samples, method=method, ch_axis=ch_axis)

    def settings(self):
        """The options that define this calculator's result, as a
        JSON-serialisable dict. Reports save it with every map, and
        ``saliency-replay --resume`` compares it; run state never enters
        it. ``eval_fun`` cannot be described and is left out."""
        return dict(
            target=self.target, label_index=self.label_index,
            target_extractor=targets.describe_target(
                self.model, self.target_extractor),
            output_extractor=None if self.output_extractor is None else
            targets.describe_target(self.model, self.output_extractor))

    # -- what a calculator defines --------------------------------------------

    #: Whether the plan's contributions need the gradient of the target.
    needs_grad = True
    #: Whether passes that need no gradient still record the graph
    #: (``chainer.config.enable_backprop``).
    enable_backprop = False
    #: The model input that a noise sampler perturbs; None for the target.
    noise_input = None

    def _plan(self, group, train):
        """Returns the group's plan: an object with ``n_blocks`` (blocks per
        sample), ``transform(point, ks)`` and ``contribution(point, ks,
        values, grads)``, where ``point`` is the (possibly noised) target
        shaped (n, B, ...) for n blocks whose block indexes are ``ks``."""
        raise NotImplementedError

    # -- validation ---------------------------------------------------------

    def _check_compute_args(self, M, batchsize, converter, noise_sampler,
                            functions):
        if not is_int(M) or M < 1:
            raise ValueError('M must be an int >= 1, got {!r}'.format(M))
        if not is_int(batchsize) or batchsize < 1:
            raise ValueError('batchsize must be an int >= 1, got {!r}'.format(
                batchsize))
        if not callable(converter):
            raise TypeError('converter must be callable, got {!r}'.format(
                converter))
        if noise_sampler is not None and not callable(
                getattr(noise_sampler, 'sample', None)):
            raise TypeError('noise_sampler must have a sample(target) method, '
                            'got {!r}'.format(noise_sampler))
        for name, function in functions.items():
            if function is not None and not callable(function):
                raise TypeError('{} must be callable, got {!r}'.format(
                    name, function))

    def _check_no_batch_coupling(self):
        coupling = [chainer.links.BatchNormalization]
        chainermn = sys.modules.get('chainermn')  # a model can hold one only
        if chainermn is not None:  # once ChainerMN is imported
            coupling.append(chainermn.links.MultiNodeBatchNormalization)
        for path, link in self.model.namedlinks():
            if isinstance(link, tuple(coupling)):
                raise ValueError(
                    'train=True (BayesGrad) samples the model in training '
                    'mode, but link {!r} is a {}: in training mode it '
                    'normalises over the whole stacked batch (across '
                    'processes for ChainerMN\'s), which couples the samples, '
                    'and it would update its running statistics. Use '
                    'train=False, or a model whose stochastic layers act on '
                    'each row alone (dropout).'.format(
                        path, type(link).__name__))

    # -- the batched core -----------------------------------------------------

    def _compute(self, data, M, batchsize, converter, retain_inputs,
                 preprocess_fn, postprocess_fn, train, noise_sampler,
                 show_progress, item_seeds, finish=None):
        """What ``compute`` does; also returns, per group, what
        ``finish(group, samples, train)`` returned (a method's extra
        result, such as the completeness error of Integrated Gradients)."""
        self._check_compute_args(M, batchsize, converter, noise_sampler, dict(
            preprocess_fn=preprocess_fn, postprocess_fn=postprocess_fn))
        if train:
            self._check_no_batch_coupling()
        results, extras, retained = [], [], []
        for group, _ in self._groups(data, M, batchsize, converter,
                                     noise_sampler, show_progress,
                                     preprocess_fn, item_seeds):
            if retain_inputs:
                retained.append([backend.CpuDevice().send(a)
                                 for a in _as_tuple(group.converted)])
            samples = self._compute_group(group, train)
            if finish is not None:
                extras.append(finish(group, samples, train))
            if postprocess_fn is not None:
                samples = group.xp.stack([_as_array(postprocess_fn(s))
                                          for s in samples])
            results.append(backend.CpuDevice().send(samples))
        if retain_inputs:
            self.inputs = [data_module.concat_padded(list(arrays), axis=0)
                           for arrays in zip(*retained)]
        return data_module.concat_padded(results), extras

    def _groups(self, data, M, batchsize, converter, noise_sampler,
                show_progress, preprocess_fn=None, item_seeds=None):
        """Yields each converted group of items (after ``preprocess_fn``,
        with its items' seeds) and the positions of its items in
        ``data``."""
        dataset = data_module.as_dataset(data)
        if item_seeds is not None:
            item_seeds = seeding.check_item_seeds(item_seeds, len(dataset))
            if noise_sampler is not None:
                seeding.check_sampler(noise_sampler)
        device = self.device or self.model.device
        group_size = min(int(batchsize), self.max_batch)
        start = 0
        with data_module.progress_bar(show_progress, len(dataset)) as bar:
            for converted, size in data_module.converted_groups(
                    data, dataset, group_size, converter, device):
                if preprocess_fn is not None:
                    converted = preprocess_fn(*_as_tuple(converted))
                seeds = None if item_seeds is None else \
                    item_seeds[start:start + size]
                yield (self._make_group(converted, M, noise_sampler, seeds),
                       numpy.arange(start, start + size))
                start += size
                bar.update(size)

    def _make_group(self, converted, M, noise_sampler, seeds=None):
        inputs, labels = data_module.split_label(converted, self.label_index)
        self._check_inputs(converted, inputs)
        group = Group(converted, inputs, labels, M, noise_sampler, seeds)
        group.classes = self._classes(group)
        return group

    def _check_inputs(self, converted, inputs):
        """Checks that ``eval_fun`` takes the model inputs and that an input
        target holds floats; the messages name ``label_index`` where it is
        the likely cause. Cheap unless it fails: it runs for every group."""
        if self._eval_signature is None:
            self._eval_signature = _signature_of(self.eval_fun)
        function, signature = self._eval_signature
        if signature is not None:
            try:
                signature.bind(*inputs)
            except TypeError as error:
                raise TypeError('eval_fun {}{} cannot take the {} model '
                                'input(s): {}. {}'.format(
                                    getattr(function, '__qualname__',
                                            type(function).__name__),
                                    signature, len(inputs), error,
                                    self._inputs_hint(converted))) from error
        if isinstance(self.target_extractor, VariableMonitorLinkHook):
            return
        index = self.target_extractor or 0
        if not -len(inputs) <= index < len(inputs):
            raise IndexError('target_extractor {} is out of range: the model '
                             'takes {} inputs ({})'.format(
                                 index, len(inputs),
                                 data_module.describe_arrays(inputs)))
        if inputs[index].dtype.kind != 'f':
            raise TypeError(
                'the saliency target, model input {}, has dtype {}: gradients '
                'need floats. {} For integer inputs such as atom types, '
                'explain the output of the embedding link with '
                'target_extractor=VariableMonitorLinkHook(embed_link)'.format(
                    index, inputs[index].dtype,
                    self._inputs_hint(converted)))

    def _inputs_hint(self, converted):
        """What the converter returned and what ``label_index`` made of it,
        for the messages of :meth:`_check_inputs`."""
        converted = _as_tuple(converted)
        arrays = 'The converter returned {}.'.format(
            data_module.describe_arrays(converted))
        if self.label_index is None:
            return arrays + (' If the last array is the label, pass '
                             'label_index=-1: it is then withheld from the '
                             'model.')
        return arrays + (
            ' label_index={} withholds converted array {} ({}) as the label; '
            'if the label is another array, change label_index (-1 for the '
            'last).'.format(self.label_index,
                            self.label_index % len(converted),
                            data_module.describe_arrays(
                                [converted[self.label_index]])))

    def _classes(self, group):
        xp = group.xp
        if self.target is None:
            return None
        if self.target == 'label':
            return xp.asarray(group.labels).reshape(-1).astype(numpy.int32)
        if self.target == 'top':
            with chainer.using_config('train', False), \
                    chainer.no_backprop_mode():
                scores = self._call(list(group.inputs))
            targets.check_scores(self.target, scores, group.size)
            return scores.array.argmax(axis=1).astype(numpy.int32)
        return xp.full(group.size, self.target, dtype=numpy.int32)

    def _block_slices(self, group, n_blocks):
        """Yields the block indexes of each pass."""
        per_pass = max(1, self.max_batch // group.size)
        for start in range(0, n_blocks, per_pass):
            yield numpy.arange(start, min(start + per_pass, n_blocks))

    def _compute_group(self, group, train):
        plan = self._plan(group, train)
        total = None
        for blocks in self._block_slices(group, group.M * plan.n_blocks):
            ms, ks = blocks // plan.n_blocks, blocks % plan.n_blocks
            point, values, grads = self._evaluate(
                group, ms, lambda p: plan.transform(p, ks), train,
                self.needs_grad)
            contribution = plan.contribution(point, ks, values, grads)
            if total is None:
                total = group.xp.zeros(
                    (group.M,) + contribution.shape[1:], contribution.dtype)
            if plan.n_blocks == 1:  # one block per sample: no reduction
                total[ms[0]:ms[-1] + 1] += contribution
                continue
            for m in numpy.unique(ms):
                rows = numpy.flatnonzero(ms == m)  # contiguous: ms is sorted
                total[m] += contribution[rows[0]:rows[-1] + 1].sum(axis=0)
        return total

    def _evaluate(self, group, ms, transform, train, need_grad):
        """Evaluates ``len(ms)`` blocks of the group's rows in one pass.

        Returns the blocks' points ``(n, B, ...)``, their explained values
        ``(n, B)`` (None for a scalar objective) and, when ``need_grad``, the
        gradients with respect to the transformed target ``(n, B, ...)``.
        """
        n, size = len(ms), group.size
        rows = group.xp.tile(group.xp.arange(size), n)
        seen = {}

        def blocks(array):
            return array.reshape((n, size) + array.shape[1:])

        def substitute(clean):
            point = blocks(clean)
            if self.noise_input is None:
                point = group.add_noise(point, ms)
            seen['point'] = point
            return transform(point).reshape(clean.shape).astype(
                clean.dtype, copy=False)

        inputs = list(group.inputs) if n == 1 else [x[rows] for x in
                                                    group.inputs]
        if self.noise_input is not None:
            clean = inputs[self.noise_input]
            inputs[self.noise_input] = group.add_noise(
                blocks(clean), ms).reshape(clean.shape).astype(
                    clean.dtype, copy=False)
        with chainer.using_config('train', train), \
                chainer.using_config('enable_backprop',
                                     need_grad or self.enable_backprop), \
                group.sampling(ms, train):
            target_var, out = self._forward(inputs, substitute)
            values = targets.explained_values(
                out, len(rows), self.target,
                None if group.classes is None else group.classes[rows])
        grads = None
        if need_grad:
            objective = values if values.ndim == 0 else F.sum(values)
            grad, = chainer.grad([objective], [target_var])
            if grad is None:
                raise ValueError('the explained value does not depend on the '
                                 'saliency target ({})'.format(
                                     targets.describe_target(
                                         self.model, self.target_extractor)))
            grads = grad.array.reshape(seen['point'].shape)
        if values.ndim != 0:
            values = values.array.reshape(n, size)
        else:
            values = None
        return seen['point'], values, grads

    def _forward(self, inputs, substitute):
        """Runs the model with the target replaced by ``substitute(clean)``;
        returns the target variable (a root of the graph) and the output."""
        hook = self.target_extractor
        if isinstance(hook, VariableMonitorLinkHook):
            def process(variable):
                variable.array = substitute(variable.array)
                variable.unchain()
            hook.process = process
            try:
                with hook:
                    out = self._call(inputs)
                    targets.check_single_call(self.model, hook)
            finally:
                hook.process = None
            return hook.variable, out
        index = hook or 0  # checked by _check_inputs
        variable = chainer.Variable(substitute(inputs[index]))
        inputs[index] = variable
        return variable, self._call(inputs)

    def _call(self, inputs):
        hook = self.output_extractor
        if hook is None:
            return self.eval_fun(*inputs)
        with hook:
            self.eval_fun(*inputs)
            targets.check_single_call(self.model, hook)
        return hook.variable

    def _item_shape(self, group, train):
        """The shape of one item's target, from a forward-only pass."""
        point, _, _ = self._evaluate(group, numpy.zeros(1, numpy.int64),
                                     lambda p: p, train, False)
        return point.shape[2:]


def _as_tuple(converted):
    return tuple(converted) if isinstance(converted, (tuple, list)) else \
        (converted,)


def _as_array(value):
    return value.array if isinstance(value, chainer.Variable) else value


def _signature_of(eval_fun):
    """``(function, signature)`` of what calling ``eval_fun`` runs: a link's
    ``forward`` when the link keeps ``Link.__call__`` (which takes anything);
    the signature is None where Python cannot read one."""
    function = eval_fun
    if isinstance(eval_fun, chainer.Link) and \
            type(eval_fun).__call__ is chainer.Link.__call__:
        function = eval_fun.forward
    try:
        return function, inspect.signature(function)
    except (TypeError, ValueError):  # builtins: nothing to check
        return function, None
