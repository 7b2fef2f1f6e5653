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


def test_custom_settings_start_from_the_chosen_models_row_of_the_families_table(qtbot, tmp_path):
    from core.training.defaults import default_settings
    from flyp_app.widgets.train_settings import CUSTOM
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    params = window.pages["train"].params
    for model in ("demo", "ViT-B-32"):
        window.state.set_settings(model=model)
        params.preset.setCurrentText(CUSTOM)
        params.preset.activated.emit(params.preset.currentIndex())
        row = default_settings(model)
        shown = (params.epochs.value(), params.batch.value(), float(params.lr.text()))
        assert shown == (row["epochs"], row["batch_size"], row["lr"]), model  # not TrainConfig's 10, 32, 1e-5
        config = window.state.train_config()
        assert (config.epochs, config.batch_size, config.lr) == shown  # what is shown is what trains
    window.close()
