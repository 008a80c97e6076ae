"""Times every saliency method against its floor and a one-pass-per-sample loop.

The floor of a method is one forward (+ backward for gradient methods) pass
over its whole expanded batch: every sample, step or window of every item
stacked along the batch axis, with the target perturbed as the method does.
The loop evaluates the same work one row per pass: one item with one
sample, step or window, the plain definition. Where ``chainer_chemistry`` is
installed, its saliency module runs on the same model and data too.

Usage: python scripts/benchmark_calculators.py [--repeat 5] [--device -1]
    [--cases table image graph]
"""
import argparse
import statistics
import time

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from saliency_ext import (GaussianNoiseSampler, GradCAMCalculator,
                          GradientCalculator, IntegratedGradientsCalculator,
                          OcclusionCalculator, VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor

M = 30
STEPS = 25


class MLP(chainer.Chain):
    def __init__(self):
        super(MLP, self).__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 64)
            self.l2 = L.Linear(64, 64)
            self.l3 = L.Linear(64, 3)

    def forward(self, x):
        h = F.dropout(F.relu(self.l1(x)), 0.2)
        return self.l3(F.dropout(F.relu(self.l2(h)), 0.2))


class CNN(chainer.Chain):
    def __init__(self):
        super(CNN, self).__init__()
        with self.init_scope():
            self.c1 = L.Convolution2D(3, 16, 3, pad=1)
            self.c2 = L.Convolution2D(16, 32, 3, pad=1)
            self.fc = L.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        h = F.max_pooling_2d(F.relu(self.c1(x)), 2)
        h = F.max_pooling_2d(F.relu(self.c2(h)), 2)
        return self.fc(F.dropout(h, 0.2))


def table_case():
    from sklearn.datasets import load_iris
    x = load_iris().data.astype(numpy.float32)
    model = MLP()
    return dict(name='MLP, table 150 x 4', model=model, data=x,
                score=lambda x: model(x)[:, 0], target={}, slide_axis=1,
                converter=chainer.dataset.concat_examples, occlusion_size=1,
                occlusion_stride=1)


def image_case():
    x = numpy.random.RandomState(0).rand(16, 3, 32, 32).astype(numpy.float32)
    model = CNN()
    return dict(name='CNN, 16 images 3 x 32 x 32', model=model, data=x,
                score=lambda x: model(x)[:, 0], target={},
                slide_axis=(2, 3), converter=chainer.dataset.concat_examples,
                occlusion_size=4, occlusion_stride=4, cam_link=model.c2)


def graph_case():
    esol = load_esol()
    model = GraphRegressor()
    hook_link = model.graph.embed
    return dict(name='GGNN, 64 ESOL molecules', model=model,
                data=esol.dataset[:64], score=lambda a, e, t: model(a, e)[:, 0],
                target=dict(target_extractor=VariableMonitorLinkHook(
                    hook_link)), hook_link=hook_link, slide_axis=1,
                converter=concat_mols, occlusion_size=1, occlusion_stride=1)


CASES = dict(table=table_case, image=image_case, graph=graph_case)


def methods(case):
    """(label, calculator factory, compute kwargs, rows per item, grad,
    the link whose output the floor differentiates: None for the case's
    own target)."""
    common = dict(eval_fun=case['score'], **case['target'])
    occlusion = dict(size=case['occlusion_size'],
                     stride=case['occlusion_stride'],
                     slide_axis=case['slide_axis'])
    noise = GaussianNoiseSampler()
    table = [
        ('VanillaGrad', lambda **kw: GradientCalculator(case['model'], **kw),
         dict(), 1, True, None),
        ('Gradient x input', lambda **kw: GradientCalculator(
            case['model'], multiply_target=True, **kw), dict(), 1, True,
         None),
        ('SmoothGrad M=30', lambda **kw: GradientCalculator(
            case['model'], **kw), dict(M=M, noise_sampler=noise), M, True,
         None),
        ('BayesGrad M=30', lambda **kw: GradientCalculator(
            case['model'], **kw), dict(M=M, train=True), M, True, None),
        ('IntegratedGrad 25', lambda **kw: IntegratedGradientsCalculator(
            case['model'], steps=STEPS, **kw), dict(), STEPS, True, None),
        ('Occlusion', lambda **kw: OcclusionCalculator(
            case['model'], **occlusion, **kw), dict(), None, False, None),
    ]
    link = case.get('cam_link')
    if link is not None:
        def cam(**kw):
            return GradCAMCalculator(
                case['model'], target_extractor=VariableMonitorLinkHook(link),
                **kw)
        table += [('Grad-CAM', cam, dict(), 1, True, link),
                  ('Grad-CAM M=30 noise', cam,
                   dict(M=M, noise_sampler=noise), M, True, link)]
    return table, common


def device_of(spec):
    """The Chainer device of a ``--device`` argument: -1 for the CPU, a GPU
    id or a Chainer device name."""
    return chainer.get_device(int(spec) if spec.lstrip('-').isdigit()
                              else spec)


def synchronize():
    """Waits for the GPU's queued kernels, so that a time covers them (a
    no-op on the CPU)."""
    if chainer.backends.cuda.available:
        chainer.backends.cuda.cupy.cuda.Device().synchronize()


