"""Every method of the paper on the user's data: baselines, ablations, soups and the compare view."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from conftest import TINY, tiny_config
from core.model.classifier import HEAD_KEYS
from core.cli import main
from core.training.config import TrainConfig
from core.errors import FlypError
from core.training.runs import RunDir
from core.training.loop import train

SETTINGS = {  # two short epochs each (ce-both, the least stable, gets three at a lower rate)
    "lp": {"method": "lp"},
    "lp-ft": {"method": "lp-ft"},
    "l2sp": {"method": "l2sp"},
    "l2sp-huge": {"method": "l2sp", "l2sp_lambda": 1e6},
    "frozen-text": {"method": "flyp-frozen-text"},
    "ce-both": {"method": "ce-both", "lr": 5e-4, "epochs": 3},
}


@pytest.fixture(scope="module")
def runs(colour_data, tmp_path_factory):
    """name → run folder, each trained on first use and shared by the module's tests."""
    root, made = tmp_path_factory.mktemp("method-runs"), {}

    def get(name: str):
        if name not in made:
            train(tiny_config(colour_data, **({"epochs": 2} | SETTINGS[name])), root / name)
            made[name] = root / name
        return made[name]
    return get


@pytest.fixture(scope="module")
def pretrained():
    from core.model.loading import ModelSpec, load_model

    return {k: v.clone() for k, v in load_model(ModelSpec(TINY, "none")).model.state_dict().items()}


def evals(run_dir):
    return [r for r in RunDir(run_dir).read_metrics() if r["type"] == "eval"]


def learned(run_dir, by: float = 0.2) -> bool:
    """The best ID accuracy beats the zero-shot one (step 0) by `by`."""
    info = RunDir(run_dir).read_info()
    return info["best"]["id_accuracy"] >= info["zeroshot"]["id"]["accuracy"] + by


def weights(run_dir, which="last"):
    return load_file(str(RunDir(run_dir).best_file if which == "best" else RunDir(run_dir).last_file))


def text_keys(state):
    from core.training.methods import TEXT_TOWER

    return [k for k in state if k.split(".", 1)[0] in TEXT_TOWER]


# Methods -------------------------------------------------------------------------------------------
def test_linear_probe_is_a_complete_run_whose_head_blends_from_zero_shot(runs, pretrained):
    from core.weights.blend import open_run, run_eval_sets
    from core.training.linear_probe import L2_SWEEP

    run = RunDir(runs("lp"))
    info, records = run.read_info(), run.read_metrics()
    assert info["status"] == "finished" and learned(run.path, 0.4)
    assert [r["step"] for r in evals(run.path)] == [0, 1] and evals(run.path)[-1]["best"]
    assert len([r for r in records if r["type"] == "lp"]) == len(L2_SWEEP) and info["lp"]["l2"] in L2_SWEEP
    state = weights(run.path, "best")
    assert state[HEAD_KEYS[0]].shape == (3, 64)
    assert all(torch.equal(state[k], v) for k, v in pretrained.items())  # the encoders stay frozen
    blended = open_run(run.path)
    sets = run_eval_sets(blended.info)
    blended.set_alpha(0.0)  # WiSE-FT of a linear classifier: the zero-shot head at α = 0
    assert blended.classifier.evaluate(sets["id"]).accuracy == info["zeroshot"]["id"]["accuracy"]
    blended.set_alpha(1.0)
    assert blended.classifier.evaluate(sets["id"]).accuracy == info["best"]["id_accuracy"]


def test_lp_ft_starts_from_the_probe_and_finetunes_the_image_encoder(runs, pretrained, colour_data, tmp_path):
    from core.progress import RunControl
    from core.training.loop import _Trainer, prepare

    run = runs("lp-ft")
    assert learned(run)
    probe = lambda r: [(x["l2"], x["loss"]) for x in RunDir(r).read_metrics() if x["type"] == "lp"]  # noqa: E731
    assert probe(run) == probe(runs("lp"))
    session = prepare(tiny_config(colour_data, method="lp-ft"), tmp_path / "start", lambda e: None, RunControl())
    session.run.path.mkdir()
    begun = {k: v for k, v in RunDir(run).read_info().items() if k in ("config", "classes", "class_names", "templates",
                                                                       "model")}  # a valid run.json, as a new run writes
    session.run.write_info({"status": "running", **begun})
    start = _Trainer(session).clf.linear_head  # a new LP-FT run's head, before its first step
    lp_head = weights(runs("lp"), "best")
    torch.testing.assert_close(start.weight.detach(), lp_head[HEAD_KEYS[0]])
    torch.testing.assert_close(start.bias.detach(), lp_head[HEAD_KEYS[1]])
    state = weights(run)
    assert not torch.equal(state["visual.conv1.weight"], pretrained["visual.conv1.weight"])
    assert all(torch.equal(state[k], pretrained[k]) for k in text_keys(pretrained))


