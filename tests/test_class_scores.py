"""Per-class precision, recall and F1, as scikit-learn computes them, and a labelled folder scored."""

import pytest
import torch

from core.model.evaluate import compute_metrics
from core.model.scores import class_scores, labelled_folder_scores


def test_per_class_precision_recall_f1_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (200,), generator=g).tolist()
    logits = torch.randn(200, 5, generator=g)  # class 4 has no images but may be predicted
    m = compute_metrics(logits, labels, ["a", "b", "c", "d", "e"])
    scores = m.to_json(full=True)["per_class_scores"]
    p, r, f, n = metrics.precision_recall_fscore_support(labels, logits.argmax(1).tolist(), labels=[0, 1, 2, 3],
                                                         zero_division=0)
    assert list(scores) == ["a", "b", "c", "d"]
    for i, name in enumerate("abcd"):
        assert scores[name]["precision"] == pytest.approx(p[i]) and scores[name]["recall"] == pytest.approx(r[i])
        assert scores[name]["f1"] == pytest.approx(f[i]) and scores[name]["n"] == n[i]
        assert scores[name]["recall"] == pytest.approx(m.per_class[name])


def test_a_class_never_predicted_has_precision_zero_not_an_error():
    assert class_scores([[2, 0], [1, 0]], ["x", "y"])["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n": 1}


def test_predictions_on_a_labelled_folder_are_scored_against_its_folder_names(tmp_path):
    root = tmp_path / "photos"
    predicted = {str(root / "cat" / "1.png"): "cat", str(root / "cat" / "2.png"): "dog",
                 str(root / "dog" / "deep" / "3.png"): "dog", str(root / "misc" / "4.png"): "cat",
                 str(root / "5.png"): "dog"}
    result = labelled_folder_scores(root, predicted, ["cat", "dog"])
    assert result["n"] == 3 and result["uncounted"] == 2  # misc/ is no class; a loose image has no label
    assert result["accuracy"] == pytest.approx(2 / 3) and result["confusion"] == [[1, 1], [0, 1]]
    assert result["per_class"]["cat"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "n": 2}
    assert labelled_folder_scores(root, {str(root / "misc" / "4.png"): "cat"}, ["cat", "dog"]) is None
