"""The ``tinygraph`` command line end to end: outputs, files, errors, and how it finds its subcommands."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import h5py
import numpy as np
import pytest

import tinygraph as tg
from models import datasets
from models.checkpoint import load_checkpoint, save_checkpoint
from tinygraph import cli
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
    assert 'plots need matplotlib: pip install matplotlib (or, in a tinygraph checkout, pip install -e ".[plot]")' \
        in err
    assert "accuracy" not in out and not (tmp_path / "curve.png").exists()


def usage_error(capsys, *argv) -> str:
    """The message of a command line argparse rejects (exit status 2), before anything runs."""
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and "accuracy" not in out and "Traceback" not in err
    return err


def test_train_reports_bad_data_and_bad_options(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "nowhere"))
    assert code == 1 and "tinygraph train: error: data directory" in err and "nowhere" in err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train_catvnoncat.h5").write_text("not hdf5")
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "d"))
    assert code == 1 and "train_catvnoncat.h5: not an HDF5 file" in err
    for option, value, message in (("--iterations", "0", "must be at least 1"),
                                   ("--learning-rate", "-1", "must be positive and finite, got -1"),
                                   ("--learning-rate", "inf", "must be positive and finite, got inf"),
                                   ("--learning-rate", "nan", "must be positive and finite, got nan")):
        assert f"argument {option}: {message}" in usage_error(capsys, "train", option, value)


def test_options_that_are_no_number_say_what_they_expect(capsys):
    # argparse would name the type function: "invalid positive_int value: 'abc'"
    for option, expected in (("--iterations", "a whole number of at least 1"),
                             ("--learning-rate", "a positive number")):
        err = usage_error(capsys, "train", option, "abc")
        assert f"argument {option}: expected {expected}, got 'abc'" in err and "positive_" not in err


def test_data_given_a_file_says_it_is_a_file(tmp_path, capsys):
    (tmp_path / "train_catvnoncat.h5").write_bytes(b"")
    for command in ("train", "predict --checkpoint x.h5", "gradcheck"):
        err = usage_error(capsys, *command.split(), "--data", str(tmp_path / "train_catvnoncat.h5"))
        assert (f"argument --data: {tmp_path / 'train_catvnoncat.h5'} is a file; expected a directory: the one "
                "holding train_catvnoncat.h5 and test_catvnoncat.h5") in err


def test_save_into_a_missing_directory_or_onto_one_fails_before_training(tmp_path, capsys):
    err = usage_error(capsys, "train", "--save", str(tmp_path / "nowhere" / "model.h5"))
    assert f"argument --save: cannot write {tmp_path / 'nowhere' / 'model.h5'}: directory " \
           f"{tmp_path / 'nowhere'} does not exist" in err
    (tmp_path / "models").mkdir()
    err = usage_error(capsys, "train", "--save", str(tmp_path / "models"))
    assert f"argument --save: {tmp_path / 'models'} is a directory; expected a file name" in err
    assert ".tmp" not in err and not any((tmp_path / "models").iterdir())
    for option in ("--plot", "--mistakes", "--compare-learning-rates"):
        err = usage_error(capsys, "train", option, str(tmp_path / "no" / "x.png"))
        assert f"argument {option}: cannot write" in err
    code, _, err = run(capsys, "graph", "--output", str(tmp_path / "models"))
    assert code == 1 and err == f"tinygraph graph: error: {tmp_path / 'models'} is a directory; expected a file name " \
                                f"(such as {tmp_path / 'models' / 'out'})\n"


def test_a_diverging_run_stops_with_an_error_and_leaves_the_checkpoint_alone(tmp_path, capsys):
    ckpt = tmp_path / "model.h5"
    code, _, _ = run(capsys, "train", "--iterations", "20", "--save", str(ckpt))
    assert code == 0
    good = ckpt.read_bytes()
    # inf is refused as the command line is read; a huge finite rate overflows the cost at iteration 1
    code, out, err = run(capsys, "train", "--iterations", "50", "--learning-rate", "1e305", "--print-cost",
                         "--save", str(ckpt))
    assert code == 1
    assert re.search(r"^tinygraph train: error: training with learning rate 1e\+305 stopped: the cost became inf "
                     r"at iteration 1 \(it was 0\.69\d+ at iteration 0\); a smaller learning rate", err, re.M)
    assert "accuracy" not in out and "nan" not in out and "saved" not in out
    assert ckpt.read_bytes() == good
    code, out, _ = run(capsys, "predict", "--checkpoint", str(ckpt))
    assert code == 0 and "test accuracy" in out


def stop_at_iteration(monkeypatch, iteration):
    """Make the training loop meet a Ctrl-C at ``iteration`` (counted from 0)."""
    from models import logistic_regression

    real, calls = logistic_regression.propagate, []

    def propagate(*args):
        calls.append(1)
        if len(calls) == iteration + 1:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(logistic_regression, "propagate", propagate)


def test_ctrl_c_stops_training_cleanly_saying_where_it_was(tmp_path, capsys, monkeypatch):
    stop_at_iteration(monkeypatch, 150)
    code, out, err = run(capsys, "train", "--save", str(tmp_path / "model.h5"))
    assert code == 130
    assert re.fullmatch(r"tinygraph train: interrupted by Ctrl-C after 150 of 2000 iterations "
                        r"\(learning rate 0\.005; cost 0\.\d{6} at iteration 100\)", err.strip().splitlines()[-1])
    assert "accuracy" not in out and not (tmp_path / "model.h5").exists()


def test_ctrl_c_in_any_command_exits_130_without_a_traceback(capsys, monkeypatch):
    from models.commands import graph

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(graph, "run", interrupted)
    code, _, err = run(capsys, "graph")
    assert code == 130 and err == "tinygraph graph: interrupted by Ctrl-C\n"


def test_ctrl_c_from_the_terminal(tmp_path, home):
    """A real SIGINT to the installed command, as a terminal's Ctrl-C sends it."""
    env = {**os.environ, datasets.HOME_ENV: str(home), "PYTHONUNBUFFERED": "1"}
    env.pop(datasets.DATA_ENV, None)
    with subprocess.Popen([sys.executable, "-m", "tinygraph", "train", "--iterations", "1000000", "--print-cost"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        for line in process.stdout:  # the first cost line: training is under way
            if line.startswith("Cost after iteration 0"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert re.search(r"^tinygraph train: interrupted by Ctrl-C after \d+ of 1000000 iterations", err, re.M)
    assert "Traceback" not in err


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
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path))
    assert code == 1 and f"picture {tmp_path} is a directory, expected a picture file" in err
    (tmp_path / "notes.png").write_text("not a picture")
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path / "notes.png"))
    assert code == 1 and "notes.png cannot be read" in err
    monkeypatch.setitem(sys.modules, "PIL", None)
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt), "--image", str(tmp_path / "notes.png"))
    assert code == 1 and 'pip install pillow (or, in a tinygraph checkout, pip install -e ".[image]")' in err


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


