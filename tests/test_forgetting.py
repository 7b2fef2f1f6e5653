"""What finetuning forgot: a control set's zero-shot accuracy along α (core.trust.forgetting, `flyp forgetting`)."""

from __future__ import annotations

import json
import random
import shutil

import pytest

from cli_helpers import assert_one_line_error, run_cli
from conftest import make_image

OTHER = {"yellow": (230, 210, 40), "purple": (130, 40, 170), "cyan": (40, 200, 210)}  # never trained


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    root = tmp_path_factory.mktemp("control")
    rng = random.Random(11)
    for name, colour in OTHER.items():
        (root / name).mkdir()
        for i in range(6):
            make_image(colour, rng).save(root / name / f"{i}.png")
    return root


def peer_accuracy(blended, control, alpha):
    """The control set's zero-shot accuracy at α, evaluated the usual way: a Classifier over the
    control classes on the model at θ(α)."""
    from core.data.folders import scan_folder
    from core.data.loader import EvalImages
    from core.model.classifier import Classifier

    blended.set_alpha(alpha)
    loaded = blended.classifier.loaded
    scan = scan_folder(control)
    classifier = Classifier(loaded, scan.classes, blended.info["templates"])
    return classifier.evaluate(EvalImages(scan.samples, loaded.image_size, loaded.preprocess["interpolation"])).accuracy


def test_control_accuracy_along_alpha_is_the_zero_shot_accuracy_of_each_blend(flyp_run, control):
    from core.trust.forgetting import balance_keeping, control_curve, forgotten
    from core.weights.blend import open_run
    from core.weights.curve import balanced_alpha, run_curve

    blended = open_run(flyp_run)
    result = control_curve(blended, control)
    assert result["classes"] == sorted(OTHER) and result["n"] == 18 and len(result["curve"]) == 11
    for point in (result["curve"][0], result["curve"][5], result["curve"][-1]):
        assert point["accuracy"] == pytest.approx(peer_accuracy(blended, control, point["alpha"]))
    assert result["zero_shot"] == result["curve"][0]["accuracy"]
    assert forgotten(result, 1.0) == pytest.approx(100 * (result["zero_shot"] - result["curve"][-1]["accuracy"]))

    curve = run_curve(flyp_run, blended=blended)
    assert balance_keeping(curve, result, 100) == balanced_alpha(curve)  # no limit: best balance itself
    kept = balance_keeping(curve, result, 0)
    assert forgotten(result, kept["alpha"]) <= 1e-9  # nothing forgotten at the α chosen


def test_flyp_forgetting_prints_the_curve_and_says_a_bad_control_folder_in_one_line(flyp_run, control, capsys,
                                                                                   tmp_path):
    from core.trust.forgetting import control_curve
    from core.weights.blend import open_run

    code, out, err = run_cli(capsys, "forgetting", flyp_run, "--control", control, "--keep-within", 5, "--json")
    assert code == 0, err
    result = json.loads(out)
    expected = control_curve(open_run(flyp_run), control)
    assert [r["control_accuracy"] for r in result["curve"]] == pytest.approx([p["accuracy"] for p in expected["curve"]])
    assert result["balance_keeping"]["points"] == 5
    chosen = next(r for r in result["curve"] if r["alpha"] == result["balance_keeping"]["alpha"])
    assert chosen["forgotten_points"] <= 5

    one = tmp_path / "one class"
    shutil.copytree(control / "cyan", one / "cyan")
    code, out, err = run_cli(capsys, "forgetting", flyp_run, "--control", one)
    assert_one_line_error(code, err, str(one), "two class folders")