def timed(fn, repeat):
    fn()  # warm-up
    synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor_fn(case, inputs, rows, grad, train, hook_link):
    """One pass over ``rows`` stacked copies of each item, differentiated
    with respect to the output of ``hook_link`` (None: the first input)."""
    index = numpy.tile(numpy.arange(len(inputs[0])), rows)
    stacked = [x[index] for x in inputs]

    def run():
        with chainer.using_config('train', train), \
                chainer.using_config('enable_backprop', grad):
            if hook_link is None:
                target = chainer.Variable(stacked[0])
                out = case['score'](target, *stacked[1:])
            else:
                hook = VariableMonitorLinkHook(hook_link)
                hook.process = lambda v: v.unchain()
                with hook:
                    out = case['score'](*stacked)
                target = hook.variable
            if grad:
                chainer.grad([F.sum(out)], [target])
    return run


def occlusion_rows(case):
    """Windows + reference rows per item, counted by the calculator for the
    target's shape (taken from one gradient pass)."""
    data = case['data']
    shape = GradientCalculator(
        case['model'], eval_fun=case['score'], **case['target']).compute(
            data, batchsize=len(data), converter=case['converter']).shape[2:]
    calc = OcclusionCalculator(case['model'], eval_fun=case['score'],
                               size=case['occlusion_size'],
                               stride=case['occlusion_stride'],
                               slide_axis=case['slide_axis'],
                               **case['target'])
    return calc.n_windows(shape) + 1


def chainer_chemistry_fn(case, label, compute_kwargs, device):
    try:
        from chainer_chemistry.saliency.calculator import (
            gradient_calculator, integrated_gradients_calculator,
            occlusion_calculator)
        from chainer_chemistry.link_hooks import VariableMonitorLinkHook as H
    except ImportError:
        return None
    model, score = case['model'], case['score']
    if label.startswith('Grad-CAM'):  # it has none
        return None
    # its calculators send the data to the CPU unless told the device (they
    # look for it in the model's parameters as if they were arrays)
    kwargs = dict(eval_fun=lambda *x: F.sum(score(*x)), device=device)
    if case.get('hook_link') is not None:
        kwargs['target_extractor'] = H(case['hook_link'], timing='post')
    if label.startswith('Integrated'):
        calc = integrated_gradients_calculator.IntegratedGradientsCalculator(
            model, steps=STEPS, **kwargs)
    elif label == 'Occlusion':  # it takes one value per item
        kwargs['eval_fun'] = lambda *x: F.reshape(score(*x), (-1, 1))
        calc = occlusion_calculator.OcclusionCalculator(
            model, size=case['occlusion_size'],
            slide_axis=case['slide_axis'], **kwargs)
    else:
        calc = gradient_calculator.GradientCalculator(
            model, multiply_target=label.startswith('Gradient x'), **kwargs)
    data = case['data']
    return lambda: calc.compute(data, batchsize=len(data),
                                converter=case['converter'],
                                show_progress=False, **compute_kwargs)


def run_case(case, repeat, device):
    case['model'].to_device(device)
    data = case['data']
    n = len(data)
    inputs = case['converter'](list(data), device)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    rows_of = {}
    print('\n{} ({} items)'.format(case['name'], n))
    if not isinstance(data, numpy.ndarray):  # arrays are sliced, not converted
        convert = timed(lambda: case['converter'](list(data), device), repeat)
        print('converting the {} items takes {:.1f} ms of each of our times '
              'and of none of the floors'.format(n, convert * 1e3))
    print('{:<18} {:>9} {:>9} {:>6} {:>9} {:>7} {:>10} {:>7}'.format(
        'method', 'ours ms', 'floor ms', 'x flr', 'loop ms', 'speedup',
        'chainerchem', 'speedup'))
    table, common = methods(case)
    for label, make, kwargs, rows, grad, link in table:
        if rows is None:
            rows = rows_of.setdefault('occ', occlusion_rows(case))
        train = kwargs.get('train', False)
        compute = dict(batchsize=n, converter=case['converter'], **kwargs)
        ours = timed(lambda: make(max_batch=rows * n, **common).compute(
            data, **compute), repeat)
        floor = timed(floor_fn(case, inputs, rows, grad, train,
                               link or case.get('hook_link')), repeat)
        loop = timed(lambda: make(max_batch=1, **common).compute(
            data, **dict(compute, batchsize=1)), 1)
        cc = chainer_chemistry_fn(case, label, kwargs, device)
        try:
            cc_time = timed(cc, max(1, repeat // 2)) if cc else None
        except Exception as error:  # its occlusion fails for windows > 1
            print('  chainer_chemistry failed: {}: {}'.format(
                type(error).__name__, error))
            cc_time = None
        print('{:<18} {:>9.1f} {:>9.1f} {:>6.2f} {:>9.1f} {:>6.1f}x {:>10} '
              '{:>7}'.format(
                  label, ours * 1e3, floor * 1e3, ours / floor, loop * 1e3,
                  loop / ours,
                  '-' if cc_time is None else '{:.1f}'.format(cc_time * 1e3),
                  '-' if cc_time is None else '{:.1f}x'.format(
                      cc_time / ours)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--device', default='-1',
                        help='-1 for CPU, a GPU id, or a Chainer device name')
    parser.add_argument('--cases', nargs='+', choices=sorted(CASES),
                        default=list(CASES), help='models to time (default: '
                        'all)')
    args = parser.parse_args()
    device = device_of(args.device)
    numpy.random.seed(0)
    print('device: {}; "x flr" = ours / floor (target <= 1.3 for gradient '
          'methods); speedup = other / ours'.format(device))
    for name in args.cases:
        run_case(CASES[name](), args.repeat, device)


if __name__ == '__main__':
    main()
