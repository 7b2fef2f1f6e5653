"""The label check's list in the user's words: a guess is not shown as a ranking, pairs across the
two evaluation folders are named so, and pairs show where their images are (issue #31 item 9)."""

from __future__ import annotations


def report(tmp_path, agreement: float):
    from core.checks.report import CheckReport, Duplicate, Suspicious

    root = tmp_path / "Digits"
    suspicious = [Suspicious(str(root / "train" / "one" / "7.png"), "one", "seven", 0.9999)]
    pairs = [Duplicate(str(root / "val" / "two" / "2072.png"), str(root / "ood" / "two" / "2072.png"), 0.99,
                       "between-evaluation"),
             Duplicate(str(root / "train" / "two" / "5.png"), str(root / "val" / "two" / "5.png"), 0.99, "leak")]
    return CheckReport(suspicious, pairs, [], "demo", 30, agreement=agreement, classes=10)


def rows(review) -> dict[str, list]:
    tree = review.tree
    return {tree.topLevelItem(g).text(0): [[tree.topLevelItem(g).child(r).text(c) for c in range(4)]
                                           for r in range(tree.topLevelItem(g).childCount())]
            for g in range(tree.topLevelItemCount())}


def test_a_model_that_barely_knows_the_classes_shows_a_guess_without_scores(qtbot, tmp_path):
    from core.project import Project, save_project
    from flyp_app.state import AppState
    from flyp_app.widgets.review_list import ReviewList

    (tmp_path / "Digits").mkdir()
    project = Project(name="Digits")
    save_project(project, tmp_path / "Digits" / "Digits.flyp.json")
    review = ReviewList(AppState(project))
    qtbot.addWidget(review)

    review.show_report(report(tmp_path, agreement=0.12))
    groups = rows(review)
    title = next(t for t in groups if t.startswith("Suspicious labels"))
    assert "a guess, not a ranking" in title and groups[title][0][3] == "–"  # never 1.00 for a guess
    pairs = groups[next(t for t in groups if t.startswith("Near-duplicates"))]
    assert pairs[0][0] == "val/two/2072.png  ≈  ood/two/2072.png"  # not "2072.png ≈ 2072.png"
    assert pairs[0][1] == "validation and different conditions" and pairs[1][1] == "training and evaluation"

    review.show_report(report(tmp_path, agreement=0.9))
    groups = rows(review)
    title = next(t for t in groups if t.startswith("Suspicious labels"))
    assert "guess" not in title and groups[title][0][3] == "> 0.99"  # 0.9999: not 1.00
