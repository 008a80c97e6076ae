"""The history picture: every report so far, thinned evenly, one scale."""
import numpy
import pytest

from saliency_ext.report.history import History, round_up


def frames_after(n, frames):
    history = History(frames=frames, items=1)
    for k in range(n):
        history.add('epoch {}'.format(k), [('m', numpy.full(3, 1.))],
                    lambda maps, limits: [numpy.zeros((4, 4, 3), numpy.uint8)
                                          for _ in maps])
    return [f.number for f in history.kept]


@pytest.mark.parametrize('n', [1, 5, 12, 13, 40, 300])
def test_frames_keep_the_first_and_the_newest_evenly_spread(n):
    kept = frames_after(n, 12)
    assert kept[0] == 0 and kept[-1] == n - 1
    assert len(kept) == n if n <= 12 else 6 <= len(kept) <= 12
    steps = numpy.diff(kept[:-1])
    assert len(set(steps.tolist())) <= 1  # even, but for the newest
    if len(kept) > 2:
        assert kept[-1] - kept[-2] <= steps.max()


def test_a_report_draws_only_its_own_frame_while_the_scale_holds():
    history, drawn = History(frames=4, items=2), []

    def draw(maps, limits):
        drawn.append(len(maps))
        return [numpy.zeros((4, 4, 3), numpy.uint8) for _ in maps]
    for k in range(30):
        history.add(str(k), [('a', numpy.array([0.5, -0.2])),
                             ('b', numpy.array([0.1, 0.3]))], draw)
    assert len(drawn) == 30  # one frame a report, never a redraw
    assert history.limits == (-0.5, 0.5)


def test_the_scale_grows_rarely_and_redraws_the_kept_frames():
    history, drawn = History(frames=4, items=1), []

    def draw(maps, limits):
        drawn.append(limits)
        return [numpy.zeros((4, 4, 3), numpy.uint8)]
    for k in range(1, 13):  # the maps grow by 1.2x each report
        history.add(str(k), [('a', numpy.array([1.2 ** k]))], draw)
    # 1.2 -> 1.2; 1.44 -> 2 (1.5 x 1.2 = 1.8, rounded up); 2.07 -> 3;
    # 3.58 -> 5; 5.16 -> 8; 8.92 -> 12
    assert history.limits == (0., 12.)
    # every frame of the picture is drawn on the final scale
    assert all(limits == (0., 12.) for limits in drawn[-len(history.kept):])
    # a redraw of the (at most 4) kept frames only when the scale grows
    assert len(drawn) <= 12 + 4 * 4


def test_round_up():
    assert [round_up(v) for v in (0.7, 1., 1.3, 3, 7, 0.0042)] == \
        [0.8, 1, 1.5, 3, 8, 0.005]


def test_small_maps_are_enlarged_with_sharp_pixels():
    from saliency_ext.visualizers import compose
    small = numpy.arange(8 * 8 * 3, dtype=numpy.uint8).reshape(8, 8, 3)
    big = compose.enlarge(small, 96)
    assert big.shape == (96, 96, 3)  # 12 x 12 pixels per input pixel
    numpy.testing.assert_array_equal(big[::12, ::12], small)
    numpy.testing.assert_array_equal(big[24:36, 60:72],
                                     numpy.broadcast_to(small[2, 5], (12, 12, 3)))
    assert compose.enlarge(big, 96) is big
