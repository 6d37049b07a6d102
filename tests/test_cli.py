"""``tinygraph train`` and ``tinygraph predict`` end to end: outputs, files, and errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from models import datasets
from models.checkpoint import load_checkpoint, save_checkpoint
from tinygraph.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test gets its own cache (the synthetic data lands there) and no $TINYGRAPH_DATA."""
    monkeypatch.setenv(datasets.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    return tmp_path / "home"


def accuracies(text):
    found = dict(re.findall(r"^(train|test) accuracy: ([0-9.]+) %$", text, re.M))
    return float(found["train"]), float(found["test"])


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- train ------------------------------------------------------------------------------------

def test_train_on_the_embedded_default_announces_it_and_prints_accuracy(capsys):
    code, out, err = run(capsys, "train", "--iterations", "150")
    assert code == 0
    assert "synthetic" in err and "data: synthetic stand-in: 209 training and 50 test pictures of 64x64x3" in out
    train, test = accuracies(out)
    assert 50 <= train <= 100 and 50 <= test <= 100


def test_train_and_predict_on_the_course_files(course_data, tmp_path, capsys):
    # The full 2000-iteration course run is checked in test_logistic_regression; here its first lines.
    ckpt = tmp_path / "cat.h5"
    code, out, err = run(capsys, "train", "--data", str(course_data), "--iterations", "101", "--print-cost",
                         "--save", str(ckpt))
    assert code == 0 and "synthetic" not in err
    assert f"data: {course_data} (--data / path argument): 209 training and 50 test pictures of 64x64x3" in out
    assert re.findall(r"^Cost after iteration .*$", out, re.M) == [  # the course's printed values
        "Cost after iteration 0: 0.693147", "Cost after iteration 100: 0.584508"]
    saved = load_checkpoint(ckpt)
    assert saved.image_shape == (64, 64, 3) and saved.info["num_iterations"] == 101

    code, predicted, _ = run(capsys, "predict", "--checkpoint", str(ckpt), "--data", str(course_data))
    assert code == 0 and accuracies(predicted) == accuracies(out)


def test_train_save_then_predict_agree_on_the_default_data(tmp_path, capsys):
    ckpt = tmp_path / "model.h5"
    code, trained, _ = run(capsys, "train", "--iterations", "120", "--learning-rate", "0.01", "--save", str(ckpt))
    assert code == 0 and f"saved checkpoint: {ckpt}" in trained
    assert load_checkpoint(ckpt).info["learning_rate"] == 0.01
    code, predicted, _ = run(capsys, "predict", "--checkpoint", str(ckpt))
    assert code == 0 and accuracies(predicted) == accuracies(trained)


def test_train_writes_the_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    curve, rates, wrong = tmp_path / "curve.png", tmp_path / "rates.png", tmp_path / "wrong.png"
    code, out, _ = run(capsys, "train", "--iterations", "101", "--plot", str(curve),
                       "--compare-learning-rates", str(rates), "--mistakes", str(wrong))
    assert code == 0
    for path in (curve, rates, wrong):
        assert path.read_bytes().startswith(PNG), path
    for rate in ("0.01", "0.001", "0.0001"):
        assert f"learning rate {rate}: train accuracy" in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary files


def test_plots_without_matplotlib_fail_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, err = run(capsys, "train", "--plot", str(tmp_path / "curve.png"))
    assert code == 1
    assert 'plots need matplotlib, an optional extra: pip install "tinygraph[plot]"' in err
    assert "accuracy" not in out and not (tmp_path / "curve.png").exists()


def test_train_reports_bad_data_and_bad_options(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "nowhere"))
    assert code == 1 and "tinygraph train: error: data directory" in err and "nowhere" in err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train_catvnoncat.h5").write_text("not hdf5")
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "d"))
    assert code == 1 and "train_catvnoncat.h5 is not an HDF5 file" in err
    for option, value, message in (("--iterations", "0", "must be at least 1"),
                                   ("--learning-rate", "-1", "must be positive")):
        with pytest.raises(SystemExit) as stop:
            main(["train", option, value])
        assert stop.value.code == 2 and message in capsys.readouterr().err


