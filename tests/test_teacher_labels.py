"""Labels moved toward a teacher's points: training people only, and back through the reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidkeys.faces.crop import box_from_points
from vidkeys.keypoints.network import KeypointNet, ModelConfig, save_model
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import (
    cached_haar_boxes,
    load_images,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.evaluate import place_points
from vidkeys.training.teacher_labels import teacher_labels, write_keypoints_csv


def test_training_people_move_toward_the_teacher_held_out_people_keep_their_labels(
    tiny_dataset: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    torch.manual_seed(0)
    model = KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16)).eval()
    teacher = tmp_path / "teacher.pt"
    save_model(model, teacher)

    samples, train = teacher_labels(csv_path, images_dir, [teacher], weight=0.25)

    original = read_keypoints_csv(csv_path)
    train_idx, val_idx = split_people(original)
    assert list(train) == train_idx and val_idx
    images = load_images(original, images_dir)
    found = cached_haar_boxes(csv_path, images, original)
    boxes = [
        b if b is not None else box_from_points(o.points)
        for b, o in zip(found, original, strict=True)
    ]
    placed = place_points(KeypointPredictor(teacher, "cpu"), images, boxes)[0]
    for i in train_idx:  # a quarter of the way from the label to the teacher's point
        np.testing.assert_allclose(
            samples[i].points, 0.75 * original[i].points + 0.25 * placed[i], atol=1e-6
        )
        assert np.abs(samples[i].points - original[i].points).max() > 0.1
    for i in val_idx:
        np.testing.assert_array_equal(samples[i].points, original[i].points)

    out = tmp_path / "moved.csv"
    write_keypoints_csv(out, samples, ["", *map(str, range(136))])
    back = read_keypoints_csv(out)
    assert [s.name for s in back] == [s.name for s in samples]
    np.testing.assert_allclose([s.points for s in back], [s.points for s in samples], atol=5e-4)


def test_several_teachers_give_the_mean_of_their_points(
    tiny_dataset: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    csv_path, images_dir, _ = tiny_dataset
    teachers = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = KeypointNet(ModelConfig(crop_size=32, widths=(8, 16, 16, 32), decoder=16))
        with torch.no_grad():  # peaked heatmaps: untrained points that differ by seed
            model.head.weight.mul_(1e4)
        teachers.append(tmp_path / f"teacher{seed}.pt")
        save_model(model.eval(), teachers[-1])

    both = teacher_labels(csv_path, images_dir, teachers, weight=1.0)[0]
    first, second = (teacher_labels(csv_path, images_dir, [t], weight=1.0)[0] for t in teachers)

    train_idx, _ = split_people(read_keypoints_csv(csv_path))
    for i in train_idx:
        assert np.abs(first[i].points - second[i].points).max() > 1  # they disagree
        np.testing.assert_allclose(
            both[i].points, (first[i].points + second[i].points) / 2, atol=1e-6
        )
