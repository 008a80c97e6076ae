"""The start-up check: the whole probe converted once, every item's visualizer
arguments bound, batch-size dependence and non-finite inputs caught; during
training one failing item is a placeholder, not a lost report."""
import os

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator

from saliency_ext import (GaussianNoiseSampler, GradientCalculator,
                          IntegratedGradientsCalculator, OcclusionCalculator,
                          ReportEntry, ReportLayout, SaliencyReport,
                          SaliencyReportError, SmilesVisualizer,
                          TableVisualizer, VariableMonitorLinkHook)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GraphRegressor
from tests.report.training import MLP, iris, make_trainer

NAMES = ['sepal length', 'sepal width', 'petal length', 'petal width']


# -- molecules: the whole probe is checked ------------------------------------

@pytest.fixture(scope='module')
def molecules():
    esol = load_esol()
    numpy.random.seed(0)
    return GraphRegressor(hidden_dim=8, n_layers=1), esol.dataset[:6], esol.smiles[:6]


def _molecule_report(molecules, item_kwargs, **kwargs):
    model, dataset, _ = molecules
    calculator = IntegratedGradientsCalculator(
        model, steps=3, target_extractor=VariableMonitorLinkHook(model.graph.embed),
        label_index=-1, eval_fun=lambda atoms, adjs: model(atoms, adjs)[:, 0])
    entry = ReportEntry(calculator, SmilesVisualizer(), ch_axis=3, item_kwargs=item_kwargs)
    kwargs.setdefault('converter', concat_mols)
    return SaliencyReport(dataset, {'ig': entry}, probe_size=6, **kwargs)


def test_an_unparsable_smiles_at_item_3_stops_the_start_naming_it(molecules, tmp_path):
    smiles = list(molecules[2])
    smiles[3] = 'C1CC'
    report = _molecule_report(molecules, {'smiles': smiles})
    with pytest.raises(SaliencyReportError,
                       match=r"entry 'ig' cannot draw probe item 3 \(dataset index 3\): "
                             r"ValueError: RDKit cannot parse SMILES 'C1CC'") as caught:
        report.setup(str(tmp_path))
    assert caught.value.items == [3] and caught.value.indices == [3]
    assert os.listdir(tmp_path) == []  # nothing was written


def test_a_missing_per_item_value_is_named_in_the_constructor(molecules):
    with pytest.raises(SaliencyReportError,
                       match=r"entry 'ig' cannot take the item_kwargs of probe item 4 "
                             r"\(dataset index 4\): ValueError: item_kwargs\['smiles'\] "
                             'must hold one value per dataset item'):
        _molecule_report(molecules, {'smiles': molecules[2][:4]})


def test_a_missing_visualize_argument_is_named_at_start(molecules, tmp_path):
    report = _molecule_report(molecules, lambda example: {'legend': 'x'})
    with pytest.raises(SaliencyReportError,
                       match=r"cannot draw probe item 0 \(dataset index 0\): TypeError: "
                             "missing a required argument: 'smiles'"):
        report.setup(str(tmp_path))


def test_forgetting_concat_mols_names_the_converter_and_the_items(molecules, tmp_path):
    report = _molecule_report(molecules, {'smiles': molecules[2]},
                              converter=chainer.dataset.concat_examples)
    with pytest.raises(SaliencyReportError) as caught:
        report.setup(str(tmp_path))
    message = str(caught.value)
    assert message.startswith('SaliencyReport could not convert probe items [0, 1] '
                              '(dataset indices [0, 1]) of the probe with converter '
                              'concat_examples (the default): ValueError:')
    assert 'The items are item 0: (int32 (' in message
    assert 'need a converter that pads them, such as converter=concat_mols' in message
    assert caught.value.items == [0, 1]


def test_a_converter_returning_a_dict_is_refused(tmp_path):
    report = SaliencyReport(iris(), {'e': ReportEntry(GradientCalculator(
        MLP(), target='top'), TableVisualizer())}, probe_size=4,
        converter=lambda batch, device: {'x': batch})
    with pytest.raises(SaliencyReportError, match='returned dict; calculators take an '
                                                  'array or a tuple of arrays'):
        report.setup(str(tmp_path))


