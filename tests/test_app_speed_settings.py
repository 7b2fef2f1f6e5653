"""The Train page's speed settings (arithmetic, compile, gradient checkpointing) reach the run."""

import json


def test_speed_settings_are_saved_in_the_project_and_reach_the_run_config(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    params = window.pages["train"].params
    params.toggle.setChecked(True)
    params.precision.setCurrentIndex(params.precision.findData("bf16"))
    params.precision.activated.emit(params.precision.currentIndex())
    params.compile.setChecked(True)
    params.checkpointing.setChecked(True)

    config = window.state.train_config()
    assert (config.precision, config.compile, config.grad_checkpointing) == ("bf16", True, True)
    window.state.save_now()
    saved = json.loads((tmp_path / "Mine.flyp.json").read_text())["settings"]
    assert (saved["precision"], saved["compile"], saved["grad_checkpointing"]) == ("bf16", True, True)

    params.load({})  # another project: the defaults come back
    assert params.precision.currentData() == "auto"
    assert not params.compile.isChecked() and not params.checkpointing.isChecked()
    window.close()


def test_the_levers_for_big_models_are_offered_off_by_default_and_reach_the_run(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    params = window.pages["train"].params
    params.toggle.setChecked(True)
    config = window.state.train_config()
    assert (config.patch_dropout, config.frozen_blocks, config.train_size) == (0.0, 0, None)  # full FLYP
    assert params.patch_dropout.text() == "off" and params.train_size.text() == "model's own"

    params.patch_dropout.setValue(50)
    params.frozen_blocks.setValue(2)
    params.train_size.setValue(48)
    config = window.state.train_config()
    assert (config.patch_dropout, config.frozen_blocks, config.train_size) == (0.5, 2, 48)
    window.state.save_now()
    saved = json.loads((tmp_path / "Mine.flyp.json").read_text())["settings"]
    assert (saved["patch_dropout"], saved["frozen_blocks"], saved["train_size"]) == (0.5, 2, 48)

    params.train_size.setValue(8)  # below what training can take: said in the form's words, not saved
    assert not params.error.isHidden() and "Training image size" in params.error.text()
    assert window.state.train_config().train_size == 48

    params.load({})  # another project: full FLYP again
    assert (params.patch_dropout.value(), params.frozen_blocks.value(), params.train_size.value()) == (0, 0, 0)
    window.close()


def test_a_finished_run_that_used_a_lever_says_so_on_the_train_page(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    page = window.pages["train"]
    page._pending_path = str(tmp_path / "runs" / "r")
    page._finished({"best": {"id_accuracy": 0.8, "step": 10}, "zeroshot": {"id": {"accuracy": 0.5}},
                    "levers": {"patch_dropout": 0.5}})
    assert "Trained faster" in page._progress["message"] and "50% of the image patches" in page._progress["message"]
    page._finished({"best": {"id_accuracy": 0.8, "step": 10}, "zeroshot": {"id": {"accuracy": 0.5}}, "levers": {}})
    assert "Trained faster" not in page._progress["message"]
    window.close()