def test_l2sp_learns_and_a_huge_lambda_keeps_the_pretrained_image_encoder(runs, pretrained):
    def distance(run):
        state = weights(run)
        return sum(float((state[k] - v).pow(2).sum()) for k, v in pretrained.items() if k.startswith("visual.")) ** 0.5
    assert learned(runs("l2sp"))
    assert RunDir(runs("l2sp-huge")).read_info()["config"]["l2sp_lambda"] == 1e6
    assert distance(runs("l2sp-huge")) < 0.2 * distance(runs("l2sp"))


def test_flyp_with_a_frozen_text_encoder_leaves_it_bit_identical(runs, pretrained):
    run = runs("frozen-text")
    assert learned(run)
    state = weights(run)
    assert len(text_keys(pretrained)) >= 5
    assert all(torch.equal(state[k], pretrained[k]) for k in text_keys(pretrained))
    for key in ("visual.conv1.weight", "logit_scale"):
        assert not torch.equal(state[key], pretrained[key]), key


def test_ce_over_class_captions_trains_both_encoders(runs, pretrained):
    run = runs("ce-both")
    assert learned(run)
    state = weights(run)
    assert HEAD_KEYS[0] not in state  # classified with captions, like FLYP
    for key in ("visual.conv1.weight", "token_embedding.weight", "logit_scale"):
        assert not torch.equal(state[key], pretrained[key]), key


@pytest.mark.parametrize("frozen_text", [False, True])
def test_micro_batches_give_the_full_batch_gradients_for_the_new_losses(frozen_text):
    from core.training.accumulate import flyp_backward
    from core.training.methods import ce_both_backward, text_tower_parameters
    from core.model.loading import ModelSpec, load_model
    from gradients import encoder, gradients_of, tiny_batch

    loaded = load_model(ModelSpec(TINY, "none"))
    model = loaded.model.train()
    images, labels, tokens = tiny_batch(loaded)
    encode = encoder(model)
    if frozen_text:
        for p in text_tower_parameters(model):
            p.requires_grad_(False)

    def grads(micro):
        model.zero_grad(set_to_none=True)
        if frozen_text:
            flyp_backward(encode, model.logit_scale.exp(), images, tokens, labels, micro_batch=micro)
        else:
            ce_both_backward(lambda x: encode(x, tokens[:len(x)])[0], lambda t: encode(images[:1], t)[1],
                             model.logit_scale.exp, images, labels, tokens[:3], micro_batch=micro)
        return gradients_of(model)
    full, parts = grads(None), grads(5)
    assert parts.keys() == full.keys()
    for name, grad in full.items():  # sums in another order: rounding (1e-6 on gradients of ~1)
        torch.testing.assert_close(parts[name], grad, rtol=1e-4, atol=1e-5, msg=name)
    assert ("token_embedding.weight" in full) != frozen_text and full["logit_scale"].abs() > 0


def test_methods_refuse_what_they_cannot_do(colour_data, capsys):
    from core.training.methods import check_supported

    with pytest.raises(FlypError, match="mask-same-class"):
        TrainConfig(train_dir=".", method="lp", mask_same_class=True)
    with pytest.raises(FlypError, match="torchrun"):
        check_supported(TrainConfig(train_dir=".", method="lp-ft"), processes=2)
    assert main(["train", "--train", str(colour_data["train"]), "--method", "l2sp", "--l2sp-lambda", "-1",
                 "--out", "x"]) == 2
    assert "--l2sp-lambda" in capsys.readouterr().err


# Soups ---------------------------------------------------------------------------------------------
def test_a_soup_of_one_run_is_that_run_and_blends_like_a_run(runs, tmp_path):
    from core.weights.blend import open_run
    from core.weights.soups import make_soup

    info = make_soup([runs("lp")], tmp_path / "soup")
    assert info["config"]["method"] == "soup" and info["soup"]["ingredients"] == [str(runs("lp"))]
    soup, original = weights(tmp_path / "soup", "best"), weights(runs("lp"), "best")
    assert soup.keys() == original.keys() and all(torch.equal(soup[k], original[k]) for k in soup)
    assert info["best"]["id_accuracy"] == RunDir(runs("lp")).read_info()["best"]["id_accuracy"]
    assert [r["step"] for r in evals(tmp_path / "soup")] == [0, 1]
    open_run(tmp_path / "soup").set_alpha(0.5)


