"""``tinygraph predict``: a saved model on the cat pictures, or on a picture of your own."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from models.commands import data_dir, output_path

HELP = "classify with a checkpoint from `tinygraph train --save`: the data set's pictures, or --image FILE"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", metavar="PATH", required=True, help="checkpoint written by train --save")
    parser.add_argument("--data", metavar="DIR", type=data_dir, help="directory with the course's two .h5 files "
                        "(default: $TINYGRAPH_DATA, else the embedded synthetic stand-in)")
    parser.add_argument("--image", metavar="FILE", help="classify this picture instead (needs Pillow)")
    parser.add_argument("--mistakes", metavar="PATH", type=output_path,
                        help="save a grid of the misclassified test pictures")


def _error(message: str) -> int:
    print(f"tinygraph predict: error: {message}", file=sys.stderr)
    return 1


def read_image(path: str, image_shape: tuple) -> np.ndarray:
    """The picture at ``path`` as RGB, resized to ``image_shape`` (height, width, 3), uint8."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError('--image needs Pillow: pip install pillow (or, in a tinygraph checkout, '
                          'pip install -e ".[image]")') from None
    height, width = image_shape[:2]
    if os.path.isdir(path):
        raise IsADirectoryError(f"picture {path} is a directory, expected a picture file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"picture {path} does not exist")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((width, height)), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:  # not a picture, a truncated one, an unsupported kind
        raise ValueError(f"picture {path} cannot be read: {error}") from None


def run(args: argparse.Namespace) -> int:
    from models import checkpoint, datasets
    from models.logistic_regression import accuracy, flatten, predict, predict_proba

    try:
        saved = checkpoint.load_checkpoint(args.checkpoint)
    except (OSError, checkpoint.CheckpointError) as error:
        return _error(str(error))
    if saved.version == 1:
        print(f"tinygraph predict: note: checkpoint {args.checkpoint} is of the first format, without checksums; "
              f"train --save writes the current one", file=sys.stderr)
    names = [datasets.class_name(c) for c in saved.classes]

    if args.image:
        try:
            picture = read_image(args.image, saved.image_shape)
        except (ImportError, OSError, ValueError) as error:
            return _error(str(error))
        probability = float(predict_proba(saved.w, saved.b, flatten(picture[None]))[0, 0])
        label = int(probability > 0.5)
        # The course's last cell, word for word, and the probability behind it.
        print(f'y = {float(label)}, your algorithm predicts a "{names[label]}" picture. '
              f"(probability of {names[1]}: {probability:.4f})")
        if not args.data:
            return 0

    try:
        train_x, train_y, test_x, test_y, _ = datasets.load_dataset(args.data)
    except (OSError, datasets.DatasetError) as error:
        return _error(str(error))
    if train_x.shape[1:] != saved.image_shape:
        return _error(f"checkpoint {args.checkpoint} was trained on pictures of shape {saved.image_shape}, "
                      f"the data's are {train_x.shape[1:]}")
    test_prediction = predict(saved.w, saved.b, flatten(test_x))
    print(f"train accuracy: {accuracy(predict(saved.w, saved.b, flatten(train_x)), train_y)} %")
    print(f"test accuracy: {accuracy(test_prediction, test_y)} %")
    if args.mistakes:
        from models import plots

        try:
            plots.misclassified(test_x, test_y, test_prediction, names, args.mistakes)
        except (ImportError, OSError) as error:
            return _error(str(error))
        print(f"saved misclassified test pictures: {args.mistakes}")
    return 0
