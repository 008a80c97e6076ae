"""Every sink receives what the files sink writes."""
import numpy
import pytest
from PIL import Image

from saliency_ext import ReportLayout, ReportSink
from saliency_ext.sinks import storage
from tests.report.training import make_trainer


class MemorySink(ReportSink):
    def __init__(self):
        self.opened, self.reports, self.flushes, self.closed = None, [], 0, 0

    def open(self, out):
        self.opened = out

    def write(self, record, pictures, arrays):
        self.reports.append((dict(record), dict(pictures), dict(arrays)))

    def flush(self):
        self.flushes += 1

    def close(self):
        self.closed += 1


def test_a_user_sink_gets_the_pictures_and_arrays_of_the_files(tmp_path):
    sink = MemorySink()
    trainer, _ = make_trainer(tmp_path, epochs=2, sinks=[sink],
                              tensorboard=False)
    trainer.run()
    layout = ReportLayout(tmp_path / 'saliency')
    records = layout.records()
    assert sink.opened == str(tmp_path)
    assert sink.closed == 1 and sink.flushes == len(records) == 9
    assert [r for r, _, _ in sink.reports] == records
    for record, pictures, arrays in sink.reports:
        pngs = [f for f in record['files'] if f.endswith('.png')]
        assert len(pngs) == len(pictures) > 0
        for (name, rgb), path in zip(pictures.items(), pngs):
            assert path.endswith(name + '.png')
            with Image.open(layout.path(path)) as image:
                numpy.testing.assert_array_equal(numpy.asarray(image), rgb)
        numpy.testing.assert_array_equal(
            layout.read_arrays(record)['saliency'], arrays['saliency'])


def test_sinks_must_be_report_sinks(tmp_path):
    with pytest.raises(TypeError, match='ReportSink'):
        make_trainer(tmp_path, sinks=[object()])


def test_the_built_in_sinks_write_the_drawing_process_files_undecoded(
        tmp_path, monkeypatch):
    decoded = []
    decode = storage.decode_png
    monkeypatch.setattr(storage, 'decode_png',
                        lambda png: decoded.append(png) or decode(png))
    sink = MemorySink()
    trainer, _ = make_trainer(tmp_path / 'a', epochs=1, background=True)
    trainer.run()
    assert decoded == []  # files and TensorBoard took the PNG files as sent
    trainer, _ = make_trainer(tmp_path / 'b', epochs=1, background=True,
                              sinks=[sink], tensorboard=False)
    trainer.run()
    # a sink that reads the pixels has each picture decoded once
    pictures = sum(len(p) for _, p, _ in sink.reports)
    assert len(decoded) == pictures > 0
