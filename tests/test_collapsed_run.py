"""A collapsed run (its best checkpoint below zero-shot) is called so, never starred or offered first."""

import json
import shutil

from core.training.advice import collapsed


def _collapsed_copy(flyp_run, folder):
    """The shared run with its kept checkpoint's validation accuracy put below zero-shot, as lr 1 leaves it."""
    shutil.copytree(flyp_run, folder)
    info = json.loads((folder / "run.json").read_text())
    info["zeroshot"]["id"]["accuracy"] = 0.40
    info["best"]["id_accuracy"] = info["best"]["sets"]["id"]["accuracy"] = 0.10
    (folder / "run.json").write_text(json.dumps(info))
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    for r in records:
        if r.get("type") == "eval":
            r["sets"]["id"]["accuracy"] = 0.40 if r["step"] == 0 else 0.10
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder, info


def test_a_run_below_zero_shot_is_called_collapsed_and_a_better_one_is_not(flyp_run, tmp_path):
    _, info = _collapsed_copy(flyp_run, tmp_path / "bad")
    words = collapsed(info)
    assert words and "collapsed" in words and "10.0%" in words and "40.0%" in words and "blend it" not in words
    assert collapsed(json.loads((flyp_run / "run.json").read_text())) is None


def test_a_collapsed_run_gets_no_star_and_the_blend_page_does_not_open_on_it(qtbot, project_window, flyp_run,
                                                                              tmp_path):
    from flyp_app.curves import Curves

    bad, _ = _collapsed_copy(flyp_run, tmp_path / "2026-12-07 0600 flyp")
    records = [json.loads(line) for line in (bad / "metrics.jsonl").read_text().splitlines()]
    assert Curves.from_records(records).best is not None and Curves.from_records(records).starred is None
    good = [json.loads(line) for line in (flyp_run / "metrics.jsonl").read_text().splitlines()]
    assert Curves.from_records(good).starred == Curves.from_records(good).best

    state = project_window.state
    state.project.runs = [str(flyp_run), str(bad)]  # the collapsed run is the newest
    state.project.current_run = None
    project_window.show_page("blend")
    picker = project_window.pages["blend"].picker
    picker.refresh()
    assert picker.current().path == str(flyp_run)
    texts = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert texts[1].endswith("below zero-shot") and "below zero-shot" not in texts[0]
