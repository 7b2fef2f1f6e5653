from core.config import TrainConfig
from core.runs import RunDir
from core.train import train


def test_flyp_run_learns(colour_data, tmp_path):
    config = TrainConfig(train_dir=str(colour_data["train"]), val_dir=str(colour_data["val"]),
                         ood_dirs=[str(colour_data["ood"])], model="flyp-tiny", pretrained="none",
                         epochs=6, batch_size=12, lr=2e-3, workers=0, templates=["a photo of a {}.", "a {} thing."])
    events = []
    info = train(config, tmp_path / "run", on_event=events.append)
    evals = [e for e in events if e["type"] == "eval"]
    print([e["sets"]["id"]["accuracy"] for e in evals])
    assert info["status"] == "finished"
    assert info["best"]["id_accuracy"] > 0.8
    assert RunDir(tmp_path / "run").read_metrics()
