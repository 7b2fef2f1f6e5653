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