def test_the_probe_is_converted_once_and_the_calculators_use_it(molecules, tmp_path):
    calls = []

    def counting(batch, device=None):
        calls.append(len(batch))
        return concat_mols(batch, device)

    trainer, _ = make_trainer(tmp_path, epochs=2, report=False)
    trainer.extend(_molecule_report(molecules, {'smiles': molecules[2]},
                                    converter=counting))
    trainer.run()
    assert calls == [6]  # reports at epochs 0, 1, 2 convert nothing more
    records = ReportLayout(tmp_path / 'saliency').records()
    assert [r['error'] for r in records] == [None] * 3


# -- batch-size dependence ----------------------------------------------------

def _iris_entry(calculator, **kwargs):
    return ReportEntry(calculator, TableVisualizer(), **kwargs)


def test_a_mean_loss_stops_the_run_with_the_fix(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    classifier = L.Classifier(predictor)  # the article's pattern: a mean loss
    trainer.extend(SaliencyReport(iris(), {'loss': _iris_entry(
        GradientCalculator(classifier), compute=dict(
            M=30, noise_sampler=GaussianNoiseSampler()))}, probe_size=4))
    with pytest.raises(SaliencyReportError) as caught:
        trainer.run()
    message = str(caught.value)
    assert message.startswith("SaliencyReport entry 'loss': the saliency of probe item 0")
    assert 'it becomes 0.5 times its value alone, as when eval_fun returns a mean' in message
    assert "reduce='no'" in message and "target='top'" in message
    assert 'allow_batch_dependence=True' in message
    assert trainer.updater.iteration == 0


def test_the_opt_out_flag_lets_a_mean_loss_run(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    entry = _iris_entry(GradientCalculator(L.Classifier(predictor)),
                        allow_batch_dependence=True)
    trainer.extend(SaliencyReport(iris(), {'loss': entry}, probe_size=4))
    trainer.run()
    assert [r['error'] for r in ReportLayout(tmp_path / 'saliency').records()] == [None] * 2


def test_per_item_losses_and_sums_pass_the_check(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)

    def per_item_loss(x, t):
        return F.softmax_cross_entropy(predictor(x), t, reduce='no')

    def summed_scores(x, t):
        return F.sum(predictor(x))
    trainer.extend(SaliencyReport(iris(), {
        'per item': _iris_entry(GradientCalculator(predictor, eval_fun=per_item_loss)),
        'sum': _iris_entry(GradientCalculator(predictor, eval_fun=summed_scores))},
        probe_size=4))
    trainer.run()
    assert trainer.updater.epoch == 1


def test_occlusion_of_a_mean_loss_stops_at_start_with_the_fix(tmp_path):
    predictor = MLP()
    report = SaliencyReport(iris(), {'occlusion': _iris_entry(OcclusionCalculator(
        L.Classifier(predictor), slide_axis=1))}, probe_size=4)
    with pytest.raises(SaliencyReportError, match=r"entry 'occlusion' failed at start on "
                                                  r"probe item 0 .*eval_fun returned a "
                                                  r"scalar\. .*reduce='no'") as caught:
        report.setup(str(tmp_path))
    assert isinstance(caught.value.__cause__, ValueError)


# -- non-finite inputs and saliency -------------------------------------------

def _iris_arrays():
    data = iris()
    return (numpy.array([x for x, _ in data]), numpy.array([t for _, t in data]))


def test_nan_and_inf_inputs_are_named_at_start(tmp_path):
    x, t = _iris_arrays()
    x[2, 1], x[4, 0] = numpy.nan, numpy.inf
    entry = _iris_entry(GradientCalculator(MLP(), target='label', label_index=-1))
    report = SaliencyReport((x, t), {'e': entry}, probe_indices=[0, 1, 2, 3, 4])
    with pytest.warns(UserWarning, match=r'non-finite inputs: converted array 0 has NaN '
                                         r'in probe item 2 \(dataset index 2\) and '
                                         r'infinite values in probe item 4 \(dataset '
                                         r'index 4\)'):
        report.setup(str(tmp_path / 'warned'))
    strict = SaliencyReport((x, t), {'e': entry}, probe_indices=[0, 1, 2, 3, 4],
                            strict=True)
    with pytest.raises(SaliencyReportError, match='non-finite inputs') as caught:
        strict.setup(str(tmp_path / 'strict'))
    assert caught.value.items == [2, 4]


class Roots(chainer.Chain):
    """Each item's value is the sum of the square roots of its features:
    a NaN gradient for a negative feature, an infinite one for a zero."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.scale = L.Scale(W_shape=(1,))

    def forward(self, x):
        return F.sum(F.sqrt(x), axis=1) * self.scale.W


def _roots_run(tmp_path, **kwargs):
    x = numpy.array([[1, 2, 3, 4], [0, 1, 1, 1], [-1, 1, 1, 1]], numpy.float32)
    model = Roots()
    model.scale.W.array[:] = 1
    trainer, _ = make_trainer(tmp_path, epochs=1, report=False)
    report = SaliencyReport(x, {'roots': _iris_entry(GradientCalculator(model),
                                                     include_mean=True)}, **kwargs)
    trainer.extend(report)
    return trainer, report


def test_nan_and_inf_saliency_are_told_apart_and_the_mean_is_of_the_finite_items(
        tmp_path):
    trainer, report = _roots_run(tmp_path)
    with pytest.warns(UserWarning, match=r"entry 'roots' at epoch 0: saliency holds NaN "
                                         r'in probe item 2 \(dataset index 2\) and '
                                         r'infinite values in probe item 1 \(dataset '
                                         r'index 1\)'):
        trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    record = layout.records()[-1]
    assert record['mean_items'] == 1
    assert record['error'].startswith('saliency holds NaN in probe item 2')
    mean = report.entries['roots'].maps(layout.read_arrays(record)['saliency'])[-1]
    name, values = mean
    assert name == 'mean'  # item 0 alone is finite: d sqrt(x) / dx = 1 / (2 sqrt(x))
    numpy.testing.assert_allclose(values, 0.5 / numpy.sqrt([1, 2, 3, 4]), rtol=1e-6)
    with Image.open(tmp_path / 'saliency' / [f for f in record['files']
                                             if f.endswith('mean.png')][0]) as picture:
        mean_height = picture.height
    with Image.open(tmp_path / 'saliency' / record['files'][0]) as picture:
        # its caption says what it averages, as an item's says which it is
        assert mean_height == picture.height
    assert report.entries['roots'].mean_title(layout.read_arrays(record)['saliency']) == \
        'mean of 1 of 3 probe items (2 not finite)'


def test_strict_non_finite_saliency_names_the_entry(tmp_path):
    trainer, _ = _roots_run(tmp_path, strict=True)
    with pytest.raises(SaliencyReportError, match="entry 'roots' at epoch 0: saliency "
                                                  'holds NaN in probe item 2') as caught:
        trainer.run()
    assert caught.value.entry == 'roots' and caught.value.items == [1, 2]


# -- one failing item is a placeholder ----------------------------------------

def test_one_failing_item_is_a_placeholder_that_says_why(tmp_path):
    trainer, predictor = make_trainer(tmp_path, epochs=1, report=False)
    names = [NAMES] * 150
    names[57] = NAMES[:3]  # drawing this item fails: 3 names for 4 features
    entry = _iris_entry(GradientCalculator(predictor, target='label', label_index=-1),
                        item_kwargs={'feature_names': names})
    trainer.extend(SaliencyReport(iris(), {'bars': entry},
                                  probe_indices=[3, 20, 57, 100]))
    with pytest.warns(UserWarning, match=r"entry 'bars' at epoch 0: could not draw probe "
                                         r'item 2 \(dataset index 57\): ValueError: '
                                         r'feature_names has 3 names for 4 features'):
        trainer.run()
    root = tmp_path / 'saliency'
    records = ReportLayout(root).records()
    assert len(records) == 2
    for record in records:
        assert record['failed_items'] == [dict(
            picture='item_02', item=2, index=57,
            error="ValueError: feature_names has 3 names for 4 features: "
                  "['sepal length', 'sepal width', 'petal length']")]
        # the four items, the overview and the history
        assert len([f for f in record['files'] if f.endswith('.png')]) == 6
        pictures = {os.path.basename(f): numpy.asarray(Image.open(root / f).convert('RGB'))
                    for f in record['files'] if f.endswith('.png')}
        placeholder, neighbour = pictures['item_02.png'], pictures['item_01.png']
        assert placeholder.shape == neighbour.shape
        # the placeholder under the item's caption, over its legend
        grey = numpy.all(placeholder == (236, 236, 236), axis=-1).mean()
        border = numpy.all(placeholder == (200, 40, 40), axis=-1)
        assert grey > 0.3 and border.any(axis=1).sum() > 100
        assert numpy.all(neighbour == 255, axis=-1).mean() > 0.5  # a chart on white
    events = EventAccumulator(str(tmp_path / 'tensorboard'), size_guidance={'images': 0})
    events.Reload()
    assert [e.step for e in events.Images('saliency.bars.items/item_02')] == [0, 1]


def test_a_models_own_reports_stay_out_of_the_training_log(tmp_path):
    def log(out):
        import json
        with open(os.path.join(str(out), 'log')) as f:
            return [(row['main/loss'], row['main/accuracy']) for row in json.load(f)]

    plain, _ = make_trainer(tmp_path / 'plain', epochs=2, report=False)
    plain.run()
    reported, _ = make_trainer(tmp_path / 'reported', epochs=2, report=False)
    classifier = reported.updater.get_optimizer('main').target  # reports main/loss
    reported.extend(SaliencyReport(iris(), {'loss': _iris_entry(
        GradientCalculator(classifier), allow_batch_dependence=True)}, probe_size=4))
    reported.run()
    assert log(tmp_path / 'plain') == log(tmp_path / 'reported')


def test_an_image_that_cannot_be_drawn_is_named_at_start(tmp_path):
    x = numpy.random.RandomState(0).rand(5, 1, 8, 8).astype(numpy.float32)
    images = list(x[:, 0])
    images[3] = numpy.zeros((5, 8, 8))  # five channels: no picture can be made of it

    class Pixels(chainer.Chain):
        def forward(self, x):
            return F.sum(x * x, axis=(1, 2, 3))

    from saliency_ext import ImageVisualizer
    entry = ReportEntry(GradientCalculator(Pixels()), ImageVisualizer(), ch_axis=2,
                        item_kwargs={'image': images})
    with pytest.raises(SaliencyReportError,
                       match=r"entry 'maps' cannot draw probe item 3 \(dataset index 3\): "
                             r'ValueError: image must be a PIL image or an array .*'
                             r'got shape \(5, 8, 8\)'):
        SaliencyReport(x, {'maps': entry}).setup(str(tmp_path))


def test_overview_and_history_tiles_are_drawn_at_their_size(molecules, monkeypatch):
    # drawn large and shrunk, they cost twice as much and their labels blurred
    from saliency_ext.report.drawing import draw_here
    from saliency_ext.report.pictures import OVERVIEW_CELL, item_texts
    from saliency_ext.report.history import CELL
    from saliency_ext.visualizers.mol import MolVisualizer
    report = _molecule_report(molecules, {'smiles': molecules[2]})
    sizes = []
    visualize = MolVisualizer.visualize
    monkeypatch.setattr(MolVisualizer, 'visualize', lambda self, *args, **kwargs: (
        sizes.append(self.size), visualize(self, *args, **kwargs))[1])
    explained = report.explain(0)['ig']
    series = report.series['ig']
    series.advance(explained.saliency, 0, 0, 0)
    pictures, _ = draw_here(series, 'epoch 0', item_texts(report.probe_indices, None),
                            explained.saliency, series.limits(explained.saliency), None)
    assert sizes == [(300, 300)] * 6 + [OVERVIEW_CELL] * 6 + [CELL] * 4
    assert pictures['item_00'].shape[1] >= 300  # an item's own picture stays large
