"""ExplanationShiftTrigger: with a snapshot, as a stop trigger, resumed."""
import os

import chainer
import pytest
from chainer.training import extensions

from saliency_ext import ExplanationShiftTrigger, ReportLayout
from tests.report.training import make_trainer

KEY = 'saliency/vanilla/rank_corr'


class Updater(object):
    def __init__(self, epoch, iteration):
        self.epoch, self.iteration = epoch, iteration


class Trainer(object):
    """What a trigger reads: the observation and the updater."""

    def __init__(self, observation, iteration):
        self.observation = observation
        self.updater = Updater(iteration // 10, iteration)


@pytest.mark.parametrize('direction,values,fires', [
    ('above', [None, 0.1, 0.3, None, 0.31, 0.5, 0.2], 4),
    ('below', [0.9, None, 0.5, 0.3, 0.29, 0.1], 4),
    ('above', [0.1, 0.2], None),
])
def test_it_fires_once_at_the_first_crossing(direction, values, fires):
    trigger = ExplanationShiftTrigger('k', 0.3, direction=direction)
    fired = [trigger(Trainer({} if v is None else {'k': v}, i))
             for i, v in enumerate(values)]
    assert fired == [i == fires for i in range(len(values))]
    assert trigger.fired_at == (None if fires is None else
                                (fires // 10, fires))


def test_a_snapshot_taken_when_it_fires(tmp_path):
    # rank_corr (at most 1) is below 2 at the first report in training
    trainer, _ = make_trainer(tmp_path, epochs=3, tensorboard=False)
    trigger = ExplanationShiftTrigger(KEY, 2., direction='below')
    trainer.extend(extensions.snapshot(filename='shifted_{.updater.epoch}'),
                   trigger=trigger)
    trainer.run()
    assert sorted(f for f in os.listdir(tmp_path)
                  if f.startswith('shifted')) == ['shifted_1']
    assert trigger.fired_at == (1, 5)  # 150 flowers, batches of 32


def test_as_a_stop_trigger(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=3, tensorboard=False)
    trainer.stop_trigger = ExplanationShiftTrigger(
        KEY, 2., direction='below', max_trigger=(3, 'epoch'))
    trainer.run()
    assert trainer.updater.epoch == 1
    assert [r['epoch'] for r in ReportLayout(
        tmp_path / 'saliency').records('vanilla')] == [0, 1]


def test_the_max_trigger_ends_training_without_a_crossing(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=5, tensorboard=False)
    trainer.stop_trigger = ExplanationShiftTrigger(KEY, 2.,
                                                   max_trigger=(2, 'epoch'))
    assert trainer.stop_trigger.get_training_length() == (2, 'epoch')
    trainer.run()
    assert trainer.updater.epoch == 2
    assert trainer.stop_trigger.fired_at is None


def test_a_snapshot_keeps_that_it_fired(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2, tensorboard=False,
                              snapshot=2)
    trainer.stop_trigger = ExplanationShiftTrigger(
        KEY, 2., direction='below', max_trigger=(2, 'epoch'))
    trainer.stop_trigger.fired_at = (1, 5)
    trainer.run()  # fired already: trains on to the max_trigger
    assert trainer.updater.epoch == 2
    resumed, _ = make_trainer(tmp_path, epochs=3, tensorboard=False)
    resumed.stop_trigger = ExplanationShiftTrigger(
        KEY, 2., direction='below', max_trigger=(3, 'epoch'))
    chainer.serializers.load_npz(str(tmp_path / 'snapshot_epoch_2'), resumed)
    assert resumed.stop_trigger.fired_at == (1, 5)


@pytest.mark.parametrize('args,error', [
    (('', 0.3), TypeError), (('k', 'high'), TypeError),
    (('k', float('nan')), TypeError), (('k', 0.3, 'up'), ValueError)])
def test_bad_arguments(args, error):
    with pytest.raises(error):
        ExplanationShiftTrigger(*args)
