"""Errors keep their cause: a report wraps what it caught in a
SaliencyReportError that names the entry and the dataset index, raised from
the original, whose message is in the last block of the traceback."""
import traceback

import chainer
import chainer.links as L
import numpy
import pytest
from chainer.utils.type_check import InvalidType

from saliency_ext import (GradientCalculator, ReportEntry, SaliencyReport,
                          SaliencyReportError, TableVisualizer)
from tests.report.training import iris, make_trainer


class MLP(chainer.Chain):
    def __init__(self, n_in=4):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(n_in, 3)

    def forward(self, x):
        return self.l1(x)


class TwoArguments(Exception):
    """An exception whose constructor takes two arguments."""

    def __init__(self, code, detail):
        super().__init__('code {}: {}'.format(code, detail))
        self.code, self.detail = code, detail


class Raises(MLP):
    def forward(self, x):
        raise TwoArguments(7, 'the model is broken')


def _report(predictor, probe=None, **kwargs):
    grad = GradientCalculator(predictor, target='label', label_index=-1)
    return SaliencyReport(iris() if probe is None else probe,
                          {'bars': ReportEntry(grad, TableVisualizer())},
                          probe_size=4, **kwargs)


def _last_block(error):
    """What the user reads last: the final exception's own lines."""
    return ''.join(traceback.format_exception_only(type(error), error))


def test_invalid_type_keeps_expect_and_actual(tmp_path):
    # the issue's repro: a 5-input model trained on iris' 4 features
    trainer, _ = make_trainer(tmp_path, epochs=1, report=False)
    report = _report(MLP(n_in=5))
    trainer.extend(report)
    with pytest.raises(SaliencyReportError) as caught:
        trainer.run()
    error = caught.value
    assert isinstance(error.__cause__, InvalidType)
    last = _last_block(error)
    assert "entry 'bars' failed at start on probe item 0 (dataset index {}): " \
        'InvalidType:'.format(report.probe_indices[0]) in last
    assert 'Expect: x.shape[1] == W.shape[1]' in last and 'Actual: 4 != 5' in last
    assert error.entry == 'bars' and error.indices == report.probe_indices[:1]
    assert trainer.updater.iteration == 0


def test_float64_data_keeps_the_dtype_mismatch(tmp_path):
    data = iris()
    x = numpy.array([x for x, _ in data], numpy.float64)
    t = numpy.array([t for _, t in data], numpy.int32)
    with pytest.raises(SaliencyReportError) as caught:
        _report(MLP(), (x, t)).setup(str(tmp_path))
    last = _last_block(caught.value)
    assert 'InvalidType' in last and 'Actual: float32 != float64' in last


def test_an_exception_with_two_arguments_is_wrapped_not_rebuilt(tmp_path):
    with pytest.raises(SaliencyReportError) as caught:
        _report(Raises()).setup(str(tmp_path))
    assert isinstance(caught.value.__cause__, TwoArguments)
    assert caught.value.__cause__.code == 7
    assert "entry 'bars' failed at start" in _last_block(caught.value)
    assert 'TwoArguments: code 7: the model is broken' in _last_block(caught.value)


class FailsWhenArmed(MLP):
    armed = False

    def forward(self, x):
        if self.armed:
            raise TwoArguments(9, 'diverged')
        return super().forward(x)


def _armed_after_epoch_1(tmp_path, report_kwargs):
    trainer, _ = make_trainer(tmp_path, epochs=1, report=False)
    model = FailsWhenArmed()
    trainer.extend(lambda trainer: setattr(model, 'armed', True),
                   trigger=(1, 'epoch'), priority=400)  # before the report
    report = _report(model, **report_kwargs)
    trainer.extend(report)
    return trainer, report


def test_strict_errors_during_training_name_the_entry_and_keep_the_cause(tmp_path):
    trainer, _ = _armed_after_epoch_1(tmp_path, dict(strict=True, background=False))
    with pytest.raises(SaliencyReportError, match="entry 'bars' failed at epoch "
                                                  '1: TwoArguments: code 9') as caught:
        trainer.run()
    assert isinstance(caught.value.__cause__, TwoArguments)


def test_failures_during_training_are_recorded_with_their_message(tmp_path):
    trainer, report = _armed_after_epoch_1(tmp_path, dict(tensorboard=False))
    with pytest.warns(UserWarning, match="entry 'bars' at epoch 1: TwoArguments: code 9"):
        trainer.run()
    errors = [r['error'] for r in report.layout.records()]
    assert errors[-1] == 'TwoArguments: code 9: diverged'