def test_uniform_and_greedy_soups_from_the_command_line(runs, tmp_path, capsys):
    a, b = runs("l2sp"), runs("lp-ft")
    assert main(["soup", "--runs", str(a), str(b), "--out", str(tmp_path / "uniform"), "--json"]) == 0
    uniform = json.loads(capsys.readouterr().out)
    assert uniform["soup"]["kind"] == "uniform" and len(uniform["soup"]["ingredients"]) == 2
    key = "visual.conv1.weight"
    torch.testing.assert_close(weights(tmp_path / "uniform", "best")[key],
                               (weights(a, "best")[key] + weights(b, "best")[key]) / 2)
    assert main(["soup", "--runs", str(runs("l2sp-huge")), str(a), "--greedy", "--out", str(tmp_path / "greedy"),
                 "--json"]) == 0
    greedy = json.loads(capsys.readouterr().out)["soup"]
    assert greedy["ingredients"][0] == str(a)  # the better run first; the collapsed one only if it does not hurt
    assert greedy["run_scores"][str(a)]["id"]["accuracy"] > greedy["run_scores"][str(runs("l2sp-huge"))]["id"]["accuracy"]


def test_soups_refuse_runs_of_other_models_classes_or_heads(runs, tmp_path, capsys):
    from core.weights.soups import make_soup

    other = shutil.copytree(runs("lp"), tmp_path / "other")
    info = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps(info | {"classes": ["a", "b", "c"]}))
    with pytest.raises(FlypError, match="classes differ"):
        make_soup([runs("lp"), other], tmp_path / "s1")
    spec = info["model"] | {"spec": {"name": "ViT-B-32", "pretrained": "openai"}}
    (other / "run.json").write_text(json.dumps(info | {"model": spec}))
    with pytest.raises(FlypError, match="another model"):
        make_soup([runs("lp"), other], tmp_path / "s2")
    assert main(["soup", "--runs", str(runs("lp")), str(runs("frozen-text")), "--out", str(tmp_path / "s3")]) == 2
    assert "linear head" in capsys.readouterr().err
    assert not (tmp_path / "s3").exists()


# Compare -------------------------------------------------------------------------------------------
COMPARED = ("lp", "l2sp", "frozen-text")  # with a head and without; a curve each costs 22 evaluations


def test_compare_lists_every_run_with_its_curve(runs, capsys):
    paths = [runs(name) for name in COMPARED]
    assert main(["compare", *map(str, paths), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in rows] == list(map(str, paths))
    assert [r["method"] for r in rows] == ["lp", "l2sp", "flyp-frozen-text"]
    for row in rows:
        assert not row["error"] and len(row["curve"]) == 11 and row["seconds"] > 0
        assert row["curve"][0]["id"] == pytest.approx(row["zero_shot"]["id"])
        best = max(p["id"] for p in row["curve"])
        assert row["blended"]["id"] == best and row["best_alpha"] is not None
        assert (paths[0] / "blend_curve.json").is_file()  # cached for the Blend and Compare pages
    assert "λ 0.01" in rows[1]["settings_text"] and "probe L2" in rows[0]["settings_text"]
    assert main(["compare", str(paths[0].parent), "--cached-only"]) == 0  # a folder of runs stands for them all
    assert "zero-shot: ID" in capsys.readouterr().out


def test_compare_page_shows_every_run_in_the_table_and_the_plot(qtbot, runs, tmp_path):
    from PySide6.QtCore import Qt

    from flyp_app.window import MainWindow

    paths = [str(runs(name)) for name in COMPARED]
    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    for path in paths:
        window.state.add_run(path)
    window.resize(1280, 800)
    window.show()
    page = window.pages["compare"]
    assert page.title == "Compare"
    window.show_page("compare")
    qtbot.waitUntil(lambda: page._worker is None and all(page.rows), timeout=60000)
    assert page.table.rowCount() == len(paths)
    assert [page.table.item(r, 1).text() for r in range(len(paths))] == ["lp", "l2sp", "flyp-frozen-text"]
    assert set(page.plot.curves) == set(paths) and set(page.plot.best_points) == set(paths)
    assert len(page.plot.zero_shot.data) == 1
    for r in (0, 1):
        page.table.item(r, 0).setCheckState(Qt.Checked)
    assert page.soup_button.isEnabled()
    page.make_soup()
    qtbot.waitUntil(lambda: len(window.state.project.runs) == len(paths) + 1, timeout=60000)
    assert any("soup" in run for run in window.state.project.runs)
    assert "soup" not in window.state.project.current_run  # it joins the runs; the user chooses to use it
    qtbot.waitUntil(lambda: page._worker is None and page._soup_worker is None and page.table.rowCount() == len(paths) + 1
                    and all(page.rows), timeout=60000)
    assert len(page.plot.curves) == len(paths) + 1
    window.close()