def test_predict_refuses_damaged_checkpoints(tmp_path, capsys):
    ckpt = colour_checkpoint(tmp_path / "colour.h5")
    with h5py.File(ckpt, "r") as f:
        offset = f["params/w"].id.get_offset()
    good = ckpt.read_bytes()
    flipped = bytearray(good)
    flipped[offset + 8 * 100 + 3] ^= 0x40  # inside w
    ckpt.write_bytes(bytes(flipped))
    code, out, err = run(capsys, "predict", "--checkpoint", str(ckpt))
    assert code == 1 and f"tinygraph predict: error: checkpoint {ckpt}: 'params/w' fails its checksum" in err
    assert "accuracy" not in out
    ckpt.write_bytes(good[: len(good) // 2])
    code, _, err = run(capsys, "predict", "--checkpoint", str(ckpt))
    assert code == 1 and f"tinygraph predict: error: checkpoint {ckpt} is damaged or truncated" in err


def test_predict_reads_a_first_format_checkpoint_and_says_so(tmp_path, capsys):
    from tests.test_checkpoint import write_version_1

    w = np.zeros((64, 64, 3))
    w[..., 0], w[..., 2] = 1 / 4096, -1 / 4096
    old = write_version_1(tmp_path / "old.h5", w.reshape(-1, 1), 0.0, (64, 64, 3), [b"non-cat", b"cat"])
    code, from_old, err = run(capsys, "predict", "--checkpoint", str(old))
    assert code == 0 and f"note: checkpoint {old} is of the first format, without checksums" in err
    code, from_new, err = run(capsys, "predict", "--checkpoint", str(colour_checkpoint(tmp_path / "new.h5")))
    assert code == 0 and from_new == from_old and "note" not in err


def test_predict_mistakes_grid(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    ckpt = colour_checkpoint(tmp_path / "colour.h5")
    code, out, _ = run(capsys, "predict", "--checkpoint", str(ckpt), "--mistakes", str(tmp_path / "wrong.png"))
    assert code == 0 and (tmp_path / "wrong.png").read_bytes().startswith(PNG)


# --- the installed command -------------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"tinygraph {tg.__version__}\n"


def test_install_hints_name_what_installs(capsys, monkeypatch, tmp_path):
    """On the package index "tinygraph" is someone else's package: a hint names the real one, or the checkout."""
    wrong = re.compile(r"pip install ['\"]?tinygraph\[")
    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("tinygraph/**/*.py"), *root.glob("models/**/*.py"), root / "README.md"]:
        assert not wrong.search(path.read_text()), path
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, _ = run(capsys, "gradcheck", "--examples", "5", "--plot", str(tmp_path / "steps.png"))
    assert '(to save the curve, install matplotlib: pip install matplotlib, or in a tinygraph checkout ' \
           'pip install -e ".[plot]")' in out


def test_the_core_library_does_not_import_the_models():
    """With no subcommand installed, building the whole command line imports nothing of models/."""
    done = subprocess.run([sys.executable, "-c", "import sys, tinygraph, tinygraph.cli as cli, tinygraph.io; "
                           "cli.entry_points = lambda group: []; cli.build_parser(); "
                           "print(sorted(m for m in sys.modules if m == 'models' or m.startswith('models.')))"],
                          capture_output=True, text=True, check=True, cwd="/")
    assert done.stdout.strip() == "[]"


def plugin(name, module):
    """An entry point of the group tinygraph.commands naming ``module``, made importable as ``name``."""
    sys.modules[name] = module
    return EntryPoint(name=name.rsplit(".", 1)[-1], value=name, group=cli.GROUP)


def test_subcommands_come_from_entry_points(capsys, monkeypatch):
    hello = types.ModuleType("hello_plugin")
    hello.HELP = "say hello"
    hello.configure = lambda parser: parser.add_argument("--name", default="world")
    hello.run = lambda args: print(f"hello {args.name}") or 0
    broken = types.ModuleType("broken_plugin")  # no HELP, configure or run
    entries = [plugin("hello_plugin", hello), plugin("broken_plugin", broken)]
    monkeypatch.setattr(cli, "entry_points", lambda group: entries if group == cli.GROUP else [])
    try:
        code, out, err = run(capsys, "hello_plugin", "--name", "tinygraph")
        assert code == 0 and out == "hello tinygraph\n"
        assert "warning: subcommand 'broken_plugin' (broken_plugin) cannot be loaded: AttributeError" in err
        with pytest.raises(SystemExit):
            main(["--help"])
        assert "hello_plugin" in capsys.readouterr().out
    finally:
        del sys.modules["hello_plugin"], sys.modules["broken_plugin"]


def test_no_subcommands_installed_says_how_to_get_them(capsys, monkeypatch):
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    code, out, _ = run(capsys)
    assert code == 2 and "No subcommands are installed (entry-point group 'tinygraph.commands')" in out


def test_a_users_own_models_module_does_not_shadow_ours(tmp_path, home):
    (tmp_path / "models.py").write_text("raise SystemExit('the user\\'s models.py was imported')\n")
    listed = subprocess.run([sys.executable, "-m", "tinygraph", "--help"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in ("train", "predict", "gradcheck", "graph"))

def test_the_command_line_lists_and_runs_train(home):
    listed = subprocess.run([sys.executable, "-m", "tinygraph", "--help"], capture_output=True, text=True, check=True)
    assert "train" in listed.stdout and "predict" in listed.stdout
    done = subprocess.run([sys.executable, "-m", "tinygraph", "train", "--iterations", "100"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "test accuracy:" in done.stdout and "synthetic" in done.stderr
