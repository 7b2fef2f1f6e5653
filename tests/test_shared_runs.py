"""The runs of one automatic search prepare once what they have in common (core/training/shared.py):
the scan of the folders, the evaluation images and the zero-shot evaluation."""

from core.training import loop
from core.training.runs import RunDir
from core.training.shared import Shared
from conftest import tiny_config


def counting(monkeypatch, module, name: str) -> list:
    calls, original = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def zero_shot(run) -> dict:
    return RunDir(run).read_info()["zeroshot"]


def test_the_trials_of_a_search_scan_and_evaluate_the_pretrained_model_once(colour_data, tmp_path, monkeypatch):
    scans, decodes = counting(monkeypatch, loop, "load_run_datasets"), counting(monkeypatch, loop, "EvalImages")
    shared = Shared()
    alone = loop.train(tiny_config(colour_data, epochs=1, lr=1e-3), tmp_path / "alone")
    assert len(scans) == 1 and len(decodes) == 2  # id and ood decoded
    for i, lr in enumerate((1e-4, 1e-3, 1e-2)):
        loop.train(tiny_config(colour_data, epochs=1, lr=lr), tmp_path / f"trial {i}", shared=shared)
    assert len(scans) == 2 and len(decodes) == 4  # once more for the three trials together
    # what the trials reuse is what each would have computed: same zero-shot figures, same training
    assert zero_shot(tmp_path / "trial 1") == zero_shot(tmp_path / "alone")
    assert RunDir(tmp_path / "trial 1").read_info()["best"]["sets"] == alone["best"]["sets"]


def test_a_run_with_other_data_or_captions_prepares_its_own(colour_data, tmp_path):
    shared = Shared()
    loop.train(tiny_config(colour_data, epochs=1), tmp_path / "a", shared=shared)
    loop.train(tiny_config(colour_data, epochs=1, templates=["art of the {}."]), tmp_path / "b", shared=shared)
    loop.train(tiny_config(colour_data, epochs=1, ood_dirs=[]), tmp_path / "c", shared=shared)
    assert zero_shot(tmp_path / "b") != zero_shot(tmp_path / "a")  # other captions, other zero-shot head
    assert set(zero_shot(tmp_path / "c")) == {"id"}


def test_the_methods_the_demo_compares_encode_each_set_with_the_same_weights_once(colour_data, tmp_path,
                                                                                  monkeypatch):
    """`flyp demo` trains several methods from one model on one set of folders: the pretrained model's
    features of each evaluation set serve every method's step-0 evaluation, LP-FT's probe and every
    α = 0 blend; the features of a best checkpoint the training has just evaluated serve its α = 1
    blend; and what each run reports is what it reports alone, where nothing is reused."""
    from core.model.classifier import Classifier
    from core.weights.curve import run_curve

    encoded, features = [], Classifier.features
    monkeypatch.setattr(Classifier, "features", lambda self, *a, **k: encoded.append(1) or features(self, *a, **k))
    methods = ("flyp", "ce", "lp-ft")

    def story(folder, shared=None):
        curves = {}
        for method in methods:
            loop.train(tiny_config(colour_data, epochs=1, method=method), folder / method, shared=shared)
            curves[method] = run_curve(folder / method, sets=shared.eval_sets if shared else None)
        return curves, len(encoded)

    alone, alone_encodings = story(tmp_path / "alone")
    shared = Shared()
    together, encodings = story(tmp_path / "together", shared)
    assert together == alone
    for method in methods:
        assert zero_shot(tmp_path / "together" / method) == zero_shot(tmp_path / "alone" / method)
        assert RunDir(tmp_path / "together" / method).read_info()["best"] == \
            RunDir(tmp_path / "alone" / method).read_info()["best"]
    sets = len(shared.eval_sets)  # id and ood
    # encoded no more: two later step-0 evaluations, three α = 0 and three α = 1 blends (LP-FT's probe
    # reuses its own step 0's features in both stories)
    assert alone_encodings - (encodings - alone_encodings) == (2 + 3 + 3) * sets


def test_a_checkpoint_saved_again_is_encoded_again(colour_data, tmp_path):
    """The kept features name the checkpoint file as it was: weights written since are not the ones
    the features belong to, so the α = 1 blend of a changed checkpoint is evaluated afresh."""
    import torch

    from core.data.loader import FILE_KEY
    from core.weights.blend import evaluate_blend, open_run

    shared = Shared()
    run = tmp_path / "run"
    loop.train(tiny_config(colour_data, epochs=2, lr=1e-3), run, shared=shared)
    kept = [k for images in shared.eval_sets.values() for k in images.known_features if k[0] == FILE_KEY]
    assert len(kept) == len(shared.eval_sets)  # one checkpoint per set: an earlier best's were let go
    blended = open_run(run)
    first = evaluate_blend(blended, shared.eval_sets, 1.0)["id"]
    best = RunDir(run).best_file
    state = dict(blended.finetuned)
    torch.manual_seed(0)
    state["visual.proj"] = state["visual.proj"] + 0.5 * torch.randn_like(state["visual.proj"])  # another tower
    RunDir(run).save_weights("best", state, {"step": 0})
    again = evaluate_blend(open_run(run), shared.eval_sets, 1.0)["id"]
    assert best.is_file() and again.confidences != first.confidences