# --- predict -------------------------------------------------------------------------------------

def colour_checkpoint(path):
    """A hand-made model of 64x64 pictures: z = mean(red) - mean(blue) over the picture, as 0..1 values."""
    w = np.zeros((64, 64, 3))
    w[..., 0], w[..., 2] = 1 / 4096, -1 / 4096
    return save_checkpoint(path, w.reshape(-1, 1), 0.0, (64, 64, 3), [b"non-cat", b"cat"])


def picture(path, colour, size=(120, 90)):
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return path


def test_predict_an_image_of_ones_own(tmp_path, capsys):
    pytest.importorskip("PIL")
    ckpt = colour_checkpoint(tmp_path / "colour.h5")
    code, out, _ = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(picture(tmp_path / "r.png", "red")))
    assert code == 0
    assert out.strip() == 'y = 1.0, your algorithm predicts a "cat" picture. (probability of cat: 0.7311)'
    code, out, _ = run(capsys, "predict", "--checkpoint", str(ckpt),
                       "--image", str(picture(tmp_path / "b.png", "blue", size=(30, 200))))
    assert code == 0
    assert out.strip() == 'y = 0.0, your algorithm predicts a "non-cat" picture. (probability of cat: 0.2689)'


def test_predict_image_errors(tmp_path, capsys, monkeypatch):
    pytest.importorskip("PIL")
    ckpt = colour_checkpoint(tmp_path / "colour.h5")
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path / "missing.png"))
    assert code == 1 and "picture" in err and "missing.png does not exist" in err
    (tmp_path / "notes.png").write_text("not a picture")
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path / "notes.png"))
    assert code == 1 and "notes.png cannot be read" in err
    monkeypatch.setitem(sys.modules, "PIL", None)
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path / "notes.png"))
    assert code == 1 and 'pip install "tinygraph[image]"' in err


def test_predict_reports_bad_checkpoints_and_mismatched_data(tmp_path, capsys):
    code, _, err = run(capsys, "predict", "--checkpoint", str(tmp_path / "none.h5"))
    assert code == 1 and "tinygraph predict: error: checkpoint" in err and "none.h5 does not exist" in err
    (tmp_path / "text.h5").write_text("hello")
    code, _, err = run(capsys, "predict", "--checkpoint", str(tmp_path / "text.h5"))
    assert code == 1 and "text.h5: not an HDF5 file" in err
    small = save_checkpoint(tmp_path / "small.h5", np.zeros((12, 1)), 0.0, (2, 2, 3), ["non-cat", "cat"])
    code, _, err = run(capsys, "predict", "--checkpoint", str(small))
    assert code == 1 and "trained on pictures of shape (2, 2, 3), the data's are (64, 64, 3)" in err
    with pytest.raises(SystemExit):
        main(["predict"])  # --checkpoint is required
    assert "--checkpoint" in capsys.readouterr().err


def test_predict_mistakes_grid(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    ckpt = colour_checkpoint(tmp_path / "colour.h5")
    code, out, _ = run(capsys, "predict", "--checkpoint", str(ckpt), "--mistakes", str(tmp_path / "wrong.png"))
    assert code == 0 and (tmp_path / "wrong.png").read_bytes().startswith(PNG)


# --- the installed command -------------------------------------------------------------------------

def test_the_command_line_lists_and_runs_train(home):
    listed = subprocess.run([sys.executable, "-m", "tinygraph", "--help"], capture_output=True, text=True, check=True)
    assert "train" in listed.stdout and "predict" in listed.stdout
    done = subprocess.run([sys.executable, "-m", "tinygraph", "train", "--iterations", "100"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "test accuracy:" in done.stdout and "synthetic" in done.stderr
