"""Weight ensembling ends, and exported bundles that plain open_clip loads."""

import json
import logging
import subprocess
import sys

import open_clip
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from core.weights.blend import alpha_curve, open_run, parse_alphas, run_eval_sets
from core.export.bundle import load_bundle
from core.export.write import export_bundle
from core.training.runs import RunDir


def test_alpha_ends_reproduce_zero_shot_and_finetuned_exactly(flyp_run, tiny_model):
    blended = open_run(flyp_run)
    blended.set_alpha(0.0)
    for key, value in tiny_model.model.state_dict().items():
        assert torch.equal(blended.classifier.model.state_dict()[key], value), key
    blended.set_alpha(1.0)
    best = load_file(str(RunDir(flyp_run).best_file))
    for key, value in best.items():
        assert torch.equal(blended.classifier.model.state_dict()[key], value), key
    blended.set_alpha(0.5)
    mid = blended.classifier.model.state_dict()["visual.conv1.weight"]
    torch.testing.assert_close(mid, (tiny_model.model.state_dict()["visual.conv1.weight"] + best["visual.conv1.weight"]) / 2)


def test_alpha_curve_matches_the_logged_scores_at_its_ends(flyp_run):
    blended = open_run(flyp_run)
    info = blended.info
    sets = run_eval_sets(info)
    curve = alpha_curve(blended, sets, parse_alphas("0:1:0.5"))
    assert [p["alpha"] for p in curve] == [0.0, 0.5, 1.0]
    assert curve[0]["sets"]["id"]["accuracy"] == info["zeroshot"]["id"]["accuracy"]
    assert curve[-1]["sets"]["id"]["accuracy"] == info["best"]["id_accuracy"]


def test_bundle_loads_in_plain_open_clip_and_agrees_with_flyp_predict(flyp_run, colour_data, tmp_path, caplog):
    blended = open_run(flyp_run)
    blended.set_alpha(0.7)
    with caplog.at_level(logging.WARNING):
        report = export_bundle(blended, tmp_path / "bundle")
    assert report["same_predictions"] and report["verified_images"] > 0
    assert "initialized randomly" not in caplog.text  # the self-check loads the weights; no false alarm
    images = sorted((colour_data["val"] / "red").glob("*.png"))[:3] + sorted((colour_data["val"] / "blue").glob("*.png"))[:3]

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tmp_path / 'bundle'}")
    model.eval()
    head = load_file(str(tmp_path / "bundle" / "class_head.safetensors"))
    with torch.no_grad():
        from PIL import Image
        features = F.normalize(model.encode_image(torch.stack([preprocess(Image.open(p)) for p in images])), dim=-1)
    names = json.loads((tmp_path / "bundle" / "flyp.json").read_text())["class_names"]
    plain = [names[i] for i in (features @ head["weight"].T).argmax(-1)]

    out = subprocess.run([sys.executable, "-m", "core.cli", "predict", str(tmp_path / "bundle"), *map(str, images),
                          "--json", "--top-k", "2"], capture_output=True, text=True, check=True)
    predicted = [r["top_k"][0]["class"] for r in json.loads(out.stdout)["predictions"]]
    assert predicted == plain
    assert [top[0][0] for top in load_bundle(tmp_path / "bundle").predict(images, 1)] == plain


def test_onnx_export_agrees_with_the_model(flyp_run, tmp_path):
    blended = open_run(flyp_run)
    report = export_bundle(blended, tmp_path / "bundle", onnx=True)
    assert report["onnx_max_probability_difference"] < 1e-4
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(tmp_path / "bundle" / "model.onnx")).metadata_props}
    assert json.loads(metadata["class_names"]) == blended.classifier.class_names
    assert int(metadata["input_size"]) == blended.classifier.loaded.image_size
    assert json.loads(metadata["mean"]) == list(blended.classifier.loaded.preprocess["mean"])
    assert json.loads(metadata["std"]) == list(blended.classifier.loaded.preprocess["std"])
    assert metadata["calibrated"] == "false" and float(metadata["temperature"]) == 1.0  # no calibration given
    assert report["onnx_max_calibrated_difference"] < 1e-4  # its `probabilities`: the raw softmax then
